/**
 * A lock file for short work that only one process at a time may do (delivering the outbox).
 * It is written whole under a temporary name and linked into place, so it never exists
 * empty; it names its holder (PID, process start time, host). A lock whose holder died is
 * taken over; one that cannot be read (a disk that failed mid-write) counts as held while it
 * is recent, and as stale after that.
 */
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { holderAlive, processStart } from './job-lock.js';

const UNREADABLE_STALE_MS = 60_000;

interface Holder {
  pid: number;
  pidStart?: string;
  hostname: string;
}

async function holderOf(path: string): Promise<Holder | 'unreadable' | 'gone'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
  try {
    const h = JSON.parse(text) as Holder;
    return typeof h.pid === 'number' ? h : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** Held by this very process (same PID, same start time: not an earlier process whose PID came back). */
function mine(h: Holder | 'unreadable' | 'gone'): boolean {
  return typeof h === 'object' && h.pid === process.pid && h.hostname === hostname() && h.pidStart === processStart(process.pid);
}

/** Takes the lock at `path`; false when another live process holds it. */
export async function tryLockFile(path: string): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, JSON.stringify({ pid: process.pid, pidStart: processStart(process.pid), hostname: hostname() }), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await link(tmp, path);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await holderOf(path);
      if (holder === 'gone') continue;
      if (holder === 'unreadable') {
        const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => Infinity);
        if (age < UNREADABLE_STALE_MS) return false;
      } else if (mine(holder) || holderAlive({ pid: holder.pid, pidStart: holder.pidStart, hostname: holder.hostname })) {
        return false;
      }
      await unlink(path).catch(() => undefined);
    }
    return false;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Releases the lock at `path` if this process holds it. */
export async function unlockFile(path: string): Promise<void> {
  if (mine(await holderOf(path))) await unlink(path).catch(() => undefined);
}
