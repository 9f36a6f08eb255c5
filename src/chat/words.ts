/** Small phrases chat builds from engine data: who started a job, which job holds the lock. */
import type { JobKind } from '../core/events.js';
import { clockTime, ownerName, type Messages } from '../i18n/index.js';
import type { HeldLock } from '../state/job-lock.js';

/** A job's title in the catalogue's words, from its kind and its English title (`upgrade 1.0.0 → 1.1.0`). */
export function jobName(m: Messages, kind: string, title: string): string {
  const noun = m.kind[kind as JobKind] ?? kind;
  const move = /(\d+\.\d+\.\d+)\s*→\s*(\d+\.\d+\.\d+)/.exec(title);
  if (move) return `${noun} ${move[1]} → ${move[2]}`;
  const file = /\S+\.dump\b/.exec(title);
  return file ? `${noun} \`${file[0].split('/').at(-1)}\`` : noun;
}

/** "Another job is running: …, started by …, at step …". */
export function lockHeldText(m: Messages, holder: Pick<HeldLock, 'kind' | 'title' | 'owner' | 'step' | 'startedAt'>, timeZone: string): string {
  const step = holder.step ? (m.steps[holder.step] ?? holder.step) : m.starting;
  const since = holder.startedAt ? clockTime(m, Date.parse(holder.startedAt), timeZone) : '?';
  return m.refuse.jobRunning(jobName(m, holder.kind, holder.title), ownerName(m, holder.owner), step, since);
}
