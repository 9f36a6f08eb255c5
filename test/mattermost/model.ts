/**
 * The Mattermost API stand-in's data, in the server's own JSON shapes (server/public/model),
 * and its errors: `{id, message, detailed_error, request_id, status_code}` with the HTTP
 * status equal to `status_code`, as the real server answers.
 */
import { randomBytes } from 'node:crypto';

/** Which server it behaves like: 5.35 (the recorded captures) or a current 9.x/10.x. */
export type Flavour = '5' | 'current';

export interface Team {
  id: string;
  name: string;
  display_name: string;
}

export interface Channel {
  id: string;
  team_id: string;
  name: string;
  display_name: string;
  type: 'O' | 'P';
  members: string[];
}

export interface User {
  id: string;
  username: string;
  roles: string;
  is_bot?: boolean;
  /** The personal access token (or bot token) the stand-in accepts for this user. */
  token: string;
  /** Holds manage_slash_commands in the team (team admins and system admins do). */
  manageCommands?: boolean;
  teams: string[];
}

export interface Post {
  id: string;
  create_at: number;
  update_at: number;
  edit_at: number;
  delete_at: number;
  is_pinned: boolean;
  user_id: string;
  channel_id: string;
  root_id: string;
  original_id: string;
  message: string;
  type: string;
  props: Record<string, unknown>;
  hashtags: string;
  pending_post_id: string;
  reply_count: number;
  metadata: Record<string, unknown>;
}

/** Every version a post went through, for tests: created, patched by its author, updated by a button reply. */
export interface PostVersion {
  id: string;
  post_id: string;
  at: number;
  by: 'create' | 'patch' | 'action';
  message: string;
  props: Record<string, unknown>;
}

export interface Command {
  id: string;
  token: string;
  create_at: number;
  update_at: number;
  delete_at: number;
  creator_id: string;
  team_id: string;
  trigger: string;
  method: string;
  username: string;
  icon_url: string;
  auto_complete: boolean;
  auto_complete_desc: string;
  auto_complete_hint: string;
  display_name: string;
  description: string;
  url: string;
  plugin_id: string;
}

/** A response_url: valid 30 minutes, usable 5 times. */
export interface CommandHook {
  id: string;
  command_id: string;
  user_id: string;
  channel_id: string;
  root_id: string;
  create_at: number;
  uses: number;
}

export interface Ephemeral {
  id: string;
  user_id: string;
  channel_id: string;
  root_id: string;
  message: string;
  props: Record<string, unknown>;
  create_at: number;
  /** What produced it: a slash reply, a response_url post, a button's ephemeral_text. */
  source: 'slash' | 'response_url' | 'action';
}

/** One call the stand-in made to an integration, and what came back. */
export interface IntegrationCall {
  id: string;
  at: number;
  kind: 'slash' | 'action';
  url: string;
  method: string;
  requestHeaders: Record<string, string>;
  requestBody: string;
  status?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  error?: string;
  ms: number;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
    readonly detailed = '',
  ) {
    super(message);
  }
}

export const errors = {
  sessionExpired: () => new AppError(401, 'api.context.session_expired.app_error', 'Invalid or expired session, please login again.'),
  permissions: () => new AppError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.'),
  invalidBody: (name: string) => new AppError(400, 'api.context.invalid_body_param.app_error', `Invalid or missing ${name} in request body.`),
  invalidParam: (name: string) => new AppError(400, 'api.context.invalid_param.app_error', `Invalid ${name} parameter.`),
  invalidUrlParam: (name: string) => new AppError(400, 'api.context.invalid_url_param.app_error', `Invalid or missing ${name} parameter in request URL.`),
  notFoundRoute: (path: string) =>
    new AppError(404, 'api.context.404.app_error', 'Sorry, we could not find the page.', `There doesn't appear to be an api call for the url='${path}'.  Typo? are you missing a team_id or user_id as part of the url?`),
};

/** model.NewId: 26 characters of lower-case base32. */
export function newId(): string {
  const alphabet = 'ybndrfg8ejkmcpqxot1uwisza345h769';
  return [...randomBytes(26)].map((b) => alphabet[b % 32]).join('');
}

export const isValidId = (id: unknown): id is string => typeof id === 'string' && /^[a-z0-9]{26}$/.test(id);

export function runes(text: string): number {
  return [...text].length;
}

/** Post.IsValid's limits: 16383 runes of message; props as JSON, 8000 runes on 5.x, 800000 now. */
export function checkPost(post: Pick<Post, 'message' | 'props' | 'type'>, flavour: Flavour): void {
  const n = runes(post.message);
  if (n > 16383) throw new AppError(400, 'model.post.is_valid.message_length.app_error', 'Post Message property is longer than the maximum permitted length.', `length=${n}`);
  const propsRunes = runes(JSON.stringify(post.props ?? {}));
  if (propsRunes > (flavour === '5' ? 8000 : 800000)) throw new AppError(400, 'model.post.is_valid.props.app_error', 'Invalid props.', `length=${propsRunes}`);
  if (post.type.startsWith('system_')) throw errors.invalidParam('post.type');
}

/** Missing action ids are generated (Post.GenerateActionIds); given ones are kept as they are. */
export function generateActionIds(props: Record<string, unknown>): void {
  const attachments = props.attachments;
  if (!Array.isArray(attachments)) return;
  for (const a of attachments) {
    const actions = (a as { actions?: unknown }).actions;
    if (!Array.isArray(actions)) continue;
    for (const action of actions) if (action && typeof action === 'object' && !(action as { id?: unknown }).id) (action as { id: string }).id = newId();
  }
}

/** Posts leave the server without their actions' `integration` (StripActionIntegrations). */
export function stripIntegrations(post: Post): Post {
  const props = structuredClone(post.props);
  const attachments = props.attachments;
  if (Array.isArray(attachments)) {
    for (const a of attachments) {
      const actions = (a as { actions?: unknown }).actions;
      if (Array.isArray(actions)) for (const action of actions) if (action && typeof action === 'object') delete (action as { integration?: unknown }).integration;
    }
  }
  return { ...post, props };
}

export function findAction(post: Post, actionId: string): { id: string; type?: string; data_source?: string; integration?: { url?: string; context?: Record<string, unknown> } } | undefined {
  const attachments = post.props.attachments;
  if (!Array.isArray(attachments)) return undefined;
  for (const a of attachments) {
    const actions = (a as { actions?: unknown }).actions;
    if (!Array.isArray(actions)) continue;
    for (const action of actions) if (action && typeof action === 'object' && (action as { id?: unknown }).id === actionId) return action as ReturnType<typeof findAction>;
  }
  return undefined;
}
