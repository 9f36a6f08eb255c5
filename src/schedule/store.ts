/**
 * Scheduled upgrades, in `STATE_DIR/schedules.json` (atomic rewrite), so that a restart keeps
 * them. Written by `serve` only; `mm-upgrade status` reads it.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeDurably } from '../state/durable-file.js';

export interface ScheduledUpgrade {
  id: string;
  target: string;
  /** When it starts (ISO instant). */
  at: string;
  /** Who asked, and who confirmed (chat usernames). */
  requestedBy: string;
  confirmedBy: string;
  /** Where it was asked, to report there. */
  replyTo?: { channelId: string };
  createdAt: string;
  /** When the warning to the team was posted. */
  announcedAt?: string;
}

export const schedulesFile = (stateDir: string): string => join(stateDir, 'schedules.json');

export class ScheduleStore {
  private chain: Promise<unknown> = Promise.resolve();
  readonly file: string;

  constructor(stateDir: string) {
    this.file = schedulesFile(stateDir);
  }

  async list(): Promise<ScheduledUpgrade[]> {
    return readSchedules(this.file);
  }

  add(s: ScheduledUpgrade): Promise<void> {
    return this.change((all) => [...all.filter((x) => x.id !== s.id), s]);
  }

  /** Removes it; the removed schedule, or undefined when it was not there (already started or cancelled). */
  async remove(id: string): Promise<ScheduledUpgrade | undefined> {
    let removed: ScheduledUpgrade | undefined;
    await this.change((all) => {
      removed = all.find((x) => x.id === id);
      return all.filter((x) => x.id !== id);
    });
    return removed;
  }

  update(id: string, patch: Partial<ScheduledUpgrade>): Promise<void> {
    return this.change((all) => all.map((x) => (x.id === id ? { ...x, ...patch } : x)));
  }

  private change(fn: (all: ScheduledUpgrade[]) => ScheduledUpgrade[]): Promise<void> {
    const next = this.chain.then(async () => {
      const all = fn(await readSchedules(this.file));
      await mkdir(dirname(this.file), { recursive: true });
      await writeDurably(this.file, JSON.stringify(all.sort((a, b) => a.at.localeCompare(b.at)), null, 2) + '\n');
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

export async function readSchedules(file: string): Promise<ScheduledUpgrade[]> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ScheduledUpgrade[];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`${file} cannot be read: ${(err as Error).message}`);
  }
}
