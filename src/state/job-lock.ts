/**
 * The single-job lock file in STATE_DIR. `status` reads it; the step runner takes it.
 * A lock whose process is gone is reported as stale, not as a running job.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface JobLock {
  jobId: string;
  kind: string;
  owner: string;
  step: string | undefined;
  pid: number;
  hostname: string;
  startedAt: string;
}

export interface HeldLock extends JobLock {
  /** false when the holder's process no longer exists on this host. */
  alive: boolean;
}

export const lockPath = (stateDir: string): string => join(stateDir, 'job.lock');

export async function readJobLock(stateDir: string, isAlive: (pid: number) => boolean = processAlive): Promise<HeldLock | undefined> {
  let text: string;
  try {
    text = await readFile(lockPath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let lock: JobLock;
  try {
    lock = JSON.parse(text) as JobLock;
  } catch {
    return { jobId: 'unknown', kind: 'unknown', owner: 'unknown', step: undefined, pid: 0, hostname: '', startedAt: '', alive: false };
  }
  return { ...lock, alive: typeof lock.pid === 'number' && lock.pid > 0 && isAlive(lock.pid) };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
