/**
 * The single-job lock: `STATE_DIR/job.lock`, created exclusively. It names the job, its
 * owner and current step, and the holder's PID with the process start time, so that a lock
 * left by a dead process (or by a PID since reused) is recognised as stale, not obeyed forever.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
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
 * Takes the lock, or returns its holder. The lock is written whole under a temporary name and
 * linked into place, so it never exists empty (a reader never mistakes a lock being written
 * for a torn one). A stale lock is NOT taken over here: the caller must first recover the job
 * it belonged to, then call `breakStaleLock`.
 */
export async function acquireJobLock(
  stateDir: string,
  job: Omit<JobLock, 'pid' | 'pidStart' | 'hostname' | 'step'>,
): Promise<{ acquired: true; lock: JobLock } | { acquired: false; holder: HeldLock }> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const lock: JobLock = { ...job, step: undefined, pid: process.pid, pidStart: processStart(process.pid), hostname: hostname() };
  const tmp = `${lockPath(stateDir)}.${process.pid}.${randomBytes(4).toString('hex')}.new`;
  await writeDurably(tmp, JSON.stringify(lock));
  try {
    for (;;) {
      try {
        await link(tmp, lockPath(stateDir));
        return { acquired: true, lock };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readJobLock(stateDir);
      if (holder) return { acquired: false, holder };
      // Released between our link and our read: try again.
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
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

/**
 * Removes the lock if it still is `stale` (same job, same dead process), and nothing else.
 * Several processes may find the same stale lock in the same instant: the check and the
 * removal happen under a short-lived breaker file (created exclusively), so that one of them
 * cannot remove the lock another has just taken. Whoever then links its own lock first wins.
 */
export async function breakStaleLock(stateDir: string, stale: HeldLock): Promise<void> {
  const breaker = `${lockPath(stateDir)}.breaking`;
  const token = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const tmp = `${breaker}.${token}`;
  await writeFile(tmp, JSON.stringify({ pid: process.pid, pidStart: processStart(process.pid), hostname: hostname() }), { mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, breaker);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      // Another process is breaking it. Its work takes a few milliseconds; a breaker left by a
      // process killed in those milliseconds is removed once it is old.
      const age = await stat(breaker).then((st) => Date.now() - st.mtimeMs, () => 0);
      if (age > BREAKER_STALE_MS) await unlink(breaker).catch(() => undefined);
      else if (attempt > 50) return; // the caller's next acquire reports whoever holds it
      else await delay(10);
    }
    try {
      const current = await readJobLock(stateDir);
      if (!current || current.alive) return;
      const same = current.jobId === 'unknown' || (current.jobId === stale.jobId && current.pid === stale.pid && current.pidStart === stale.pidStart);
      if (same) await unlink(lockPath(stateDir)).catch(() => undefined);
    } finally {
      await unlink(breaker).catch(() => undefined);
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

const BREAKER_STALE_MS = 10_000;

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
