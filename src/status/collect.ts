/**
 * `status`: what runs (tags, server version, health), what the compose file pins, the
 * drift between the two, the newest backup and the running job.
 */
import { dbTarget, pgIsReady } from '../backup/psql.js';
import { listBackups } from '../backup/store.js';
import type { Config } from '../config/index.js';
import { parseImageRef } from '../docker/compose/index.js';
import { resolveDeployment, runsPinnedImage, type ServiceTarget } from '../docker/deployment.js';
import { readSchedules, schedulesFile } from '../schedule/store.js';
import { checkUpD } from './compose-up.js';
import type { ComposeTool } from '../docker/compose-cli/index.js';
import type { DockerEngine } from '../docker/engine.js';
import { probeServer, type ServerProbe } from '../mattermost/server-probe.js';
import type { HistoryEntry } from '../state/history.js';
import { readJobLock } from '../state/job-lock.js';

export interface ServiceStatus {
  service: string;
  container: string | null;
  containerId: string | null;
  /** running, exited, restarting, … or `missing` when no container exists. */
  state: string;
  /** The container's healthcheck result, `none` when it has no healthcheck. */
  health: string;
  startedAt: string | null;
  restartCount: number;
  /** The image reference the container was created from, and its tag. */
  image: string | null;
  tag: string | null;
  imageId: string | null;
  /** The image and tag the compose file pins, and where that tag is written. */
  composeImage: string;
  composeTag: string | null;
  composeSource: string;
  drift: boolean;
  /** The version running: the server's report for the app, the image tag for the db. */
  version: string | null;
  healthy: boolean;
}

export interface StatusReport {
  checkedAt: string;
  healthy: boolean;
  compose: { files: string[]; envFile: string; project: string };
  app: ServiceStatus & { server: ServerProbe };
  db: ServiceStatus & { ready: boolean };
  drift: Array<{ service: string; compose: string; container: string | null }>;
  backup: { dir: string; newest: { file: string; sizeBytes: number; createdAt: string; ageSeconds: number; recent: boolean } | null };
  job: { jobId: string; kind: string; owner: string; step: string | null; pid: number; startedAt: string; alive: boolean } | null;
  /** Containers a later `docker-compose up -d` would recreate, and why. */
  composeWouldRecreate: Array<{ service: string; container: string; reason: string }>;
  /** How that was found: compose's own config hashes (`checkedWith`), or a guess (`guessBecause`). */
  composeCheck: { checkedWith: string | null; guessBecause: string | null };
  /** The last jobs, newest last. */
  history: HistoryEntry[];
  /** Upgrades scheduled from chat, soonest first. */
  scheduled: Array<{ target: string; at: string; confirmedBy: string }>;
  problems: string[];
}

export interface StatusDeps {
  config: Config;
  engine: DockerEngine;
  history?: HistoryEntry[];
  now?: () => Date;
  probe?: typeof probeServer;
  /** Asks compose for its config hashes; without it, "On up -d" is a guess. */
  compose?: ComposeTool;
}

