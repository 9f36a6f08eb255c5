/**
 * Confirmations waiting for a click, in `STATE_DIR/chat/pending.json` (atomic rewrite), so
 * that a restart does not forget them and a button is accepted once: the first decision is
 * written down before anything runs, and every later click finds it there.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobKind } from '../core/events.js';
import { writeDurably } from '../state/durable-file.js';
import type { ActionName } from './verify.js';

export interface Pending {
  id: string;
  kind: Extract<JobKind, 'upgrade' | 'rollback' | 'backup' | 'reindex' | 'build' | 'rehearse'>;
  target?: string;
  from?: string;
  withDb?: boolean;
  /** A scheduled upgrade: when it starts (confirming schedules it instead of running it). */
  at?: number;
  atNote?: 'gap' | 'repeated';
  /** Asked outside the maintenance window: the buttons offer its next start, or now anyway. */
  outside?: { next: number };
  title: string;
  channelId: string;
  userId: string;
  userName: string;
  createdAt: number;
  expiresAt: number;
  nonce: string;
  /** The plan as posted, for the post that replaces it once decided. */
  message: string;
  /** The outbox key of the plan post. */
  postKey: string;
  decided?: { action: ActionName | 'expired'; by: string; at: number };
}

const KEEP_DECIDED_MS = 7 * 24 * 3600_000;

export class PendingStore {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly file: string;
  /** This process is the only writer of the file (`serve`): once read, it is kept in memory. */
  private cache: Record<string, Pending> | undefined;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'chat', 'pending.json');
  }

  async get(id: string): Promise<Pending | undefined> {
    return (await this.read())[id];
  }

  /** The undecided, unexpired confirmation, if one waits. */
  async waiting(now: number): Promise<Pending | undefined> {
    return Object.values(await this.read()).find((p) => !p.decided && p.expiresAt > now);
  }

  /** Undecided confirmations whose buttons have expired. */
  async expired(now: number): Promise<Pending[]> {
    return Object.values(await this.read()).filter((p) => !p.decided && p.expiresAt <= now);
  }

  put(p: Pending): Promise<void> {
    return this.update((all) => {
      all[p.id] = p;
    });
  }

  /**
   * Records the first decision on `id` and returns the record as it now is; when a decision
   * was already there, returns that one unchanged with `first: false`.
   */
  decide(id: string, action: ActionName | 'expired', by: string, at: number): Promise<{ pending: Pending; first: boolean } | undefined> {
    return this.update((all) => {
      const p = all[id];
      if (!p) return undefined;
      if (p.decided) return { pending: p, first: false };
      p.decided = { action, by, at };
      return { pending: p, first: true };
    });
  }

  private update<T>(change: (all: Record<string, Pending>) => T): Promise<T> {
    const run = async (): Promise<T> => {
      const all = structuredClone(await this.read());
      const out = change(all);
      const now = Date.now();
      for (const [k, p] of Object.entries(all)) if (p.expiresAt + KEEP_DECIDED_MS < now) delete all[k];
      await mkdir(join(this.file, '..'), { recursive: true, mode: 0o700 });
      await writeDurably(this.file, JSON.stringify(all));
      this.cache = all;
      return out;
    };
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async read(): Promise<Record<string, Pending>> {
    if (!this.cache) {
      try {
        this.cache = JSON.parse(await readFile(this.file, 'utf8')) as Record<string, Pending>;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.cache = {};
      }
    }
    return this.cache;
  }
}
