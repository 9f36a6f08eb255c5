/**
 * Composition root: configuration, logger, adapters and the job runner are built here and
 * passed down; nothing below reaches for a global. The CLI, chat and schedules all drive
 * the same runner with the same jobs.
 */
import { recoverInterruptedRestore } from './backup/dump.js';
import { loadEnvFile, readConfig, secretsOf, type Config, type ConfigPurpose } from './config/index.js';
import type { EventSink } from './core/events.js';
import { maintenanceUndoHandlers } from './core/maintenance.js';
import { JobRunner } from './core/plan/runner.js';
import { realClock, type EngineDeps } from './core/upgrade/deps.js';
import { upgradeAssessor, upgradeUndoHandlers } from './core/upgrade/plan.js';
import { DockerodeEngine } from './docker/dockerode-engine.js';
import type { DockerEngine } from './docker/engine.js';
import { createLogger, type Logger } from './logging/logger.js';
import { probeServer } from './mattermost/server-probe.js';
import { recordHistory } from './state/history.js';

export interface AppContext {
  config: Config;
  logger: Logger;
  engine: DockerEngine;
}

export function buildContext(
  purpose: ConfigPurpose,
  { env = process.env, style = 'text' as 'text' | 'json' }: { env?: Record<string, string | undefined>; style?: 'text' | 'json' } = {},
): AppContext {
  const config = readConfig({ ...loadEnvFile(), ...env }, { purpose });
  const logger = createLogger({ level: config.logLevel, secrets: secretsOf(config), style });
  const engine = new DockerodeEngine(config.docker.host, config.docker.registryAuth);
  return { config, logger, engine };
}

export interface Engine {
  deps: EngineDeps;
  runner: JobRunner;
}

export function buildEngine(ctx: AppContext, emit: EventSink): Engine {
  const deps: EngineDeps = { config: ctx.config, engine: ctx.engine, probe: (url) => probeServer(url), clock: realClock };
  const runner = new JobRunner({
    stateDir: ctx.config.bot.stateDir,
    undoHandlers: { ...upgradeUndoHandlers(deps), ...maintenanceUndoHandlers(deps) },
    assessors: { upgrade: upgradeAssessor(deps), rollback: upgradeAssessor(deps) },
    emit: (event) => {
      emit(event);
      if (event.type === 'job-finished') ctx.logger.debug('job finished', { job: event.result.job.id, outcome: event.result.outcome, summary: event.result.summary });
    },
    record: (result) => recordHistory(ctx.config.bot.stateDir, result),
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
