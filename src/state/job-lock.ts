/**
 * The single-job lock: `STATE_DIR/job.lock`, created exclusively. It names the job, its
 * owner and current step, and the holder's PID with the process start time, so that a lock
 * left by a dead process (or by a PID since reused) is recognised as stale, not obeyed forever.
 */
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { writeDurably } from './durable-file.js';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface JobLock {
  jobId: string;
  kind: string;
  owner: string;
  title: string;
  step: string | undefined;
  pid: number;
  /** Start time of the holder process (from /proc), to tell a reused PID from the holder. */
  pidStart: string | undefined;
  hostname: string;
  startedAt: string;
}

export interface HeldLock extends JobLock {
  /** false when the holder's process no longer exists on this host. */
  alive: boolean;
}

export const lockPath = (stateDir: string): string => join(stateDir, 'job.lock');

export type Liveness = (lock: Pick<JobLock, 'pid' | 'pidStart' | 'hostname'>) => boolean;

export async function readJobLock(stateDir: string, isAlive: Liveness = holderAlive): Promise<HeldLock | undefined> {
  // Asked on every chat command: no lock is the common case, answered by one stat, no exception.
  if (!existsSync(lockPath(stateDir))) return undefined;
  let text: string;
  try {
    text = await readFile(lockPath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const lock = JSON.parse(text) as JobLock;
    return { ...lock, alive: isAlive(lock) };
  } catch {
    // Torn write of a crashed process: a lock nobody holds.
    return { jobId: 'unknown', kind: 'unknown', owner: 'unknown', title: 'unknown', step: undefined, pid: 0, pidStart: undefined, hostname: '', startedAt: '', alive: false };
  }
}

/**
 * Takes the lock, or returns the live holder. A stale lock is NOT taken over here: the
 * caller must first recover the job it belonged to, then call `breakStaleLock`.
 */
export async function acquireJobLock(
  stateDir: string,
  job: Omit<JobLock, 'pid' | 'pidStart' | 'hostname' | 'step'>,
): Promise<{ acquired: true; lock: JobLock } | { acquired: false; holder: HeldLock }> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const lock: JobLock = { ...job, step: undefined, pid: process.pid, pidStart: processStart(process.pid), hostname: hostname() };
  try {
    const handle = await open(lockPath(stateDir), 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(lock));
      await handle.sync();
    } finally {
      await handle.close();
    }
    return { acquired: true, lock };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = await readJobLock(stateDir);
    if (!holder) return acquireJobLock(stateDir, job);
    return { acquired: false, holder };
  }
}

/** Records the step the holder is at (atomic rewrite). */
export async function updateJobLock(stateDir: string, lock: JobLock, step: string): Promise<void> {
  lock.step = step;
  await writeDurably(lockPath(stateDir), JSON.stringify(lock));
}

export async function releaseJobLock(stateDir: string, jobId: string): Promise<void> {
  const current = await readJobLock(stateDir);
  if (current && current.jobId !== jobId) return;
  await unlink(lockPath(stateDir)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Removes a lock whose holder is dead; refuses to touch a live one. */
export async function breakStaleLock(stateDir: string, jobId: string): Promise<void> {
  const current = await readJobLock(stateDir);
  if (!current) return;
  if (current.alive) throw new Error(`the lock of job ${current.jobId} is held by live process ${current.pid}`);
  if (current.jobId !== jobId && current.jobId !== 'unknown') return;
  await unlink(lockPath(stateDir)).catch(() => undefined);
}

export function holderAlive(lock: Pick<JobLock, 'pid' | 'pidStart' | 'hostname'>): boolean {
  if (lock.hostname && lock.hostname !== hostname()) return true; // another host: cannot tell, assume alive
  if (!(lock.pid > 0)) return false;
  try {
    process.kill(lock.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(lock.pid);
  return lock.pidStart === undefined || start === undefined || start === lock.pidStart;
}

/** Field 22 of /proc/<pid>/stat: the process start time in clock ticks since boot. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
