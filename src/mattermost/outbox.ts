/**
 * The persistent outbox: every post, patch and late slash reply the bot sends goes through
 * it, because an upgrade stops Mattermost itself. One file per message in
 * `STATE_DIR/outbox/`, named so that they sort in the order they were written; delivery is
 * in that order, a patch only after its post was created, and of several patches of the same
 * post only the newest is sent. A message that cannot be delivered now stays on disk and is
 * retried with backoff, by this process or the next one (`serve`, or the next CLI run). One
 * process delivers at a time (`outbox/deliver.lock`); any process may add.
 */
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { within } from '../common/within.js';
import { writeDurably } from '../state/durable-file.js';
import { OutboxFiles, type PostKeys, type Stored } from './outbox-files.js';
import { tryLockFile, unlockFile } from '../state/file-lock.js';
import { ChatApiError, type ChatApi } from './client.js';

/** Where a post goes: a channel id, or a channel name in the bot's team. */
export type ChannelRef = { id: string } | { name: string };

export type OutboxMessage =
  | { kind: 'create'; key: string; channel: ChannelRef; message: string; props?: Record<string, unknown> }
  | { kind: 'patch'; key: string; message: string; props?: Record<string, unknown> }
  /** A late answer to a slash command, through its response_url (path only: sent to MM_URL). */
  | { kind: 'respond'; key: string; path: string; body: Record<string, unknown>; expiresAt: number };


export interface OutboxLog {
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
}

export interface OutboxDeps {
  stateDir: string;
  api: ChatApi | undefined;
  team: string | undefined;
  log: OutboxLog;
  /** Backoff between delivery attempts while Mattermost does not answer: 1 s doubling to this. */
  maxBackoffMs?: number;
  /** Masks secrets in what is written (quoted log lines may hold a password). */
  redact?: (text: string) => string;
  now?: () => number;
}

export interface FlushResult {
  delivered: number;
  pending: number;
  /** Why the last attempt stopped, when messages are left. */
  error?: string;
}

/** Keys of posts older than this are forgotten: nothing patches a month-old post. */
const KEEP_KEYS_MS = 30 * 24 * 3600_000;

let sequence = 0;

export class Outbox {
  private readonly dir: string;
  private readonly files: OutboxFiles;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private backoffMs = 0;
  private stalledSince: number | undefined;
  private flushing: Promise<FlushResult> | undefined;
  private readonly channelIds = new Map<string, string>();
  /** Keys of the messages Mattermost refused for good in this process, and why. */
  private readonly refusedKeys = new Map<string, string>();

  constructor(private readonly deps: OutboxDeps) {
    this.dir = join(deps.stateDir, 'outbox');
    this.files = new OutboxFiles(this.dir, deps.log);
    this.now = deps.now ?? Date.now;
  }

  /** Writes the message to disk (fsync, atomic rename) and wakes the delivery loop. */
  async enqueue(item: OutboxMessage): Promise<void> {
    const redact = this.deps.redact;
    if (redact && item.kind !== 'respond') item = { ...item, message: redact(item.message) };
    if (redact && item.kind === 'respond' && typeof item.body.text === 'string') item = { ...item, body: { ...item.body, text: redact(item.body.text) } };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const name = `${this.now().toString().padStart(15, '0')}-${String(process.pid).padStart(7, '0')}-${String(++sequence % 1e6).padStart(6, '0')}.json`;
    await writeDurably(join(this.dir, name), JSON.stringify(item));
    if (this.running && this.backoffMs === 0) this.schedule(0);
  }

  /**
   * Writes a new post to the outbox and tries to deliver it at once: `delivered`, `refused`
   * for good by Mattermost (with why: the bot is not in the channel…), or `queued` for later.
   */
  async send(item: Extract<OutboxMessage, { kind: 'create' }>): Promise<{ state: 'delivered' | 'queued' | 'refused'; error?: string }> {
    await this.enqueue(item);
    for (let pass = 0; pass < 2; pass++) {
      const r = await this.flush();
      const refused = this.refusedKeys.get(item.key);
      if (refused !== undefined) return { state: 'refused', error: refused };
      if ((await this.files.posts())[item.key]) return { state: 'delivered' };
      if (r.error) break;
    }
    return { state: 'queued' };
  }

  /** Keeps delivering in the background until stop(). */
  start(): void {
    this.running = true;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** How many messages wait on disk. */
  async pending(): Promise<number> {
    return (await this.files.list()).length;
  }

  /** Whether a post with this key was created, or waits to be. */
  async knows(key: string): Promise<boolean> {
    if ((await this.files.posts())[key]) return true;
    return (await this.files.list()).some((s) => s.item.kind === 'create' && s.item.key === key);
  }

  /** Delivers what it can until nothing is left or `deadline` (epoch ms) passes; returns what is left. */
  async drain(deadline: number): Promise<number> {
    let backoff = 250;
    for (;;) {
      await this.flushing?.catch(() => undefined);
      const r = await this.flush(deadline);
      if (r.pending === 0 || Date.now() + backoff > deadline) return r.pending;
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 2_000);
    }
  }

