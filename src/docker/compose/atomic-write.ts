import { randomBytes } from 'node:crypto';
import { copyFile, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces a file so that a reader sees either the old or the new content, never a mix:
 * temp file in the same folder, fsync, rename over, fsync the folder. The file keeps its
 * mode (and its owner when we may); a new one gets `opts.mode` (default 0666 less the umask).
 * A symlink is followed, so the link stays a link.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, opts: { backup?: boolean; mode?: number } = {}): Promise<void> {
  const target = await realpath(path).catch(() => path);
  const dir = dirname(target);
  const existing = await stat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (opts.backup && existing) {
    await copyFile(target, `${path}.bak`);
    await syncPath(`${path}.bak`);
  }
  const temp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', existing ? existing.mode & 0o7777 : (opts.mode ?? 0o666));
  try {
    try {
      await handle.writeFile(data);
      if (existing) {
        await handle.chmod(existing.mode & 0o7777);
        await handle.chown(existing.uid, existing.gid).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EPERM') throw err;
        });
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncPath(dir);
}

/** fsync a file or a folder (after a rename in it). */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
