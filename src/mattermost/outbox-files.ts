/** The outbox on disk: one JSON file a message, named to sort in writing order; and the keys of created posts. */
import { readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutboxLog, OutboxMessage } from './outbox.js';

export interface Stored {
  file: string;
  item: OutboxMessage;
}

export type PostKeys = Record<string, { id: string; at: number }>;

export const MESSAGE_FILE = /^\d{15}-\d{7}-\d{6}\.json$/;

export class OutboxFiles {
  readonly postsFile: string;
  readonly lockFile: string;
  /** Posts created (by key), as far as this process knows: kept even if posts.json cannot be written. */
  private readonly created: PostKeys = {};

  constructor(
    private readonly dir: string,
    private readonly log: Pick<OutboxLog, 'warn'>,
  ) {
    this.postsFile = join(dir, 'posts.json');
    this.lockFile = join(dir, 'deliver.lock');
  }

  /** The messages waiting, oldest first. */
  async list(): Promise<Stored[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: Stored[] = [];
    for (const name of names.filter((n) => MESSAGE_FILE.test(n)).sort()) {
      const file = join(this.dir, name);
      try {
        out.push({ file, item: JSON.parse(await readFile(file, 'utf8')) as OutboxMessage });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn('outbox: an unreadable message is skipped', { file });
      }
    }
    return out;
  }

  async remove(items: Stored[]): Promise<void> {
    for (const s of items) await unlink(s.file).catch(() => undefined);
  }

  /** The bot's keys → Mattermost post ids, for patches (on disk, and what this process created). */
  async posts(): Promise<PostKeys> {
    try {
      Object.assign(this.created, JSON.parse(await readFile(this.postsFile, 'utf8')) as PostKeys);
    } catch {
      // none yet, or unreadable: what this process knows still holds
    }
    return this.created;
  }
}
