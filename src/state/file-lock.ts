/**
 * A lock file for short work that only one process at a time may do (delivering the outbox):
 * created exclusively with the holder's PID; a lock whose holder died is taken over.
 */
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { holderAlive } from './job-lock.js';

/** Takes the lock at `path`; false when a live process holds it. */
export async function tryLockFile(path: string): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const mine = JSON.stringify({ pid: process.pid, hostname: hostname() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const h = await open(path, 'wx', 0o600);
      await h.writeFile(mine);
      await h.close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await readFile(path, 'utf8').then((t) => JSON.parse(t) as { pid: number; hostname: string }, () => undefined);
      if (holder && holder.pid !== process.pid && holderAlive({ pid: holder.pid, hostname: holder.hostname, pidStart: undefined })) return false;
      await unlink(path).catch(() => undefined);
    }
  }
  return false;
}

export async function unlockFile(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}