  /**
   * One delivery pass, in order, stopping at the first message Mattermost cannot take now,
   * or when `deadline` (epoch ms) comes: a call still waiting then is left (and tried again).
   */
  flush(deadline = Infinity): Promise<FlushResult> {
    this.flushing ??= this.flushOnce(deadline)
      .catch(async (err: unknown): Promise<FlushResult> => ({ delivered: 0, pending: await this.pending().catch(() => 1), error: (err as Error).message }))
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      void this.flush().then(
        (r) => this.afterFlush(r),
        (err: unknown) => this.afterFlush({ delivered: 0, pending: 1, error: (err as Error).message }),
      );
    }, ms);
    this.timer.unref?.();
  }

  private afterFlush(r: FlushResult): void {
    if (r.pending === 0 || !r.error) {
      if (this.stalledSince !== undefined) {
        this.deps.log.info('outbox: Mattermost answers again; held messages delivered', { heldForMs: this.now() - this.stalledSince, delivered: r.delivered });
      }
      this.stalledSince = undefined;
      this.backoffMs = 0;
      if (r.pending > 0) this.schedule(0);
      return;
    }
    if (this.stalledSince === undefined) {
      this.stalledSince = this.now();
      this.deps.log.warn('outbox: Mattermost does not take messages now; they are kept and retried', { pending: r.pending, error: r.error });
    }
    this.backoffMs = Math.min(this.backoffMs === 0 ? 1_000 : this.backoffMs * 2, this.deps.maxBackoffMs ?? 30_000);
    this.deps.log.debug('outbox: retrying later', { pending: r.pending, retryInMs: this.backoffMs, error: r.error });
    this.schedule(this.backoffMs);
  }

  private async flushOnce(deadline: number): Promise<FlushResult> {
    const api = this.deps.api;
    if (!api) return { delivered: 0, pending: await this.pending(), error: 'no MM_BOT_TOKEN: chat messages are kept' };
    if (!(await tryLockFile(this.files.lockFile))) return { delivered: 0, pending: await this.pending(), error: 'another process is delivering' };
    let delivered = 0;
    try {
      const posts = await this.files.posts();
      for (;;) {
        const items = await this.files.list();
        const head = items[0];
        if (!head) return { delivered, pending: 0 };
        const left = deadline - Date.now();
        if (left <= 0) return { delivered, pending: items.length, error: 'out of time' };
        try {
          await within(this.deliver(api, head, items, posts), left, (): never => {
            throw new ChatApiError('out of time', undefined, undefined, true);
          });
          delivered++;
        } catch (err) {
          if (err instanceof ChatApiError && !err.transient) {
            // Mattermost refused it for good (400, 403, 404): keep it aside for a person, go on.
            this.deps.log.warn('outbox: Mattermost refused a message; it is kept in outbox/refused/', { key: head.item.key, error: err.message });
            this.refusedKeys.set(head.item.key, err.message);
            await mkdir(join(this.dir, 'refused'), { recursive: true, mode: 0o700 });
            await rename(head.file, join(this.dir, 'refused', head.file.slice(this.dir.length + 1)));
            continue;
          }
          return { delivered, pending: items.length, error: (err as Error).message };
        }
      }
    } finally {
      await unlockFile(this.files.lockFile);
    }
  }

  private async deliver(api: ChatApi, head: Stored, items: Stored[], posts: PostKeys): Promise<void> {
    const item = head.item;
    const samePatches = (key: string): Stored[] => items.filter((s) => s.item.kind === 'patch' && s.item.key === key);
    if (item.kind === 'respond') {
      if (item.expiresAt > this.now()) await api.respond(item.path, item.body);
      else this.deps.log.warn('outbox: a slash-command reply expired before Mattermost could take it; dropped', { key: item.key });
      await this.files.remove([head]);
      return;
    }
    // Newer patches of the same post make this one (and a create's first text) obsolete.
    const newest = samePatches(item.key).at(-1);
    if (item.kind === 'create') {
      const content = (newest ?? head).item as Extract<OutboxMessage, { kind: 'create' | 'patch' }>;
      const post = await api.createPost({
        channel_id: await this.channelId(api, item.channel),
        message: content.message,
        ...(content.props ? { props: content.props } : {}),
      });
      posts[item.key] = { id: post.id, at: this.now() };
      // The post exists now: whatever happens next, it must not be created a second time.
      await this.files.remove([head, ...samePatches(item.key)]);
      for (const [k, v] of Object.entries(posts)) if (v.at + KEEP_KEYS_MS < this.now()) delete posts[k];
      await writeDurably(this.files.postsFile, JSON.stringify(posts)).catch((err: Error) =>
        this.deps.log.warn('outbox: could not record a created post; later edits of it are kept in this process only', { key: item.key, error: err.message }),
      );
      return;
    }
    const id = posts[item.key]?.id;
    if (id === undefined) {
      this.deps.log.warn('outbox: a patch for a post that was never created is dropped', { key: item.key });
    } else if (newest) {
      const last = newest.item as Extract<OutboxMessage, { kind: 'patch' }>;
      await api.patchPost(id, { message: last.message, ...(last.props ? { props: last.props } : {}) });
    }
    await this.files.remove(samePatches(item.key).filter((s) => s.file <= (newest ?? head).file));
  }

  private async channelId(api: ChatApi, ref: ChannelRef): Promise<string> {
    if ('id' in ref) return ref.id;
    const cached = this.channelIds.get(ref.name);
    if (cached) return cached;
    if (!this.deps.team) throw new ChatApiError(`cannot find channel ${ref.name}: MM_TEAM is not set`, 400, undefined, false);
    const channel = await api.channel(this.deps.team, ref.name);
    this.channelIds.set(ref.name, channel.id);
    return channel.id;
  }

}
