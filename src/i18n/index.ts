/** The chat catalogue for a locale, chosen once at start. */
import type { Locale } from '../config/index.js';
import type { JobKind } from '../core/events.js';
import { formatBytes, formatDuration } from '../config/parse.js';
import { en, type Messages } from './en.js';
import { fr } from './fr.js';

export type { Messages, Params } from './en.js';

export function messagesFor(locale: Locale): Messages {
  return locale === 'fr' ? fr : en;
}

/** A clock time for people, in the configured zone: `14:02`. */
export function clockTime(m: Messages, at: Date | number, timeZone: string): string {
  return new Intl.DateTimeFormat(m.dateLocale, { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
}

/** A date and time for people: `25/11/2026 03:01`. */
export function dateTime(m: Messages, at: Date | number, timeZone: string): string {
  return new Intl.DateTimeFormat(m.dateLocale, { timeZone, dateStyle: 'short', timeStyle: 'short', hourCycle: 'h23' }).format(at);
}

/** `chat:alice` → `@alice`; `cli:ana` → `ana (command line on the host)`; `schedule:nightly` → `the schedule "nightly"`. */
export function ownerName(m: Messages, owner: string): string {
  const [via, ...rest] = owner.split(':');
  const name = rest.join(':');
  if (via === 'chat') return `@${name}`;
  if (via === 'cli') return m.owner.cli(name);
  if (via === 'schedule') return m.owner.schedule(name);
  return owner;
}

/** A job's title in the catalogue's words, from its kind and its English title (`upgrade 1.0.0 → 1.1.0`). */
export function jobName(m: Messages, kind: string, title: string): string {
  const noun = m.kind[kind as JobKind] ?? kind;
  const move = /(\d+\.\d+\.\d+)\s*→\s*(\d+\.\d+\.\d+)/.exec(title);
  if (move) return `${noun} ${move[1]} → ${move[2]}`;
  const file = /\S+\.dump\b/.exec(title);
  return file ? `${noun} \`${file[0].split('/').at(-1)}\`` : noun;
}

/** A duration as people of the locale write it: `2m30s`, `1h`; in French days are `j` and decimals take a comma. */
export function duration(m: Messages, ms: number): string {
  const text = formatDuration(ms);
  return m.locale === 'fr' ? text.replace(/d/g, 'j').replace(/(\d)\.(\d)/g, '$1,$2') : text;
}

/** A size in decimal units: `12.3 MB`; in French `12,3 Mo`. */
export function bytes(m: Messages, n: number): string {
  const text = formatBytes(n);
  if (m.locale !== 'fr') return text;
  return text.replace(/(\d)\.(\d)/g, '$1,$2').replace(/\b([kMGT]?)B\b/, (_all, p: string) => `${p === 'k' ? 'k' : p}o`);
}
