/**
 * `rehearse X.Y.Z`: the target version started on a scratch copy of the database, production
 * serving all along. Steps: check the request (as an upgrade would), a verified dump (the
 * newest when younger than BACKUP_MAX_AGE), pull the target, rehearse. The same rehearsal is a
 * step of `upgrade` (REHEARSAL), before anything is changed.
 */
import { backupFileName, takeBackup, verifyDump } from '../../backup/dump.js';
import { dbTarget } from '../../backup/psql.js';
import { listBackups } from '../../backup/store.js';
import { ErrorCode, ServiceFailedError, UpgradeBotError } from '../../common/errors.js';
import { formatDuration } from '../../config/parse.js';
import { parseVersion } from '../../common/version.js';
import type { RehearsalMode } from '../../config/index.js';
import type { JobDefinition, Step, StepContext, UndoHandler } from '../plan/step.js';
import type { EngineDeps } from '../upgrade/deps.js';
import type { UpgradeState } from '../upgrade/state.js';
import { planMove } from '../upgrade/validate.js';
import { rehearse, type RehearsalReport } from './run.js';
import { removeScratch } from './scratch.js';

export interface RehearseState {
  upgrade: UpgradeState;
  dump?: string;
  report?: RehearsalReport;
  logLines: string[];
}

/** Whether an upgrade from → to is rehearsed first: `auto` when the minor or major version changes. */
export function shouldRehearse(mode: RehearsalMode, from: string, to: string): boolean {
  if (mode !== 'auto') return mode === 'always';
  const a = parseVersion(from);
  const b = parseVersion(to);
  return a.major !== b.major || a.minor !== b.minor;
}

export async function planRehearsal(deps: EngineDeps, target: string): Promise<RehearseState> {
  // Checked like an upgrade (a release, newer, in the registry); a major jump may be rehearsed.
  const upgrade = await planMove(deps, { kind: 'upgrade', target, force: true });
  return { upgrade, logLines: [] };
}

export function describeRehearsal(deps: EngineDeps, s: RehearseState): string[] {
  const u = s.upgrade;
  return [
    `rehearse ${u.from} → ${u.target} on a scratch copy of ${deps.config.db.name}; production keeps serving, untouched`,
    `a verified dump (the newest if younger than ${formatDuration(deps.config.backup.maxAgeMs)}, else a fresh one)`,
    `pull ${u.app.toRef}`,
    `a scratch PostgreSQL from ${u.db.fromRef} with a volume of its own, the dump restored into it`,
    `start ${u.app.toRef} against it (no mail, push, jobs, marketplace or cluster) and wait up to ${formatDuration(deps.config.rehearsal.timeoutMs)} for ${u.target}`,
    'report the restore, start-up and migration times and the error lines; remove every container, volume and network it made',
  ];
}

export function rehearseJob(deps: EngineDeps, state: RehearseState, owner: string): JobDefinition<RehearseState> {
  const u = state.upgrade;
  return {
    kind: 'rehearse',
    owner,
    title: `rehearse ${u.from} → ${u.target}`,
    subject: { from: u.from, to: u.target },
    plan: describeRehearsal(deps, state),
    steps: [validateStep(deps), dumpStep(deps), pullStep(deps), rehearsalStep(deps, (s) => s.upgrade, (s) => s.dump!, (s, r) => (s.report = r), (s, lines) => (s.logLines = lines))],
    state,
    undoneOutcome: (e: UpgradeBotError) => (e.code === ErrorCode.PolicyRefused || e.code === ErrorCode.BadInput ? 'refused' : 'rolled-back'),
    succeeded: (s) => ({ summary: summaryOf(s.report!), details: reportDetails(s.upgrade, s.report) }),
    failed: (s) => ({ ...reportDetails(s.upgrade, s.report), ...(s.logLines.length > 0 ? { logLines: s.logLines } : {}) }),
  };
}

export function summaryOf(r: RehearsalReport): string {
  const migration = r.migrationMs === undefined ? 'no schema change seen' : `migration ${formatDuration(r.migrationMs)}`;
  return `${r.target} started on a copy of the database in ${formatDuration(r.startupMs)} (${migration}; restore ${formatDuration(r.restoreMs)}); production untouched`;
}

export function reportDetails(u: UpgradeState, r: RehearsalReport | undefined): Record<string, unknown> {
  return {
    from: u.from,
    to: u.target,
    ...(r
      ? {
          restoreMs: r.restoreMs,
          startupMs: r.startupMs,
          ...(r.migrationMs !== undefined ? { migrationMs: r.migrationMs } : {}),
          schemaBefore: r.schemaBefore,
          schemaAfter: r.schemaAfter,
          ...(r.logLines.length > 0 ? { logLines: r.logLines } : {}),
          isolation: r.verified,
          ...(r.notVerifiable.length > 0 ? { notVerified: r.notVerifiable } : {}),
        }
      : {}),
  };
}

