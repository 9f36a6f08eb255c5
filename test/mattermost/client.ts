/**
 * What tests do as people in Mattermost, through the stand-in's real routes: type a slash
 * command (`/commands/execute`, as the web app does), click a button (`/posts/{id}/actions/{id}`),
 * and read back posts, their versions, ephemerals and the calls made to the bot.
 */
import type { Ephemeral, IntegrationCall, Post, PostVersion } from './model.js';
import type { World, WorldSpec } from './standin.js';

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
}

export class MattermostApi {
  constructor(readonly baseUrl: string) {}

  async call<T = unknown>(method: string, path: string, body?: unknown, token?: string): Promise<ApiAnswer<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), 'X-Requested-With': 'XMLHttpRequest' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain text answer
    }
    return { status: res.status, body: parsed as T };
  }

  async seed(spec: WorldSpec): Promise<World> {
    const r = await this.call<World>('POST', '/api/v4/test/standin/seed', spec);
    if (r.status !== 200) throw new Error(`seeding the stand-in failed: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async settings(changes: Record<string, unknown>): Promise<void> {
    const r = await this.call('POST', '/api/v4/test/standin/settings', changes);
    if (r.status !== 200) throw new Error(`stand-in settings: HTTP ${r.status}`);
  }

  async posts(channelId?: string, raw = false): Promise<Post[]> {
    return (await this.call<Post[]>('GET', `/api/v4/test/standin/posts?${new URLSearchParams({ ...(channelId ? { channel_id: channelId } : {}), raw: String(raw) })}`)).body;
  }

  async versions(postId?: string): Promise<PostVersion[]> {
    return (await this.call<PostVersion[]>('GET', `/api/v4/test/standin/versions${postId ? `?post_id=${postId}` : ''}`)).body;
  }

  async ephemerals(userId?: string): Promise<Ephemeral[]> {
    return (await this.call<Ephemeral[]>('GET', `/api/v4/test/standin/ephemerals${userId ? `?user_id=${userId}` : ''}`)).body;
  }

  async calls(): Promise<IntegrationCall[]> {
    return (await this.call<IntegrationCall[]>('GET', '/api/v4/test/standin/calls')).body;
  }

  /** A person types `/upgrade <text>` in a channel. */
  execute(token: string, channelId: string, command: string): Promise<ApiAnswer<Record<string, unknown>>> {
    return this.call('POST', '/api/v4/commands/execute', { channel_id: channelId, command, team_id: '' }, token);
  }

  /** A person clicks a button. */
  click(token: string, postId: string, actionId: string): Promise<ApiAnswer<Record<string, unknown>>> {
    return this.call('POST', `/api/v4/posts/${postId}/actions/${encodeURIComponent(actionId)}`, { selected_option: '' }, token);
  }
}
