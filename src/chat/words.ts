/** Small phrases chat builds from engine data: who started a job, which job holds the lock. */
import { clockTime, jobName, ownerName, type Messages } from '../i18n/index.js';
import type { HeldLock } from '../state/job-lock.js';

/** "Another job is running: …, started by …, at step …". */
export function lockHeldText(m: Messages, holder: Pick<HeldLock, 'kind' | 'title' | 'owner' | 'step' | 'startedAt'>, timeZone: string): string {
  const step = holder.step ? (m.steps[holder.step] ?? holder.step) : m.starting;
  const since = holder.startedAt ? clockTime(m, Date.parse(holder.startedAt), timeZone) : '?';
  return m.refuse.jobRunning(jobName(m, holder.kind, holder.title), ownerName(m, holder.owner), step, since);
}
