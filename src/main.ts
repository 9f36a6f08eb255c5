/**
 * Composition root: configuration, logger, adapters and the job runner are built here and
 * passed down; nothing below reaches for a global. The CLI, chat and schedules all drive
 * the same runner with the same jobs.
 */
import { checkpointFrom } from './core/plan/checkpoint.js';
import { recoverInterruptedRestore } from './backup/restore.js';
import { loadEnvFile, readConfig, secretsOf, type Config, type ConfigPurpose } from './config/index.js';
import type { EventSink, JobInfo } from './core/events.js';
import { messagesFor, type Messages } from './i18n/index.js';
import { maintenanceUndoHandlers } from './core/maintenance.js';
import { buildAssessor, buildUndoHandlers } from './core/build/job.js';
import { rehearsalUndoHandlers } from './core/rehearse/job.js';
import { createChatApi, type ChatApi } from './mattermost/client.js';
import { Outbox } from './mattermost/outbox.js';
import { ChatReporterHub, createChatReporter } from './mattermost/reporter.js';
import { JobRunner } from './core/plan/runner.js';
import { realClock, type EngineDeps } from './core/upgrade/deps.js';
import { upgradeAssessor, upgradeUndoHandlers } from './core/upgrade/plan.js';
import { ComposeTool } from './docker/compose-cli/index.js';
import { DockerodeEngine } from './docker/dockerode-engine.js';
import type { DockerEngine } from './docker/engine.js';
import { RegistryCredentials } from './docker/registry-auth.js';
import { createLogger, type Logger } from './logging/logger.js';
import { Redactor } from './logging/redact.js';
import { probeServer } from './mattermost/server-probe.js';
import { recordHistory } from './state/history.js';
import { join } from 'node:path';
import { listBackups } from './backup/store.js';
import { lockHeldText } from './chat/words.js';
import { LockHeldError } from './common/errors.js';
import { backupJob } from './core/maintenance.js';
import type { JobDefinition } from './core/plan/step.js';
import { duration } from './i18n/index.js';
import { BackupSchedule } from './schedule/backups.js';
import { planUpgradeAttachment } from './chat/plan-button.js';
import { scheduleCron } from './schedule/cron.js';

export interface AppContext {
  config: Config;
  logger: Logger;
  engine: DockerEngine;
  compose: ComposeTool;
  /** What logs and chat mask: the configuration's secrets and the Docker config file's passwords. */
  secrets: string[];
}

export function buildContext(
  purpose: ConfigPurpose,
  { env = process.env, style = 'text' as 'text' | 'json' }: { env?: Record<string, string | undefined>; style?: 'text' | 'json' } = {},
): AppContext {
  const config = readConfig({ ...loadEnvFile(), ...env }, { purpose });
  const credentials = RegistryCredentials.of(config.docker);
  // The Docker config file's passwords too (`docker login`): the bot uses them, so it may quote them.
  const secrets = [...secretsOf(config), ...credentials.secrets()];
  const logger = createLogger({ level: config.logLevel, secrets, style });
  const engine = new DockerodeEngine(config.docker.host, credentials);
  const compose = new ComposeTool({ override: config.compose.cli, dockerHost: config.docker.hostText });
  return { config, logger, engine, compose, secrets };
}

export interface Engine {
  deps: EngineDeps;
  runner: JobRunner;
}

export function buildEngine(ctx: AppContext, emit: EventSink): Engine {
  const deps: EngineDeps = { config: ctx.config, engine: ctx.engine, probe: (url) => probeServer(url), clock: realClock, compose: ctx.compose };
  const runner = new JobRunner({
    stateDir: ctx.config.bot.stateDir,
    undoHandlers: { ...upgradeUndoHandlers(deps), ...maintenanceUndoHandlers(deps), ...buildUndoHandlers(deps), ...rehearsalUndoHandlers(deps) },
    assessors: { upgrade: upgradeAssessor(deps), rollback: upgradeAssessor(deps), build: buildAssessor(deps) },
    emit: (event) => {
      emit(event);
      if (event.type === 'job-finished') ctx.logger.debug('job finished', { job: event.result.job.id, outcome: event.result.outcome, summary: event.result.summary });
    },
    record: (result) => recordHistory(ctx.config.bot.stateDir, result),
    checkpoint: checkpointFrom(process.env.MM_UPGRADE_TEST_STOP_AT, ctx.config.bot.stateDir),
    beforeRecovery: async () => {
      try {
        const undone = await recoverInterruptedRestore(ctx.engine, ctx.config.bot.stateDir);
        if (undone) ctx.logger.warn(undone);
      } catch (err) {
        ctx.logger.warn(`an interrupted restore could not be undone yet; it will be before the app starts again: ${(err as Error).message}`);
      }
    },
  });
  return { deps, runner };
}

export interface ChatAdapters {
  messages: Messages;
  api: ChatApi;
  outbox: Outbox;
}

/** The Mattermost side: the catalogue of BOT_LOCALE, the API client (MM_BOT_TOKEN), the outbox in STATE_DIR. */
export function buildChatAdapters(ctx: AppContext): ChatAdapters | undefined {
  const { config, logger } = ctx;
  if (!config.mattermost.botToken) return undefined;
  const api = createChatApi(config.mattermost.url, config.mattermost.botToken);
  const redactor = new Redactor(ctx.secrets);
  const outbox = new Outbox({ stateDir: config.bot.stateDir, api, team: config.mattermost.team, log: logger, redact: (text) => redactor.text(text) });
  return { messages: messagesFor(config.bot.locale), api, outbox };
}

