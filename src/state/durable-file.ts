/** A small state file replaced whole: written to a temporary name, fsynced, renamed over the old one. */
import { open, rename } from 'node:fs/promises';

export async function writeDurably(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}
