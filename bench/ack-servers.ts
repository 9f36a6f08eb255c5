/**
 * The two servers `npm run bench:ack` loads, in a process of their own (the load generator
 * runs in another): the bot's real webhook server (express app, token check, form parsing,
 * the real chat service with its lock, pending-store and authorisation checks, and an outbox
 * and reporter in a scratch STATE_DIR), whose engine is held at the planning step so that only
 * the webhook path is measured; and a bare Express handler that parses the same form and
 * answers `{}`. Mattermost is the API stand-in of test/ (the bot looks the user up once).
 * Prints `{"bot": port, "bare": port, "token": …}` on stdout when ready.
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Authorizer } from '../src/chat/authorize.js';
import { createChatApp } from '../src/chat/http/app.js';
import { PendingStore } from '../src/chat/pending.js';
import type { Planner } from '../src/chat/planner.js';
import { ChatService } from '../src/chat/service.js';
import { readConfig } from '../src/config/index.js';
import { JobRunner } from '../src/core/plan/runner.js';
import type { EngineDeps } from '../src/core/upgrade/deps.js';
import { messagesFor } from '../src/i18n/index.js';
import { createLogger } from '../src/logging/logger.js';
import { createChatApi } from '../src/mattermost/client.js';
import { Outbox } from '../src/mattermost/outbox.js';
import { MattermostApi } from '../test/mattermost/client.js';
import { startStandIn } from '../test/mattermost/server.js';
import { TOKENS, WORLD } from '../test/mattermost/world.js';

const listen = async (handler: Parameters<typeof createServer>[1]): Promise<number> => {
  const server = createServer(handler);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
};

const mm = await startStandIn();
const world = await new MattermostApi(mm.url).seed(WORLD);
const token = 'benchslashtoken00000000000';
const stateDir = mkdtempSync(join(tmpdir(), 'bench-ack-'));
const config = readConfig({ MM_URL: mm.url, MM_BOT_TOKEN: TOKENS.bot, MM_SLASH_TOKENS: token, MM_TEAM: 'picasoft', BOT_SECRET: 'b'.repeat(40), STATE_DIR: stateDir, LOG_LEVEL: 'warn' }, { purpose: 'serve' });
const log = createLogger({ level: 'warn', secrets: [token, TOKENS.bot] });
const api = createChatApi(mm.url, TOKENS.bot);
const messages = messagesFor('en');
/** The engine, stopped at the planning step: a plan never comes. */
const held: Planner = { plan: () => new Promise(() => undefined), job: () => new Promise(() => undefined) };
const service = new ChatService({
  config,
  messages,
  api,
  outbox: new Outbox({ stateDir, api, team: 'picasoft', log }),
  runner: new JobRunner({ stateDir, undoHandlers: {}, emit: () => undefined }),
  engine: {} as EngineDeps,
  pending: new PendingStore(stateDir),
  authorizer: new Authorizer(api, []),
  planner: held,
  status: () => new Promise(() => undefined),
  log,
  now: Date.now,
});
const bot = await listen(createChatApp({ service, config, messages, log }));

const bare = express();
bare.post('/mattermost/command', express.urlencoded({ extended: false }), (_req, res) => void res.json({}));
const barePort = await listen(bare);

process.stdout.write(JSON.stringify({ bot, bare: barePort, token, userId: world.users['pica-admin']!.id, channelId: world.channels.upgrades!.id, teamId: world.team.id }) + '\n');
process.on('SIGTERM', () => process.exit(0));