/** One chat reporter per job: in the channel the job names (`replyTo`), else MM_ADMIN_CHANNEL. */
export function buildChatHub(ctx: AppContext, chat: ChatAdapters, accept?: (job: JobInfo) => boolean): ChatReporterHub {
  const { config, logger } = ctx;
  return new ChatReporterHub(
    (job) =>
      createChatReporter({
        outbox: chat.outbox,
        messages: chat.messages,
        timeZone: config.upgrade.timeZone,
        channel: job.replyTo ? { id: job.replyTo.channelId } : { name: config.mattermost.adminChannel },
        announceChannel: { name: config.mattermost.announceChannel },
        resultProps: (result) => {
          // A published build: *Plan upgrade to X.Y.Z* under its result (buttons need BOT_SECRET, i.e. serve).
          // A passed rehearsal likewise.
          const version = result.job.subject?.to;
          if (result.outcome !== 'succeeded' || !version || !config.bot.secret) return undefined;
          const m = chat.messages;
          if (result.job.kind === 'rehearse') return { attachments: [planUpgradeAttachment(config, version, { name: m.rehearse.planButton(version), text: m.rehearse.planText(version) }, Date.now())] };
          const published = Array.isArray(result.details.references) && (result.details.references as Array<{ digest: unknown }>).every((r) => r.digest);
          if (result.job.kind !== 'build' || !published) return undefined;
          return { attachments: [planUpgradeAttachment(config, version, { name: m.build.planButton(version), text: m.build.planText(version) }, Date.now())] };
        },
        onError: (err) => logger.error('chat: a message could not be written to the outbox', { error: err.message }),
      }),
    accept,
    (err) => logger.error('chat: an event could not be shown in chat', { error: err.message }),
  );
}

/**
 * BACKUP_CRON's dumps (the same backup job and lock; a tick while another job runs is skipped
 * and said in MM_ADMIN_CHANNEL) and the warning when the newest dump is older than BACKUP_MAX_AGE.
 */
export function buildBackupSchedule(ctx: AppContext, chat: ChatAdapters, engine: Engine): BackupSchedule {
  const { config, logger } = ctx;
  const m = chat.messages;
  const admin = { name: config.mattermost.adminChannel };
  return new BackupSchedule({
    cron: config.schedules.backupCron,
    timeZone: config.upgrade.timeZone,
    maxAgeMs: config.backup.maxAgeMs,
    now: Date.now,
    runBackup: async () => {
      try {
        await engine.runner.run(backupJob(engine.deps, 'schedule:BACKUP_CRON') as JobDefinition<unknown>);
        return {};
      } catch (err) {
        if (err instanceof LockHeldError) return { skipped: lockHeldText(m, err.holder, config.upgrade.timeZone) };
        throw err;
      }
    },
    newestBackupAt: async () => (await listBackups(config.backup.dir))[0]?.createdAt.getTime(),
    stateFile: join(config.bot.stateDir, 'backup-age-warning.json'),
    warnStale: (newest) =>
      chat.outbox.enqueue({
        kind: 'create',
        key: `backup-stale:${newest ?? 'none'}`,
        channel: admin,
        message: newest === undefined ? m.backups.none(duration(m, config.backup.maxAgeMs)) : m.backups.stale(duration(m, Date.now() - newest), duration(m, config.backup.maxAgeMs)),
      }),
    noteSkipped: (holder) => chat.outbox.enqueue({ kind: 'create', key: `backup-skipped:${Date.now()}`, channel: admin, message: m.backups.skipped(holder) }),
    schedule: scheduleCron,
    log: (message, err) => logger.warn(message, { error: err instanceof Error ? err.message : String(err) }),
  });
}

export interface ChatNotifier {
  sink: EventSink;
  /**
   * Writes what is left and delivers what it can: within `waitMs` when this run wrote
   * messages, a single quick try otherwise (a `status` while Mattermost is down must not wait).
   * Returns how many messages still wait, and whether this run wrote any.
   */
  finish(waitMs: number): Promise<{ left: number; wrote: boolean }>;
}

/**
 * For the CLI: upgrades, rollbacks and restores are shown in MM_ADMIN_CHANNEL and announced
 * like chat's own, through the same outbox (what cannot be delivered before the CLI exits
 * waits there for `serve` or the next run). Undefined without MM_BOT_TOKEN.
 */
export function buildChatNotifier(ctx: AppContext): ChatNotifier | undefined {
  const chat = buildChatAdapters(ctx);
  if (!chat) return undefined;
  let wrote = false;
  const hub = buildChatHub(ctx, chat, (job) => {
    const shown = job.kind === 'upgrade' || job.kind === 'rollback' || job.kind === 'restore';
    wrote ||= shown;
    return shown;
  });
  chat.outbox.start();
  return {
    sink: hub.sink,
    finish: async (waitMs) => {
      await hub.settled();
      chat.outbox.stop();
      const left = await chat.outbox.drain(Date.now() + (wrote ? waitMs : Math.min(waitMs, 1_500)));
      return { left, wrote };
    },
  };
}
