/**
 * What a chat request turns into: the facts its plan shows (the engine's own planning, the
 * newest dump, the history, the running PostgreSQL), and, once confirmed, the engine job.
 * Refusals are the engine's own errors, tagged so that chat words them in its language.
 */
import { listBackups } from '../backup/store.js';
import { PolicyError } from '../common/errors.js';
import { backupJob, reindexJob } from '../core/maintenance.js';
import { buildJob } from '../core/build/job.js';
import { planBuild } from '../core/build/plan.js';
import { planRehearsal, rehearseJob } from '../core/rehearse/job.js';
import type { JobDefinition } from '../core/plan/step.js';
import type { EngineDeps } from '../core/upgrade/deps.js';
import { upgradeJob } from '../core/upgrade/plan.js';
import { planRollback } from '../core/upgrade/rollback.js';
import { planMove } from '../core/upgrade/validate.js';
import { inWindow, nextWindowStart } from '../schedule/window.js';
import { wallText } from '../schedule/zoned.js';
import { resolveDeployment } from '../docker/deployment.js';
import { readHistory } from '../state/history.js';
import type { Pending } from './pending.js';
import type { PlanFacts } from './render.js';

export type PlanKind = Pending['kind'];

export interface PlanRequest {
  kind: PlanKind;
  target?: string;
  withDb?: boolean;
  /** An upgrade scheduled for this instant (checked against the window then, not now). */
  at?: number;
  /** Run now although it is outside the maintenance window: who decided so. */
  overrideWindow?: string;
  atNote?: 'gap' | 'repeated';
}

export interface Planner {
  /** The facts of a plan, or a tagged engine error saying why there is none. */
  plan(request: PlanRequest, requestedBy: string): Promise<PlanFacts>;
  /** The engine job for a confirmed request, planned again now (time has passed). */
  job(request: PlanRequest, owner: string): Promise<JobDefinition<unknown>>;
}

export function enginePlanner(deps: EngineDeps): Planner {
  const { config } = deps;
  const stateOf = async (request: PlanRequest) => {
    if (request.kind === 'upgrade') {
      const state = await planMove(deps, { kind: 'upgrade', target: request.target!, force: false });
      return request.overrideWindow ? { ...state, overrideWindow: request.overrideWindow } : state;
    }
    if (request.kind === 'rollback') return planRollback(deps, await readHistory(config.bot.stateDir), { withDb: Boolean(request.withDb) });
    return undefined;
  };
  /** From chat a build always pushes, the team edition, from BUILD_CONTEXT; a version mismatch is refused (--set-version stays on the host). */
  const buildState = (request: PlanRequest) =>
    planBuild(deps, { version: request.target!, context: config.build.context, push: true, edition: 'team', setVersion: false });
  return {
    plan: async (request, requestedBy) => {
      if (request.kind === 'rehearse') {
        // Production is not touched either; a rehearsal loads the host, hence the confirmation.
        const [rehearse, backups, history] = await Promise.all([planRehearsal(deps, request.target!), listBackups(config.backup.dir), readHistory(config.bot.stateDir)]);
        return { kind: 'rehearse', rehearse, newestBackup: backups[0], history, requestedBy, now: deps.clock.now() };
      }
      if (request.kind === 'build') {
        // Production is not touched: no window, no database check.
        const [build, backups, history] = await Promise.all([buildState(request), listBackups(config.backup.dir), readHistory(config.bot.stateDir)]);
        return { kind: 'build', build, newestBackup: backups[0], history, requestedBy, now: deps.clock.now() };
      }
      const state = await stateOf(request);
      const now = deps.clock.now();
      const window = config.upgrade.maintenanceWindow;
      const tz = config.upgrade.timeZone;
      if (state && request.at !== undefined && !inWindow(window, request.at, tz)) {
        const next = nextWindowStart(window, request.at, tz);
        throw new PolicyError(`${new Date(request.at).toISOString()} is outside the maintenance window ${window.text} (${tz})`, undefined, {
          key: 'schedule.outside-window',
          params: { when: wallText(request.at, tz), window: window.text, tz, next: wallText(next, tz) },
        });
      }
      let outside: { next: number } | undefined;
      if (state && request.at === undefined && !inWindow(window, new Date(now), tz)) {
        // An upgrade asked outside the window is offered for the next window start, or now anyway.
        if (request.kind === 'upgrade') outside = { next: nextWindowStart(window, now, tz) };
        else {
          throw new PolicyError(`it is outside the maintenance window ${window.text} (${tz})`, undefined, {
            key: 'precheck.window',
            params: { window: window.text, tz },
          });
        }
      }
      const d = await resolveDeployment(config, deps.engine);
      if (!d.db.container) throw new PolicyError(`no container runs service "${d.db.service}"`, undefined, { key: 'deploy.no-container', params: { service: d.db.service } });
      const [backups, history, pgMajor] = await Promise.all([listBackups(config.backup.dir), readHistory(config.bot.stateDir), postgresMajor(deps, d.db.container.Name.replace(/^\//, ''))]);
      return {
        kind: request.kind,
        ...(state ? { state } : {}),
        newestBackup: backups[0],
        history,
        requestedBy,
        now,
        ...(pgMajor ? { pgMajor } : {}),
        ...(request.at !== undefined ? { at: request.at, ...(request.atNote ? { atNote: request.atNote } : {}) } : {}),
        ...(outside ? { outside } : {}),
      };
    },
    job: async (request, owner) => {
      if (request.kind === 'build') return buildJob(deps, await buildState(request), owner) as JobDefinition<unknown>;
      if (request.kind === 'rehearse') return rehearseJob(deps, await planRehearsal(deps, request.target!), owner) as JobDefinition<unknown>;
      const state = await stateOf(request);
      if (state) return upgradeJob(deps, state, owner) as JobDefinition<unknown>;
      return (request.kind === 'backup' ? backupJob(deps, owner) : reindexJob(deps, owner)) as JobDefinition<unknown>;
    },
  };
}

/** The PostgreSQL major version of the running database (its data directory's PG_VERSION), when it can be read quickly. */
async function postgresMajor(deps: EngineDeps, container: string): Promise<number | undefined> {
  try {
    const r = await deps.engine.exec(container, ['sh', '-c', 'cat "${PGDATA:-/var/lib/postgresql/data}/PG_VERSION"'], { timeoutMs: 5_000 });
    const major = Number(r.stdout.trim());
    return r.exitCode === 0 && Number.isInteger(major) && major > 0 ? major : undefined;
  } catch {
    return undefined;
  }
}
