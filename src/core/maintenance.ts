/**
 * The maintenance jobs: a verified dump on demand, a restore (app stopped meanwhile, a
 * safety dump first, the current database kept aside), and REINDEX DATABASE after a dump.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { takeBackup, verifyDump, type BackupResult } from '../backup/dump.js';
import { dbTarget, type DbTarget } from '../backup/psql.js';
import { recoverInterruptedRestore, restoreDump } from '../backup/restore.js';
import { formatDuration } from '../config/parse.js';
import { parseImageRef } from '../docker/compose/index.js';
import { resolveDeployment } from '../docker/deployment.js';
import { BadInputError } from '../common/errors.js';
import type { JobDefinition, Step, UndoHandler } from './plan/step.js';
import type { EngineDeps } from './upgrade/deps.js';
import { waitAppHealthy } from './upgrade/health.js';
import { asideName } from './upgrade/switch.js';

export interface MaintenanceState {
  db: DbTarget | undefined;
  app: string | undefined;
  version: string | undefined;
  backup: BackupResult | undefined;
  dump?: string;
  asideName?: string;
  reindexMs?: number;
}

type S = MaintenanceState;

function locateStep(deps: EngineDeps): Step<S> {
  return {
    id: 'locate',
    title: 'Find the database',
    run: async ({ state }) => {
      const d = await resolveDeployment(deps.config, deps.engine);
      if (!d.db.container) throw new BadInputError(`no container runs service "${d.db.service}"`, 'Start the deployment first.');
      state.db = dbTarget(d.db.container.Name.replace(/^\//, ''), deps.config.db);
      state.app = d.app.container?.Name.replace(/^\//, '');
      state.version = d.app.container ? (parseImageRef(d.app.container.Config.Image).tag ?? 'unknown') : 'unknown';
      return `${state.db.name} in ${state.db.container}`;
    },
  };
}

function backupStep(deps: EngineDeps, title = 'Back up the database'): Step<S> {
  return {
    id: 'backup',
    title,
    run: async (ctx) => {
      const result = await takeBackup(deps.engine, ctx.state.db!, {
        dir: deps.config.backup.dir,
        version: ctx.state.version ?? 'unknown',
        keep: deps.config.backup.keep,
        onProgress: (bytes) => ctx.progress('dumping', { current: bytes, unit: 'bytes' }),
        protect: ctx.state.dump ? [ctx.state.dump] : [],
      });
      ctx.state.backup = result;
      for (const w of result.warnings ?? []) ctx.warn(w);
      return `${result.path} (${(result.sizeBytes / 1e6).toFixed(1)} MB, ${result.entries} entries, verified, ${formatDuration(result.durationMs)})`;
    },
  };
}

const blank = (): S => ({ db: undefined, app: undefined, version: undefined, backup: undefined });

export function backupJob(deps: EngineDeps, owner: string): JobDefinition<S> {
  return {
    kind: 'backup',
    owner,
    title: 'backup',
    plan: [`dump ${deps.config.db.name} with pg_dump -Fc into ${deps.config.backup.dir}, verify it, keep the ${deps.config.backup.keep} newest`],
    steps: [locateStep(deps), backupStep(deps)],
    state: blank(),
    succeeded: (s) => ({ summary: `verified dump ${s.backup!.path}`, details: { backup: s.backup!.path, sizeBytes: s.backup!.sizeBytes, entries: s.backup!.entries, durationMs: s.backup!.durationMs } }),
  };
}

export function restoreJob(deps: EngineDeps, owner: string, dumpPath: string): JobDefinition<S> {
  const dump = resolve(dumpPath);
  return {
    kind: 'restore',
    owner,
    title: `restore ${dump}`,
    subject: { dump },
    plan: [
      `verify ${dump}`,
      'take a safety dump of the database as it is now',
      `stop the app, keep the current database aside under a new name, restore the dump into a fresh ${deps.config.db.name}`,
      'start the app and wait until it is healthy',
    ],
    steps: [
      locateStep(deps),
      {
        id: 'verify-dump',
        title: 'Check the dump',
        run: async ({ state }) => {
          if (!existsSync(dump)) throw new BadInputError(`${dump} does not exist`, `The dumps are in ${deps.config.backup.dir}; mm-upgrade status shows the newest.`);
          const { entries } = await verifyDump(deps.engine, state.db!, dump);
          state.dump = dump;
          return `${entries} entries, readable to the end`;
        },
      },
      backupStep(deps, 'Take a safety dump first'),
      {
        id: 'stop-app',
        title: 'Stop the app',
        run: async (ctx) => {
          if (!ctx.state.app) return 'no app container';
          await ctx.registerUndo('start-app', { container: ctx.state.app, version: ctx.state.version });
          await deps.engine.stopContainer(ctx.state.app, deps.config.app.stopTimeoutS);
          return ctx.state.app;
        },
      },
      {
        id: 'restore',
        title: 'Restore the dump',
        run: async (ctx) => {
          const aside = asideName(deps.config.db.name, deps.clock.now());
          const r = await restoreDump(deps.engine, ctx.state.db!, dump, { asideName: aside, onProgress: (m) => ctx.progress(m), markerDir: deps.config.bot.stateDir });
          ctx.state.asideName = r.asideName;
          return `restored in ${formatDuration(r.durationMs)}; the previous database is kept as ${r.asideName}`;
        },
      },
      {
        id: 'start-app',
        title: 'Start the app',
        run: async ({ state }) => {
          if (!state.app) return 'no app container';
          await deps.engine.startContainer(state.app);
          await waitAppHealthy(deps, state.app, state.version!, deps.config.upgrade.healthTimeoutMs);
          return `${state.version} healthy`;
        },
      },
    ],
    state: blank(),
    succeeded: (s) => ({
      summary: `restored ${dump}`,
      details: { restored: dump, backup: s.backup?.path, keptAside: s.asideName },
    }),
  };
}

export function reindexJob(deps: EngineDeps, owner: string): JobDefinition<S> {
  const name = deps.config.db.name;
  return {
    kind: 'reindex',
    owner,
    title: `reindex ${name}`,
    plan: [`dump ${name} and verify the dump`, `REINDEX DATABASE ${name} (writes wait while an index is rebuilt)`],
    steps: [
      locateStep(deps),
      backupStep(deps),
      {
        id: 'reindex',
        title: `REINDEX DATABASE ${name}`,
        run: async (ctx) => {
          const db = ctx.state.db!;
          const started = deps.clock.now();
          const r = await deps.engine.exec(db.container, ['psql', '-v', 'ON_ERROR_STOP=1', '-U', db.user, '-d', db.name, '-c', `REINDEX DATABASE "${db.name.replace(/"/g, '""')}"`]);
          if (r.exitCode !== 0) throw new Error(`REINDEX failed (exit code ${r.exitCode}): ${r.stderr.trim()}`);
          ctx.state.reindexMs = deps.clock.now() - started;
          return `done in ${formatDuration(ctx.state.reindexMs)}`;
        },
      },
    ],
    state: blank(),
    succeeded: (s) => ({ summary: `reindexed ${name} in ${formatDuration(s.reindexMs ?? 0)}`, details: { backup: s.backup?.path, reindexMs: s.reindexMs } }),
  };
}

export function maintenanceUndoHandlers(deps: EngineDeps): Record<string, UndoHandler> {
  return {
    'start-app': {
      describe: (data) => `start ${(data as { container: string }).container} again`,
      run: async (data) => {
        const { container, version } = data as { container: string; version: string };
        await recoverInterruptedRestore(deps.engine, deps.config.bot.stateDir);
        await deps.engine.startContainer(container);
        await waitAppHealthy(deps, container, version, deps.config.upgrade.healthTimeoutMs);
      },
      manual: (data) => [`docker start ${(data as { container: string }).container}`],
    },
  };
}
