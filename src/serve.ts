/**
 * `mm-upgrade serve`: the webhook server, the outbox and the jobs chat starts, on the same
 * engine as the CLI. It listens first (ready in a few milliseconds), then takes up a job an
 * earlier process left interrupted and delivers what its outbox holds.
 *
 * On SIGTERM or SIGINT it stops taking commands, lets the running job reach its next journal
 * write (a step in flight may finish meanwhile, within a grace period) and stops it there,
 * flushes what it can of the outbox, and exits; the next start recovers the job as the CLI
 * does. A second signal exits at once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Authorizer } from './chat/authorize.js';
import { createChatApp } from './chat/http/app.js';
import { PendingStore } from './chat/pending.js';
import { enginePlanner } from './chat/planner.js';
import { ChatService } from './chat/service.js';
import { ConfigError } from './common/errors.js';
import { buildBackupSchedule, buildChatAdapters, buildChatHub, buildEngine, type AppContext } from './main.js';
import { registerCommand } from './mattermost/register.js';
import { ReleaseWatch } from './chat/releases.js';
import { scheduleCron } from './schedule/cron.js';
import { readHistory } from './state/history.js';
import { collectStatus } from './status/collect.js';

/**
 * How long a client may take to send a request. Node's defaults (60 s for the headers, 300 s
 * for the whole request, checked every 30 s) let a client that sends its body slowly, or stops
 * half-way, hold a connection for up to five and a half minutes (the request-fuzzing test found it).
 * Mattermost sends a few hundred bytes at once and gives up itself after 30 s, so a request not
 * received within 15 s (headers within 10 s) is answered 408 and its connection closed; checked
 * every second, so the bound is the timeout plus at most one second.
 */
export const HTTP_LIMITS = { headersTimeout: 10_000, requestTimeout: 15_000, connectionsCheckingInterval: 1_000 } as const;

export interface ServeOptions {
  /** Resolves to stop the server (default: the first SIGTERM or SIGINT). */
  stopWhen?: Promise<string>;
  /** How long a running step may go on before the process stops anyway. */
  stepGraceMs?: number;
  /** How long the outbox may try to deliver on the way out. */
  flushMs?: number;
  onListening?: (address: string) => void;
}

export async function serve(ctx: AppContext, opts: ServeOptions = {}): Promise<number> {
  const { config, logger: log } = ctx;
  const chat = buildChatAdapters(ctx);
  if (!chat) throw new ConfigError(['MM_BOT_TOKEN is required to run `serve` (a bot or personal access token)']);
  const hub = buildChatHub(ctx, chat);
  const engine = buildEngine(ctx, hub.sink);
  const service = new ChatService({
    config,
    messages: chat.messages,
    api: chat.api,
    outbox: chat.outbox,
    runner: engine.runner,
    engine: engine.deps,
    pending: new PendingStore(config.bot.stateDir),
    authorizer: new Authorizer(chat.api, config.mattermost.allowedUsers),
    planner: enginePlanner(engine.deps),
    status: async () => collectStatus({ config, engine: ctx.engine, compose: ctx.compose, history: await readHistory(config.bot.stateDir) }),
    log,
    now: Date.now,
  });
  const server = createServer(HTTP_LIMITS, createChatApp({ service, config, messages: chat.messages, log }));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.bot.port, config.bot.bindAddress, () => resolve());
  });
  const address = addressOf(server);
  log.info('serve: listening', { address, publicUrl: config.bot.publicUrl, locale: config.bot.locale });
  opts.onListening?.(address);

  service.start();
  chat.outbox.start();
  const backups = buildBackupSchedule(ctx, chat, engine);
  backups.start();
  const releases = new ReleaseWatch({
    config,
    messages: chat.messages,
    engine: ctx.engine,
    outbox: chat.outbox,
    now: Date.now,
    log,
    schedule: scheduleCron,
  });
  releases.start();
  void engine.runner.recoverInterrupted().then(
    (results) => {
      for (const r of results) log.warn('serve: took up an interrupted job', { job: r.job.id, title: r.job.title, outcome: r.outcome, summary: r.summary });
    },
    (err: unknown) => log.error('serve: an interrupted job could not be taken up', { error: (err as Error).message }),
  );
  if (config.mattermost.registerCommand) {
    void registerCommand(chat.api, { team: config.mattermost.team!, publicUrl: config.bot.publicUrl }).then(
      (r) => {
        // A command created now has a token nobody could put in MM_SLASH_TOKENS yet: accept it.
        if (!config.mattermost.slashTokens.includes(r.token)) config.mattermost.slashTokens.push(r.token);
        log.info(`serve: the /upgrade command is ${r.action}`, { team: r.team, url: r.url, hint: r.action === 'created' ? 'mm-upgrade register-command prints its token for MM_SLASH_TOKENS' : undefined });
      },
      (err: unknown) => log.error('serve: could not register the /upgrade command', { error: (err as Error).message }),
    );
  }

  const signal = await (opts.stopWhen ?? firstSignal());
  log.info('serve: stopping', { signal });
  if (!opts.stopWhen) {
    void firstSignal().then((again) => {
      log.warn('serve: stopping at once', { signal: again });
      process.exit(130);
    });
  }
  backups.stop();
  releases.stop();
  await service.stop(1_000);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await engine.runner.halt(opts.stepGraceMs ?? 4_000);
  await hub.settled();
  chat.outbox.stop();
  const left = await chat.outbox.drain(Date.now() + (opts.flushMs ?? 3_000));
  server.closeAllConnections();
  await closed;
  log.info('serve: stopped', { jobInterrupted: engine.runner.busy > 0, chatMessagesLeft: left });
  return 0;
}

function firstSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(s);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

function addressOf(server: Server): string {
  const a = server.address() as AddressInfo;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
