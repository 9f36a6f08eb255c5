/**
 * The downtime: stop the app, stop the database (when its image changes) with its grace
 * period, recreate the database from its previous settings with the new image, wait until
 * it really accepts connections, recreate the app, wait until it reports the new version.
 * And its undo, `putBackPrevious`: converge to the previous images the same way, restoring
 * the pre-upgrade dump when the previous version will not come up on the database as it is.
 */
import { dbTarget } from '../../backup/psql.js';
import { recoverInterruptedRestore, restoreDump } from '../../backup/restore.js';
import type { ContainerSpec } from '../../docker/engine.js';
import type { EngineDeps } from './deps.js';
import { ServiceFailedError } from '../../common/errors.js';
import { waitAppHealthy, waitDbReady } from './health.js';
import type { UpgradeState } from './state.js';
import { composeLabelsFor, HASH_MARK_LABEL } from './compose-hash.js';

/** What the undo needs, journaled when the app has been stopped. */
export interface PreviousDeployment {
  app: { container: string; ref: string; version: string; spec: ContainerSpec };
  db: { container: string; ref: string; imageId: string; spec: ContainerSpec | undefined };
  dump: string | undefined;
  project: string;
  files: string[];
  /** The compose files as they were before the job (for the manual commands). */
  savedFiles?: Array<{ file: string; saved: string }>;
  /** The database role in use when the job started (DB_USER, or the db container's POSTGRES_USER). */
  dbUser?: string;
  /** Which containers' compose labels were stale already (changes in the compose file never applied). */
  staleBefore?: Array<'app' | 'db'>;
}

type Progress = (message: string) => void;

/**
 * `beforeDowntime` journals the undo just before the app is stopped: from that moment on a
 * crash can leave the deployment half-switched, and the undo (idempotent) is what brings the
 * previous version back whatever state it finds.
 */
export async function switchImages(deps: EngineDeps, state: UpgradeState, progress: Progress, beforeDowntime: (previous: PreviousDeployment) => Promise<void>): Promise<string> {
  const { engine, config, clock } = deps;
  const { app, db } = state;
  app.spec = await engine.captureSpec(app.container);
  if (db.recreate) db.spec = await engine.captureSpec(db.container);

  await beforeDowntime({
    app: { container: app.container, ref: app.fromRef, version: state.from, spec: app.spec },
    db: { container: db.container, ref: db.fromRef, imageId: db.fromImageId, spec: db.spec },
    dump: state.backup?.path,
    project: state.project,
    files: state.files.files,
    savedFiles: state.savedFiles,
    dbUser: config.db.user,
    staleBefore: [app, db].filter((m) => state.compose?.pending.includes(m.service)).map((m) => m.role),
  });
  const stoppedAt = clock.now();
  state.appStoppedAt = new Date(stoppedAt).toISOString();
  progress(`stopping ${app.container} (grace ${config.app.stopTimeoutS} s)`);
  await engine.stopContainer(app.container, config.app.stopTimeoutS);

  if (db.recreate) {
    progress(`stopping ${db.container} (grace ${config.db.stopTimeoutS} s)`);
    await engine.stopContainer(db.container, config.db.stopTimeoutS);
    await engine.removeContainer(db.container);
    const id = await engine.createFromSpec(recreated(db.spec!, clock.now(), composeLabelsFor(state, db, db.spec!)), db.toRef);
    await engine.startContainer(id);
    progress(`waiting for PostgreSQL (${db.toRef})`);
    const ms = await waitDbReady(deps, db.container, config.upgrade.healthTimeoutMs);
    progress(`PostgreSQL ready after ${ms} ms`);
  }
  if (state.restoreDump) {
    progress(`restoring ${state.restoreDump}`);
    await restoreDump(engine, dbTarget(db.container, config.db), state.restoreDump, { asideName: asideName(config.db.name, clock.now()), markerDir: config.bot.stateDir });
  }

  await engine.removeContainer(app.container);
  const id = await engine.createFromSpec(recreated(app.spec, clock.now(), composeLabelsFor(state, app, app.spec)), app.toRef);
  await engine.startContainer(id);
  progress(`waiting for Mattermost ${state.target} (up to ${Math.round(config.upgrade.healthTimeoutMs / 1000)} s)`);
  await waitAppHealthy(deps, app.container, state.target, config.upgrade.healthTimeoutMs);
  const healthy = clock.now();
  state.healthyAt = new Date(healthy).toISOString();
  return `${state.target} healthy; downtime ${((healthy - stoppedAt) / 1000).toFixed(1)} s${db.recreate ? '' : ' (database kept running)'}`;
}

/**
 * Idempotent: after a crash it may run on any half-switched state. Ends with the previous
 * version healthy, or throws (a human is needed).
 */
