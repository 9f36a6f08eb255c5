/** What `/upgrade …` asks for, from the text after the trigger. Refusals say what to type. */
import { isStrictVersion, looseVersion } from '../common/version.js';

export type ChatCommand =
  | { kind: 'help' }
  | { kind: 'status' }
  | { kind: 'cancel' }
  | { kind: 'upgrade'; version: string; at?: string }
  | { kind: 'rollback'; withDb: boolean }
  | { kind: 'backup' }
  | { kind: 'reindex' }
  | { kind: 'build'; version: string }
  | { kind: 'rehearse'; version: string }
  | { kind: 'refuse'; reason: 'badVersion'; input: string; suggestion?: string }
  | { kind: 'refuse'; reason: 'latest' }
  | { kind: 'refuse'; reason: 'badAt'; version: string; at: string; problem: 'format' | 'invalid-date' | 'past' }
  | { kind: 'refuse'; reason: 'notYet'; what: string }
  | { kind: 'refuse'; reason: 'buildVersion' | 'rehearseVersion'; input?: string; suggestion?: string }
  | { kind: 'refuse'; reason: 'extra'; text: string };

export function parseCommand(text: string): ChatCommand {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  const [first, ...rest] = words;
  if (first === undefined) return { kind: 'help' };
  const word = first.toLowerCase();
  const none = (c: ChatCommand): ChatCommand => (rest.length === 0 ? c : { kind: 'refuse', reason: 'extra', text: text.trim() });
  switch (word) {
    case 'help':
      return { kind: 'help' };
    case 'status':
      return none({ kind: 'status' });
    case 'cancel':
      return none({ kind: 'cancel' });
    case 'backup':
      return none({ kind: 'backup' });
    case 'reindex':
      return none({ kind: 'reindex' });
    case 'rollback':
      if (rest.length === 1 && rest[0] === '--with-db') return { kind: 'rollback', withDb: true };
      return none({ kind: 'rollback', withDb: false });
    case 'build':
    case 'rehearse': {
      const reason = word === 'build' ? 'buildVersion' : 'rehearseVersion';
      const [v, ...more] = rest;
      if (v === undefined || more.length > 0) return { kind: 'refuse', reason };
      if (!isStrictVersion(v)) {
        const loose = /^(latest|stable)$/i.test(v) ? undefined : looseVersion(v);
        return { kind: 'refuse', reason, input: v, ...(loose ? { suggestion: loose } : {}) };
      }
      return { kind: word, version: v };
    }
    case 'restore':
      return { kind: 'refuse', reason: 'notYet', what: `/upgrade ${word}` };
    case 'latest':
    case 'stable':
      return { kind: 'refuse', reason: 'latest' };
  }
  if (!/^v?\d/.test(first)) return { kind: 'help' };
  if (!isStrictVersion(first)) {
    const loose = looseVersion(first);
    return { kind: 'refuse', reason: 'badVersion', input: first, ...(loose && loose !== first ? { suggestion: loose } : {}) };
  }
  if (rest.length === 0 || (rest.length === 1 && rest[0]!.toLowerCase() === 'now')) return { kind: 'upgrade', version: first };
  // The time is read (and refused with what to type) where the clock and TZ are known.
  if (rest[0]!.toLowerCase() === 'at') return { kind: 'upgrade', version: first, at: rest.slice(1).join(' ') };
  return { kind: 'refuse', reason: 'extra', text: text.trim() };
}
