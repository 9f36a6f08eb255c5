/** What the chat interface is given (built in main.ts), and the shapes of what Mattermost sends and gets back. */
import type { Config } from '../config/index.js';
import type { JobRunner } from '../core/plan/runner.js';
import type { EngineDeps } from '../core/upgrade/deps.js';
import type { Messages } from '../i18n/index.js';
import type { ChatApi } from '../mattermost/client.js';
import type { Outbox } from '../mattermost/outbox.js';
import type { StatusReport } from '../status/collect.js';
import type { Authorizer } from './authorize.js';
import type { PendingStore } from './pending.js';
import type { Planner } from './planner.js';

export interface ChatLog {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
}

export interface ChatDeps {
  config: Config;
  messages: Messages;
  api: ChatApi;
  outbox: Outbox;
  runner: JobRunner;
  engine: EngineDeps;
  pending: PendingStore;
  authorizer: Authorizer;
  planner: Planner;
  status: () => Promise<StatusReport>;
  log: ChatLog;
  now: () => number;
}

/** A slash command as Mattermost sends it (form fields; the 5.x set and the current one). */
export interface SlashRequest {
  userId: string;
  userName: string;
  channelId: string;
  teamId: string;
  /** `/upgrade`, as typed (lower case). */
  command: string;
  text: string;
  responseUrl: string | undefined;
}

/** The CommandResponse the bot answers with. */
export interface SlashReply {
  response_type: 'ephemeral' | 'in_channel';
  text: string;
}

/** A button click as Mattermost sends it (PostActionIntegrationRequest). */
export interface ActionRequest {
  userId: string;
  channelId: string;
  postId: string;
  context: unknown;
}

/** The PostActionIntegrationResponse: `update` replaces the clicked post (no props: no buttons). */
export interface ActionReply {
  update?: { message: string; props: Record<string, unknown> };
  ephemeral_text?: string;
}

export const ephemeral = (text: string): SlashReply => ({ response_type: 'ephemeral', text });