function validateStep(deps: EngineDeps): Step<RehearseState> {
  return {
    id: 'validate',
    title: 'Check the request',
    run: async ({ state }) => {
      state.upgrade = await planMove(deps, { kind: 'upgrade', target: state.upgrade.target, force: true });
      return `${state.upgrade.from} → ${state.upgrade.target}, ${state.upgrade.app.toRef} is in the registry`;
    },
  };
}

function dumpStep(deps: EngineDeps): Step<RehearseState> {
  const { config, engine, clock } = deps;
  return {
    id: 'backup',
    title: 'Back up the database',
    run: async (ctx) => {
      const db = dbTarget(ctx.state.upgrade.db.container, config.db);
      // Only a dump of this database at the running version: another one would rehearse another migration.
      const prefix = `${backupFileName(config.db.name, ctx.state.upgrade.from, new Date(0)).replace(/-\d{8}T\d{6}Z\.dump$/, '')}-`;
      const newest = (await listBackups(config.backup.dir)).find((b) => b.name.startsWith(prefix));
      if (newest && clock.now() - newest.createdAt.getTime() < config.backup.maxAgeMs) {
        await verifyDump(engine, db, newest.path);
        ctx.state.dump = newest.path;
        return `${newest.path}, ${formatDuration(clock.now() - newest.createdAt.getTime())} old, verified again`;
      }
      const r = await takeBackup(engine, db, {
        dir: config.backup.dir,
        version: ctx.state.upgrade.from,
        keep: config.backup.keep,
        onProgress: (bytes) => ctx.progress('dumping', { current: bytes, unit: 'bytes' }),
      });
      ctx.state.dump = r.path;
      return `${r.path} (verified)`;
    },
  };
}

function pullStep(deps: EngineDeps): Step<RehearseState> {
  return {
    id: 'pull',
    title: 'Pull the new images (no downtime yet)',
    run: async (ctx) => {
      const ref = ctx.state.upgrade.app.toRef;
      await deps.engine.pull(ref, (p) => p.status && ctx.progress(`pulling ${ref}: ${p.status}`));
      return ref;
    },
  };
}

/** The rehearsal itself, as a step of a rehearse job or of an upgrade: journaled cleanup first, the copy removed whatever happens. */
export function rehearsalStep<S>(
  deps: EngineDeps,
  upgradeOf: (s: S) => UpgradeState,
  dumpOf: (s: S) => string,
  keep: (s: S, r: RehearsalReport) => void,
  keepLines: (s: S, lines: string[]) => void,
  skip?: (s: S) => string | undefined,
): Step<S> {
  return {
    id: 'rehearse',
    title: 'Rehearse on a copy of the database',
    ...(skip ? { skip } : {}),
    run: async (ctx: StepContext<S>) => {
      const u = upgradeOf(ctx.state);
      await ctx.registerUndo('rehearsal-scratch', { id: ctx.job.id });
      try {
        const report = await rehearse(
          deps,
          { id: ctx.job.id, target: u.target, targetRef: u.app.toRef, appContainer: u.app.container, dbContainer: u.db.container, dump: dumpOf(ctx.state), timeoutMs: deps.config.rehearsal.timeoutMs },
          (m) => ctx.progress(m),
        );
        keep(ctx.state, report);
        for (const line of report.logLines) ctx.warn(`on the copy: ${line}`);
        if (report.notVerifiable.length > 0) ctx.warn(`not verified on the copy (they need a token valid there: MM_BOT_TOKEN, a bot account's): ${report.notVerifiable.join(', ')}`);
        return summaryOf(report);
      } catch (err) {
        if (err instanceof ServiceFailedError) keepLines(ctx.state, err.logLines);
        // Production was only read: nothing here needs a person (the copy is removed by then).
        if (err instanceof UpgradeBotError && err.code === ErrorCode.HumanNeeded) throw new UpgradeBotError(ErrorCode.Unknown, err.message, { cause: err });
        throw err;
      }
    },
  };
}

export function rehearsalUndoHandlers(deps: EngineDeps): Record<string, UndoHandler> {
  return {
    'rehearsal-scratch': {
      describe: () => 'remove the scratch copy',
      // Never fails an undo chain (a rollback of production must not end as "human needed" for it): said, with the commands.
      run: async (data, ctx) => {
        await removeScratch(deps.engine, (data as { id: string }).id).catch((err: unknown) =>
          ctx.stage('rehearsal-scratch', `the scratch copy could not be removed (${(err as Error).message}): docker ps -a --filter label=org.mattermost-upgrade-bot.rehearsal=${(data as { id: string }).id}`, false),
        );
      },
      manual: (data) => {
        const label = `org.mattermost-upgrade-bot.rehearsal=${(data as { id: string }).id}`;
        return [
          `docker rm -f -v $(docker ps -aq --filter label=${label})`,
          `docker volume rm $(docker volume ls -q --filter label=${label})`,
          `docker network rm $(docker network ls -q --filter label=${label})`,
        ];
      },
    },
  };
}
