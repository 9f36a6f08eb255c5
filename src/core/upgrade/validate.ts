/**
 * Before anything changes: what the upgrade would do, and whether it may. Everything here
 * only reads; a refusal says why and what to type instead.
 */
import { mkdir, statfs } from 'node:fs/promises';
import { verifyDump } from '../../backup/dump.js';
import { databaseSize, dbTarget, pgIsReady } from '../../backup/psql.js';
import { inWindow } from '../../schedule/window.js';
import { formatImageRef, parseImageRef } from '../../docker/compose/index.js';
import { resolveDeployment, runsPinnedImage, type ServiceTarget } from '../../docker/deployment.js';
import { BadInputError, ErrorCode, PolicyError, UpgradeBotError } from '../../common/errors.js';
import { compareVersions, isStrictVersion, parseVersion } from '../../common/version.js';
import { lookAtCompose } from './compose-hash.js';
import { assertWritable, composeDigests } from './compose-guard.js';
import type { EngineDeps } from './deps.js';
import { changelogUrl, type ServiceMove, type UpgradeState } from './state.js';

export interface PlanInput {
  kind: 'upgrade' | 'rollback';
  target: string;
  force: boolean;
  restoreDump?: string;
}

/** Resolves the deployment and works out which images move where. */
export async function planMove(deps: EngineDeps, input: PlanInput): Promise<UpgradeState> {
  const target = parseVersion(input.target).text;
  const { config, engine } = deps;
  const d = await resolveDeployment(config, engine);
  for (const t of [d.app, d.db]) {
    if (!t.container) {
      throw new BadInputError(`no container runs service "${t.service}" (${t.containerName ?? `compose project ${d.project}`})`, 'Start the deployment first (docker-compose up -d), or set APP_CONTAINER / DB_CONTAINER.', { key: 'deploy.no-container', params: { service: t.service } });
    }
    if (t.compose.tagProblem) throw new BadInputError(t.compose.tagProblem);
  }
  const from = currentTag(d.app);
  if (!isStrictVersion(from)) {
    throw new BadInputError(`the app container runs tag "${from}", not a release version X.Y.Z: cannot tell which version is running`, 'Pin the app image to its exact version in the compose file first.', { key: 'deploy.tag-not-release', params: { tag: from } });
  }
  // The db tag as pinned: after a release whose db image did not change, the container still
  // runs the older tag of the same image while the compose file pins the release's.
  const dbTag = d.db.compose.ref.tag ?? currentTag(d.db);
  const dbFollows = config.db.followsApp === 'auto' ? dbTag === from : config.db.followsApp === 'true';

  if (input.kind === 'upgrade') {
    const order = compareVersions(target, from);
    if (order === 0) throw new BadInputError(`${target} is already running`, 'Nothing to do; `mm-upgrade status` shows the deployment.', { key: 'upgrade.same', params: { target } });
    if (order < 0) throw new BadInputError(`${target} is older than the running ${from}: an upgrade only goes forward`, 'To go back to the version before the last upgrade, use `mm-upgrade rollback`.', { key: 'upgrade.older', params: { target, from } });
    if (parseVersion(target).major > parseVersion(from).major && !input.force) {
      throw new PolicyError(
        `${from} → ${target} is a major-version jump: Mattermost only guarantees migrations from the last ESR of a major line`,
        `Upgrade to the last ESR of ${parseVersion(from).major}.x first (see the upgrade notes), or add --force if you have checked the path.`,
        { key: 'upgrade.major', params: { from, target, major: parseVersion(from).major } },
      );
    }
  }

  const move = (t: ServiceTarget, moves: boolean): ServiceMove => {
    const fromTag = t.compose.ref.tag ?? currentTag(t);
    const toTag = moves ? target : fromTag;
    return {
      role: t.role,
      service: t.service,
      container: t.container!.Name.replace(/^\//, ''),
      repository: t.repository,
      fromTag,
      toTag,
      fromRef: t.container!.Config.Image,
      toRef: formatImageRef({ name: t.repository, tag: toTag }),
      fromImageId: t.container!.Image,
      toImageId: moves ? undefined : t.container!.Image,
      moves,
      recreate: false,
      spec: undefined,
    };
  };
  const app = move(d.app, true);
  const db = move(d.db, dbFollows);

  for (const m of [app, db].filter((x) => x.moves)) {
    const manifest = await engine.registryManifest(m.toRef);
    if (!manifest) {
      throw new UpgradeBotError(ErrorCode.NotFound, `${m.toRef} does not exist in its registry (or the registry refused to say: check REGISTRY_USER)`, {
        hint: `Check the version number${m.role === 'db' ? ', and that the db image was published for this release' : ''}; nothing was changed.`,
        tag: { key: 'registry.missing', params: { ref: m.toRef } },
      });
    }
  }
  return {
    kind: input.kind,
    from,
    target,
    force: input.force,
    composeDigests: await composeDigests(d.files),
    restoreDump: input.restoreDump,
    files: d.files,
    project: d.project,
    app,
    db,
    backup: undefined,
    appStoppedAt: undefined,
    healthyAt: undefined,
    logLines: [],
    changelog: changelogUrl(config.upgrade.changelogUrl, target),
    removedImages: [],
    savedFiles: [],
    compose: await lookAtCompose(deps.compose, d),
  };
}

function currentTag(t: ServiceTarget): string {
  return parseImageRef(t.container!.Config.Image).tag ?? 'latest';
}

/** Maintenance window, current health, compose/containers agreement, room for a dump. */
export async function precheck(deps: EngineDeps, state: UpgradeState): Promise<string> {
  const { config, engine, probe, clock } = deps;
  const window = config.upgrade.maintenanceWindow;
  if (!state.force && !state.overrideWindow && !inWindow(window, new Date(clock.now()), config.upgrade.timeZone)) {
    throw new PolicyError(`it is outside the maintenance window ${window.text} (${config.upgrade.timeZone})`, 'Schedule it inside the window, or add --force.', { key: 'precheck.window', params: { window: window.text, tz: config.upgrade.timeZone } });
  }
  // One bad answer under a load spike is not an unhealthy server: three tries, a second apart.
  let server = await probe(config.mattermost.url);
  for (let tries = 1; !server.pingOk && tries < 3; tries++) {
    await clock.sleep(1_000);
    server = await probe(config.mattermost.url);
  }
  if (!server.pingOk) {
    throw new PolicyError(`the running Mattermost is not healthy (${server.error ?? 'ping failed'}): an upgrade needs a healthy starting point to roll back to`, 'Fix the current deployment first; `mm-upgrade status` shows what is wrong.', { key: 'precheck.unhealthy', params: { error: server.error ?? 'ping failed' } });
  }
  if (server.version !== state.from) {
    throw new PolicyError(`the server reports version ${server.version ?? 'unknown'} but its container runs ${state.from}`, 'Check that MM_URL points at this deployment.', { key: 'precheck.version-mismatch', params: { reported: server.version ?? 'unknown', running: state.from } });
  }
  const db = dbTarget(state.db.container, config.db);
  if (!(await pgIsReady(engine, db))) throw new PolicyError(`PostgreSQL in ${state.db.container} does not accept connections`, 'Fix the database first; nothing was changed.', { key: 'precheck.db-not-ready', params: { container: state.db.container } });
  const d = await resolveDeployment(config, engine);
  await assertWritable([...new Set([state.app, state.db].filter((m) => m.moves).map((m) => (m.role === 'app' ? d.app : d.db).compose.tagSource.file))]);
  for (const t of [d.app, d.db]) {
    if (!(await runsPinnedImage(engine, t))) {
      throw new PolicyError(
        `${t.service}: the compose file pins ${t.compose.resolved} but the container runs ${t.container!.Config.Image}`,
        'Bring them into agreement first (docker-compose up -d, or fix the file), so a rollback has a true previous state.',
        { key: 'precheck.drift', params: { service: t.service, pinned: t.compose.resolved, running: t.container!.Config.Image } },
      );
    }
  }
  if (state.restoreDump) await verifyDump(engine, db, state.restoreDump);
  const size = await databaseSize(engine, db);
  await mkdir(config.backup.dir, { recursive: true, mode: 0o700 });
  const fs = await statfs(config.backup.dir);
  const free = fs.bavail * fs.bsize;
  if (free < size) {
    throw new PolicyError(
      `not enough free space in ${config.backup.dir} for a dump: ${Math.round(free / 1e6)} MB free, the database is ${Math.round(size / 1e6)} MB`,
      'Free some space or point BACKUP_DIR elsewhere.',
      { key: 'precheck.no-space', params: { dir: config.backup.dir, free: Math.round(free / 1e6), size: Math.round(size / 1e6) } },
    );
  }
  return `healthy ${state.from}, ${Math.round(size / 1e6)} MB database, ${Math.round(free / 1e9)} GB free`;
}

/** A PostgreSQL major change cannot run on the existing data directory (it needs pg_upgrade). */
export async function checkPostgresMajor(deps: EngineDeps, state: UpgradeState): Promise<void> {
  const image = await deps.engine.inspectImage(state.db.toRef);
  const env = Object.fromEntries((image?.Config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const labels = image?.Config.Labels ?? {};
  const newMajor = env.PG_MAJOR ?? Object.entries(labels).find(([k]) => /postgres.*major|pg[._-]?major/i.test(k))?.[1] ?? env.PG_VERSION?.split('.')[0];
  const r = await deps.engine.exec(state.db.container, ['sh', '-c', 'cat "${PGDATA:-/var/lib/postgresql/data}/PG_VERSION"'], { timeoutMs: 10_000 });
  const dataMajor = r.exitCode === 0 ? r.stdout.trim() : undefined;
  if (newMajor && dataMajor && newMajor !== dataMajor && !state.force) {
    throw new PolicyError(
      `${state.db.toRef} runs PostgreSQL ${newMajor} but the data directory is PostgreSQL ${dataMajor}: it would not start on it`,
      'A PostgreSQL major upgrade needs pg_upgrade or a dump and restore into a fresh volume; add --force only if the image handles it itself.',
      { key: 'postgres.major', params: { ref: state.db.toRef, image: newMajor, data: dataMajor } },
    );
  }
}
