/** What the chat tests on the bed share: a bot pointed at a deployment, reading its chat back. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MattermostApi } from '../../mattermost/client.js';
import type { Ephemeral, Post } from '../../mattermost/model.js';
import type { World } from '../../mattermost/standin.js';
import { TOKENS } from '../../mattermost/world.js';
import { freePort, waitFor } from '../../bed/proc.js';

export const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export async function botEnv(base: Record<string, string>, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const port = await freePort();
  return {
    ...base,
    MM_BOT_TOKEN: TOKENS.bot,
    MM_TEAM: 'picasoft',
    BOT_SECRET: SECRET,
    PORT: String(port),
    BOT_PUBLIC_URL: `http://127.0.0.1:${port}`,
    MM_ANNOUNCE_CHANNEL: 'town-square',
    MM_ADMIN_CHANNEL: 'upgrades',
    VERIFY_WINDOW: '1s',
    HEALTH_TIMEOUT: '40',
    TZ: 'Europe/Paris',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** Messages waiting in the bot's outbox (not delivered yet). */
export function outboxCount(stateDir: string): number {
  try {
    return readdirSync(join(stateDir, 'outbox')).filter((n) => /^\d{15}-\d{7}-\d{6}\.json$/.test(n)).length;
  } catch {
    return 0;
  }
}

export async function pingOk(appUrl: string): Promise<boolean> {
  const r = await fetch(`${appUrl}/api/v4/system/ping`, { signal: AbortSignal.timeout(500) }).catch(() => undefined);
  return r?.status === 200;
}

/** Watches, every 20 ms, how many messages the outbox holds while Mattermost does not answer. */
export function watchOutbox(appUrl: string, stateDir: string): { stop(): Promise<{ maxHeldWhileDown: number; sawDown: boolean }> } {
  let running = true;
  let maxHeldWhileDown = 0;
  let sawDown = false;
  const loop = (async () => {
    while (running) {
      const down = !(await pingOk(appUrl));
      const held = outboxCount(stateDir);
      if (down) {
        sawDown = true;
        maxHeldWhileDown = Math.max(maxHeldWhileDown, held);
      }
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { maxHeldWhileDown, sawDown };
    },
  };
}

export class ChatView {
  constructor(
    readonly api: MattermostApi,
    readonly world: World,
  ) {}

  get botId(): string {
    return this.world.users['upgrade-bot']!.id;
  }

  channel(name: string): string {
    return this.world.channels[name]!.id;
  }

  async botPosts(channel: string, raw = false): Promise<Post[]> {
    return (await this.api.posts(this.channel(channel), raw)).filter((p) => p.user_id === this.botId);
  }

  /** The first bot post in `channel`, created after `since`, that `match` accepts. */
  waitPost(channel: string, since: number, match: (p: Post) => boolean, timeoutMs = 60_000, raw = false): Promise<Post> {
    return waitFor(`a bot post in ~${channel} matching ${match.toString().slice(0, 120)}`, async () => (await this.botPosts(channel, raw)).find((p) => p.create_at >= since && match(p)), { timeoutMs, intervalMs: 100 });
  }

  async ephemeralsOf(username: string, since = 0): Promise<Ephemeral[]> {
    return (await this.api.ephemerals(this.world.users[username]!.id)).filter((e) => e.create_at >= since);
  }

  waitEphemeral(username: string, since: number, match: (e: Ephemeral) => boolean, timeoutMs = 30_000): Promise<Ephemeral> {
    return waitFor(`an ephemeral for @${username}`, async () => (await this.ephemeralsOf(username, since)).find(match), { timeoutMs, intervalMs: 100 });
  }

  /** Types `/upgrade <text>` as `who` in ~upgrades; the ephemeral reply it got, and how long the round trip took. */
  async type(token: string, text: string, channel = 'upgrades'): Promise<{ status: number; text: string; ms: number; body: Record<string, unknown> }> {
    const t0 = performance.now();
    const r = await this.api.execute(token, this.channel(channel), `/upgrade${text ? ` ${text}` : ''}`);
    return { status: r.status, text: String(r.body.text ?? ''), ms: performance.now() - t0, body: r.body };
  }
}

/** The plan's action buttons, with their integration (as the server stores them). */
export function actionsOf(p: Post): Array<{ id: string; name: string; style?: string; integration?: { url: string; context: Record<string, unknown> } }> {
  const attachments = p.props.attachments as Array<{ actions?: unknown[] }> | null | undefined;
  return (attachments ?? []).flatMap((a) => (a.actions ?? []) as ReturnType<typeof actionsOf>);
}

/** A plan post: its buttons end with *Cancel* (a result's *Plan upgrade* alone is not one). */
export function isPlanPost(p: Post): boolean {
  return actionsOf(p).some((a) => a.id === 'cancel');
}

/** POSTs to the bot's action route exactly as Mattermost would for a click on `post`. */
export async function postAction(botUrl: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ status: number; contentType: string | null; json: Record<string, unknown> }> {
  const res = await fetch(`${botUrl}/mattermost/action`, {
    method: 'POST',
    headers: { 'User-Agent': 'Mattermost-Bot/1.1', Accept: 'application/json', 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), json: (await res.json()) as Record<string, unknown> };
}

export async function postCommand(botUrl: string, body: string, headers: Record<string, string>): Promise<{ status: number; contentType: string | null; json: Record<string, unknown> }> {
  const res = await fetch(`${botUrl}/mattermost/command`, { method: 'POST', headers: { 'User-Agent': 'Mattermost-Bot/1.1', Accept: 'application/json', ...headers }, body });
  return { status: res.status, contentType: res.headers.get('content-type'), json: (await res.json()) as Record<string, unknown> };
}
