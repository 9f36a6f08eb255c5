/** The dumps in BACKUP_DIR: `<db>-<version>-<timestamp>.dump`. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface BackupFile {
  path: string;
  name: string;
  sizeBytes: number;
  createdAt: Date;
}

/** The names in `dir`; none when it does not exist yet. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function listBackups(dir: string): Promise<BackupFile[]> {
  const names = await readdirOrEmpty(dir);
  const files = await Promise.all(
    names
      .filter((n) => n.endsWith('.dump'))
      .map(async (name) => {
        const path = join(dir, name);
        const s = await stat(path);
        return { path, name, sizeBytes: s.size, createdAt: s.mtime, isFile: s.isFile() };
      }),
  );
  return files
    .filter((f) => f.isFile && f.sizeBytes > 0)
    .map(({ isFile: _isFile, ...f }) => f)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
}
