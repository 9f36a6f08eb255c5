/**
 * The narrow interface the bot needs of the Mattermost REST API, and its implementation over
 * `@mattermost/client` (Client4, Bearer token). Client4 has no timeout of its own: every call
 * is raced against one, so that a hung server never hangs the outbox or a slash reply.
 * Failures come back as ChatApiError, which says whether trying again later can help.
 */
import pkg from '@mattermost/client';
import type { Command } from '@mattermost/types/integrations';
import { within } from '../common/within.js';

// @mattermost/client is CommonJS: a named ESM import of Client4 fails on Node 20.
const { Client4 } = pkg;

export interface ChatUser {
  id: string;
  username: string;
  roles: string;
  is_bot?: boolean;
}

export interface ChatChannel {
  id: string;
  name: string;
  team_id: string;
}

export interface ChatPost {
  id: string;
  channel_id: string;
  message: string;
  props?: Record<string, unknown>;
}

export interface NewPost {
  channel_id: string;
  message: string;
  props?: Record<string, unknown>;
  root_id?: string;
}

export type CommandSpec = Pick<Command, 'team_id' | 'trigger' | 'method' | 'url' | 'auto_complete' | 'auto_complete_desc' | 'auto_complete_hint' | 'display_name' | 'description' | 'username' | 'icon_url'>;

export interface ChatApi {
  user(id: string): Promise<ChatUser>;
  team(name: string): Promise<{ id: string; name: string }>;
  channel(team: string, name: string): Promise<ChatChannel>;
  createPost(post: NewPost): Promise<ChatPost>;
  patchPost(id: string, patch: { message?: string; props?: Record<string, unknown> }): Promise<ChatPost>;
  teamCommands(teamId: string): Promise<Command[]>;
  addCommand(command: CommandSpec): Promise<Command>;
  editCommand(command: Command): Promise<Command>;
  /** POSTs a CommandResponse to a slash command's response_url (its path, on MM_URL). */
  respond(path: string, body: Record<string, unknown>): Promise<void>;
}

/**
 * The path of a slash command's response_url (`<SiteURL>/hooks/commands/<id>`), or undefined
 * when it is not one. The bot sends it to MM_URL, the address it knows reaches the server:
 * the SiteURL is the public name, which may not be reachable from where the bot runs.
 */
export function responsePath(responseUrl: string | undefined): string | undefined {
  if (!responseUrl) return undefined;
  try {
    const path = new URL(responseUrl).pathname;
    const m = /(\/hooks\/commands\/[a-z0-9]{26})$/.exec(path);
    return m?.[1];
  } catch {
    return undefined;
  }
}

/** A failed call. `transient`: the server was unreachable, slow, or said 5xx/429/401: try again later. */
export class ChatApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly serverErrorId: string | undefined,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'ChatApiError';
  }
}

export function isTransientStatus(status: number | undefined): boolean {
  return status === undefined || status >= 500 || status === 429 || status === 401 || status === 408;
}

export function createChatApi(baseUrl: string, token: string, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): ChatApi {
  const client = new Client4();
  client.setUrl(baseUrl);
  client.setToken(token);
  client.setUserAgent('mattermost-upgrade-bot');

  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await within(fn(), timeoutMs, (): never => {
        throw new ChatApiError(`${what}: no answer from Mattermost in ${timeoutMs / 1000} s`, undefined, undefined, true);
      });
    } catch (err) {
      throw toChatApiError(what, err);
    }
  };

  return {
    user: (id) => call(`get user ${id}`, () => client.getUser(id)),
    team: (name) => call(`get team ${name}`, () => client.getTeamByName(name)),
    channel: (team, name) => call(`find channel ${name} in team ${team}`, () => client.getChannelByNameAndTeamName(team, name)),
    createPost: (post) => call('create a post', () => client.createPost({ ...post, message: clampMessage(post.message) } as Parameters<typeof client.createPost>[0])),
    patchPost: (id, patch) => call(`patch post ${id}`, () => client.patchPost({ id, ...patch, ...(patch.message !== undefined ? { message: clampMessage(patch.message) } : {}) })),
    teamCommands: (teamId) => call('list the team commands', () => client.getCustomTeamCommands(teamId)),
    addCommand: (command) => call('create the slash command', () => client.addCommand(command as Command)),
    editCommand: (command) => call('update the slash command', () => client.editCommand(command)),
    respond: (path, body) =>
      call('answer the slash command', async () => {
        const res = await fetch(`${baseUrl.replace(/\/+$/, '')}${path}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'User-Agent': 'mattermost-upgrade-bot' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await res.text();
        if (!res.ok) {
          let e: { id?: string; message?: string } = {};
          try {
            e = JSON.parse(text) as typeof e;
          } catch {
            // not a Mattermost error body
          }
          throw Object.assign(new Error(e.message ?? `HTTP ${res.status}`), { status_code: res.status, server_error_id: e.id });
        }
      }),
  };
}

/** Mattermost refuses a message over 16383 characters (runes): a longer one is cut, and says so. */
export const MAX_MESSAGE_RUNES = 16_383;

export function clampMessage(message: string): string {
  const runes = [...message];
  if (runes.length <= MAX_MESSAGE_RUNES) return message;
  return `${runes.slice(0, MAX_MESSAGE_RUNES - 2).join('')}\n…`;
}

function toChatApiError(what: string, err: unknown): ChatApiError {
  if (err instanceof ChatApiError) return err;
  const e = err as { message?: string; status_code?: number; server_error_id?: string; cause?: { code?: string } };
  // Client4 throws ClientError with the server's status_code; a network failure is a TypeError.
  const status = typeof e?.status_code === 'number' ? e.status_code : undefined;
  const detail = e?.cause?.code ?? e?.message ?? String(err);
  const text = status !== undefined ? `${what}: HTTP ${status}${e.server_error_id ? ` ${e.server_error_id}` : ''}${e.message ? ` (${e.message})` : ''}` : `${what}: ${detail}`;
  return new ChatApiError(text, status, e?.server_error_id, isTransientStatus(status));
}