export async function putBackPrevious(deps: EngineDeps, prev: PreviousDeployment, stage: (stage: string, message: string, ok?: boolean) => void): Promise<void> {
  const { engine, config, clock } = deps;
  const app = await engine.inspectContainer(prev.app.container);
  if (app) {
    await engine.stopContainer(app.Id, config.app.stopTimeoutS);
    await engine.removeContainer(app.Id);
  }
  if (prev.db.spec) {
    const db = await engine.inspectContainer(prev.db.container);
    // Another image, or the same image under the new tag (recreated so that compose's hash matched it).
    if (!db || db.Image !== prev.db.imageId || db.Config.Image !== prev.db.ref) {
      stage('db', `putting back ${prev.db.ref}`);
      if (db) {
        await engine.stopContainer(db.Id, config.db.stopTimeoutS);
        await engine.removeContainer(db.Id);
      }
      await engine.startContainer(await engine.createFromSpec(recreated(prev.db.spec, clock.now(), putBackMark(prev, 'db')), prev.db.ref));
    } else if (!db.State.Running) {
      await engine.startContainer(db.Id);
    }
  } else {
    const db = await engine.inspectContainer(prev.db.container);
    if (db && !db.State.Running) await engine.startContainer(db.Id);
  }
  await waitDbReady(deps, prev.db.container, config.upgrade.healthTimeoutMs);
  const undone = await recoverInterruptedRestore(engine, config.bot.stateDir);
  if (undone) stage('restore', undone, true);

  stage('app', `putting back ${prev.app.ref}`);
  const id = await engine.createFromSpec(recreated(prev.app.spec, clock.now(), putBackMark(prev, 'app')), prev.app.ref);
  await engine.startContainer(id);
  try {
    await waitAppHealthy(deps, prev.app.container, prev.app.version, config.upgrade.healthTimeoutMs);
    stage('app', `${prev.app.version} is serving again`, true);
    return;
  } catch (err) {
    if (!(err instanceof ServiceFailedError) || !prev.dump) throw err;
    stage('app', `${prev.app.version} does not come up on the database as it is: ${err.message.split('\n')[0]}`, false);
  }

  const aside = asideName(config.db.name, clock.now());
  stage('restore', `restoring the pre-upgrade dump ${prev.dump}; the database as it is now is kept as ${aside}`);
  await engine.stopContainer(prev.app.container, config.app.stopTimeoutS);
  await restoreDump(engine, dbTarget(prev.db.container, { ...config.db, user: prev.dbUser ?? config.db.user }), prev.dump, { asideName: aside, markerDir: config.bot.stateDir });
  await engine.startContainer(prev.app.container);
  await waitAppHealthy(deps, prev.app.container, prev.app.version, config.upgrade.healthTimeoutMs);
  stage('restore', `${prev.app.version} is serving on the restored database`, true);
}

export function manualPutBack(prev: PreviousDeployment, dbUser: string, dbName: string): string[] {
  const compose = `docker-compose -p ${prev.project} ${prev.files.map((f) => `-f '${f}'`).join(' ')}`;
  return [
    ...(prev.savedFiles ?? []).map((f) => `cp '${f.saved}' '${f.file}'   # first: the compose file as it was before the job`),
    `docker stop -t 10 ${prev.app.container}; docker rm ${prev.app.container}`,
    ...(prev.db.spec ? [`docker stop -t 60 ${prev.db.container}; docker rm ${prev.db.container}   # the volumes stay`] : []),
    `${compose} up -d   # with the compose file back at ${prev.app.version}: recreates the previous containers`,
    `curl -fsS <MM_URL>/api/v4/system/ping   # until {"status":"OK"}`,
    ...(prev.dump
      ? [
          `# only if ${prev.app.version} does not start on the database as it is: restore the pre-upgrade dump`,
          `docker stop ${prev.app.container}`,
          `docker exec ${prev.db.container} psql -U ${dbUser} -d postgres -c 'ALTER DATABASE "${dbName}" RENAME TO "${dbName}_failed"' -c 'CREATE DATABASE "${dbName}" OWNER "${dbUser}"'`,
          `docker exec -i ${prev.db.container} pg_restore --exit-on-error --no-owner --role=${dbUser} -U ${dbUser} -d ${dbName} < '${prev.dump}'`,
          `docker start ${prev.app.container}`,
        ]
      : []),
  ];
}

/**
 * When the bot recreated a container. It keeps the compose labels of the one it replaces, but
 * for the config hash (see compose-hash.ts, and HASH_MARK_LABEL for what became of it).
 */
export const RECREATED_LABEL = 'org.mattermost-upgrade-bot.recreated';

function recreated(spec: ContainerSpec, at: number, compose: Record<string, string>): ContainerSpec {
  const labels = { ...((spec.create.Labels as Record<string, string> | undefined) ?? {}), ...compose, [RECREATED_LABEL]: new Date(at).toISOString() };
  return { ...spec, create: { ...spec.create, Labels: labels } };
}

/** The previous container's labels come back with its compose file: right again, unless they were stale already. */
function putBackMark(prev: PreviousDeployment, role: 'app' | 'db'): Record<string, string> {
  return { [HASH_MARK_LABEL]: prev.staleBefore?.includes(role) ? 'stale' : 'kept' };
}

/** `<db>_failed_YYYYMMDD_HHMMSS`, within PostgreSQL's 63-byte identifiers. */
export function asideName(db: string, at: number): string {
  const suffix = `_failed_${new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').replace('T', '_')}`;
  return `${Buffer.from(db).subarray(0, 63 - suffix.length).toString()}${suffix}`;
}