export async function collectStatus({ config, engine, history = [], now = () => new Date(), probe = probeServer, compose }: StatusDeps): Promise<StatusReport> {
  const deployment = await resolveDeployment(config, engine);
  const problems: string[] = [];
  const [server, dbReady, backups, lock, upD, scheduled] = await Promise.all([
    probe(config.mattermost.url),
    isDbReady(engine, deployment.db, config),
    listBackups(config.backup.dir),
    readJobLock(config.bot.stateDir),
    checkUpD(engine, deployment, compose),
    readSchedules(schedulesFile(config.bot.stateDir)).catch(() => []),
  ]);

  const app = { ...serviceStatus(deployment.app, !(await runsPinnedImage(engine, deployment.app))), server };
  app.version = server.version ?? null;
  app.healthy = app.state === 'running' && app.health !== 'unhealthy' && server.pingOk && server.version !== undefined;
  if (app.state !== 'running') problems.push(`app container ${app.container ?? deployment.app.service} is ${app.state}`);
  else if (!server.pingOk) problems.push(`Mattermost at ${config.mattermost.url} is not healthy: ${server.error ?? 'ping failed'}`);
  if (app.health === 'unhealthy') problems.push(`app container ${app.container} reports its healthcheck as unhealthy`);
  if (server.version && app.tag && server.version !== app.tag) {
    problems.push(`the server reports version ${server.version} but its container runs tag ${app.tag}`);
  }

  const db = { ...serviceStatus(deployment.db, !(await runsPinnedImage(engine, deployment.db))), ready: dbReady };
  db.version = db.tag;
  db.healthy = db.state === 'running' && db.health !== 'unhealthy' && dbReady;
  if (db.state !== 'running') problems.push(`db container ${db.container ?? deployment.db.service} is ${db.state}`);
  else if (!dbReady) problems.push(`PostgreSQL in ${db.container} does not accept connections (pg_isready)`);

  const drift = [app, db]
    .filter((s) => s.drift)
    .map((s) => ({ service: s.service, compose: s.composeImage, container: s.image }));
  for (const d of drift) problems.push(`${d.service}: the compose file pins ${d.compose} but the container runs ${d.container ?? 'nothing'}`);

  const newest = backups[0];
  const at = now();
  return {
    checkedAt: at.toISOString(),
    healthy: app.healthy && db.healthy,
    compose: { files: deployment.files.files, envFile: deployment.files.envFile, project: deployment.project },
    app,
    db,
    drift,
    backup: {
      dir: config.backup.dir,
      newest: newest
        ? {
            file: newest.path,
            sizeBytes: newest.sizeBytes,
            createdAt: newest.createdAt.toISOString(),
            ageSeconds: Math.max(0, Math.round((at.getTime() - newest.createdAt.getTime()) / 1000)),
            recent: at.getTime() - newest.createdAt.getTime() <= config.backup.maxAgeMs,
          }
        : null,
    },
    job: lock
      ? { jobId: lock.jobId, kind: lock.kind, owner: lock.owner, step: lock.step ?? null, pid: lock.pid, startedAt: lock.startedAt, alive: lock.alive }
      : null,
    composeWouldRecreate: upD.recreate,
    composeCheck: { checkedWith: upD.checkedWith, guessBecause: upD.guessBecause },
    history: history.slice(-5),
    scheduled: scheduled.map((s) => ({ target: s.target, at: s.at, confirmedBy: s.confirmedBy })),
    problems,
  };
}

function serviceStatus(target: ServiceTarget, drift: boolean): ServiceStatus {
  const c = target.container;
  const composeRef = target.compose.ref;
  const composeImage = target.compose.resolved;
  const image = c?.Config.Image ?? null;
  const source =
    target.compose.tagSource.kind === 'env'
      ? `${target.compose.tagSource.file}:${target.compose.tagSource.line} (${target.compose.tagSource.variable})`
      : `${target.compose.tagSource.file}:${target.compose.tagSource.line}`;
  return {
    service: target.service,
    container: c ? c.Name.replace(/^\//, '') : (target.containerName ?? null),
    containerId: c?.Id ?? null,
    state: c ? (c.State.Restarting ? 'restarting' : c.State.Status) : 'missing',
    health: c?.State.Health?.Status ?? 'none',
    startedAt: c?.State.StartedAt ?? null,
    restartCount: c?.RestartCount ?? 0,
    image,
    tag: image ? (parseImageRef(image).tag ?? null) : null,
    imageId: c?.Image ?? null,
    composeImage,
    composeTag: composeRef.tag ?? null,
    composeSource: source,
    drift,
    version: null,
    healthy: false,
  };
}

async function isDbReady(engine: DockerEngine, db: ServiceTarget, config: Config): Promise<boolean> {
  return db.container?.State.Running === true && pgIsReady(engine, dbTarget(db.container.Id, config.db));
}
