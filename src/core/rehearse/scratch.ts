/**
 * The throw-away copy a rehearsal runs on: a database container from production's db image
 * with production's POSTGRES_* settings and a volume of its own, and the target app against
 * it. Every container, volume and network carries the rehearsal's label, so that they are
 * found and removed afterwards whatever happened (also at the next start after a kill).
 *
 * Isolation: nothing of production is mounted, no port is published. On a host-network
 * deployment the copy listens on loopback ports free at run time; otherwise both containers
 * sit on an internal network of their own (no route out).
 */
import type { ContainerInspect, DockerEngine } from '../../docker/engine.js';

export const REHEARSAL_LABEL = 'org.mattermost-upgrade-bot.rehearsal';
const DEFAULT_PGDATA = '/var/lib/postgresql/data';

export interface Scratch {
  /** The label value: the job's id. */
  id: string;
  mode: 'host' | 'network';
  network: string | undefined;
  db: { container: string; volume: string; host: string; port: number };
  app: { container: string; port: number; siteUrl: string };
}

export function scratchNames(id: string, mode: 'host' | 'network', ports: { db: number; app: number }): Scratch {
  const short = id.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(-24).toLowerCase();
  const prefix = `mm-rehearsal-${short}`;
  return {
    id,
    mode,
    network: mode === 'network' ? prefix : undefined,
    db: { container: `${prefix}-db`, volume: `${prefix}-db`, host: mode === 'host' ? '127.0.0.1' : `${prefix}-db`, port: mode === 'host' ? ports.db : 5432 },
    app: { container: `${prefix}-app`, port: mode === 'host' ? ports.app : 8065, siteUrl: `http://127.0.0.1:${mode === 'host' ? ports.app : 8065}` },
  };
}

/** Host networking when production's app uses it (then the copy needs free loopback ports). */
export function networkModeOf(app: ContainerInspect): 'host' | 'network' {
  return app.HostConfig.NetworkMode === 'host' ? 'host' : 'network';
}

/**
 * Two TCP ports nobody listens on, read from the host's own socket table through a container
 * on the host network (production's db: a read, nothing else), so that it is right also when
 * the bot runs in a container of its own.
 */
export async function freeLoopbackPorts(engine: DockerEngine, hostNetContainer: string, count: number, random: () => number = Math.random): Promise<number[]> {
  const r = await engine.exec(hostNetContainer, ['cat', '/proc/net/tcp', '/proc/net/tcp6'], { timeoutMs: 10_000 });
  const used = new Set<number>();
  for (const line of r.stdout.split('\n')) {
    const local = /^\s*\d+:\s+[0-9A-F]+:([0-9A-F]{4})\s/i.exec(line)?.[1];
    if (local) used.add(parseInt(local, 16));
  }
  const out: number[] = [];
  for (let tries = 0; out.length < count && tries < 1000; tries++) {
    const port = 20_000 + Math.floor(random() * 40_000);
    if (!used.has(port) && !out.includes(port)) out.push(port);
  }
  if (out.length < count) throw new Error('no free loopback port found for the rehearsal');
  return out;
}

/** The db container's create body: production's image and POSTGRES_* settings, a volume of its own. */
export function scratchDbBody(s: Scratch, prodDb: ContainerInspect, imageEnv: string[]): Record<string, unknown> {
  const env = (prodDb.Config.Env ?? []).filter((e) => /^(POSTGRES_[A-Z_]+|PGDATA)=/.test(e));
  const pgdata = [...imageEnv, ...env].reverse().find((e) => e.startsWith('PGDATA='))?.slice('PGDATA='.length) || DEFAULT_PGDATA;
  const cmd = prodDb.Config.Cmd && prodDb.Config.Cmd.length > 0 ? [...prodDb.Config.Cmd] : ['postgres'];
  if (s.mode === 'host') {
    env.push(`PGPORT=${s.db.port}`);
    cmd.push('-c', `port=${s.db.port}`, '-c', 'listen_addresses=127.0.0.1');
  }
  return {
    name: s.db.container,
    Image: prodDb.Image,
    Env: env,
    Cmd: cmd,
    Labels: { [REHEARSAL_LABEL]: s.id, [`${REHEARSAL_LABEL}.role`]: 'db' },
    HostConfig: {
      NetworkMode: s.mode === 'host' ? 'host' : s.network,
      Mounts: [{ Type: 'volume', Source: s.db.volume, Target: pgdata }],
      RestartPolicy: { Name: 'no' },
    },
  };
}

/**
 * Settings the rehearsal server gets on top of production's own environment: its database,
 * address and URL; no mail, no push, no jobs, no marketplace, no cluster, no telemetry.
 */
export function isolationEnv(s: Scratch, dataSource: string): Record<string, string> {
  return {
    MM_SQLSETTINGS_DATASOURCE: dataSource,
    MM_SQLSETTINGS_DATASOURCEREPLICAS: '',
    MM_SQLSETTINGS_DATASOURCESEARCHREPLICAS: '',
    MM_SERVICESETTINGS_LISTENADDRESS: s.mode === 'host' ? `127.0.0.1:${s.app.port}` : `:${s.app.port}`,
    MM_SERVICESETTINGS_SITEURL: s.app.siteUrl,
    MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS: 'false',
    MM_EMAILSETTINGS_SENDPUSHNOTIFICATIONS: 'false',
    MM_EMAILSETTINGS_SMTPSERVER: '127.0.0.1',
    MM_EMAILSETTINGS_SMTPPORT: '9',
    MM_JOBSETTINGS_RUNJOBS: 'false',
    MM_JOBSETTINGS_RUNSCHEDULER: 'false',
    MM_PLUGINSETTINGS_ENABLEMARKETPLACE: 'false',
    MM_PLUGINSETTINGS_ENABLEREMOTEMARKETPLACE: 'false',
    MM_PLUGINSETTINGS_AUTOMATICPREPACKAGEDPLUGINS: 'false',
    MM_CLUSTERSETTINGS_ENABLE: 'false',
    MM_LOGSETTINGS_ENABLEDIAGNOSTICS: 'false',
    MM_SERVICESETTINGS_ENABLESECURITYFIXALERT: 'false',
  };
}

/** Variables of production's app that must not reach the copy: its database, replicas, a config kept in the database, cluster settings. */
const PRODUCTION_ONLY = /^(MM_SQLSETTINGS_DATASOURCE[A-Z]*|MM_CONFIG|MM_CLUSTERSETTINGS_[A-Z_]+|MM_SERVICESETTINGS_(LISTENADDRESS|SITEURL))=/;

/** The app container's create body: the target image, production's own environment without its database, the isolation settings. */
export function scratchAppBody(s: Scratch, targetRef: string, prodOwnEnv: string[], dataSource: string): Record<string, unknown> {
  const env = [...prodOwnEnv.filter((e) => !PRODUCTION_ONLY.test(e)), ...Object.entries(isolationEnv(s, dataSource)).map(([k, v]) => `${k}=${v}`)];
  return {
    name: s.app.container,
    Image: targetRef,
    Env: env,
    Labels: { [REHEARSAL_LABEL]: s.id, [`${REHEARSAL_LABEL}.role`]: 'app' },
    HostConfig: { NetworkMode: s.mode === 'host' ? 'host' : s.network, RestartPolicy: { Name: 'no' } },
  };
}

/**
 * The copy's data source: production's (driver, user, password, database, parameters), with
 * the scratch database's host and port; built from POSTGRES_* when production's app has none.
 */
export function scratchDataSource(s: Scratch, prodDataSource: string | undefined, pg: { user: string; password: string; db: string }): string {
  if (prodDataSource) {
    try {
      const u = new URL(prodDataSource);
      u.hostname = s.db.host;
      u.port = String(s.db.port);
      return u.toString();
    } catch {
      // not a URL (a key=value DSN): built below
    }
  }
  return `postgres://${encodeURIComponent(pg.user)}:${encodeURIComponent(pg.password)}@${s.db.host}:${s.db.port}/${encodeURIComponent(pg.db)}?sslmode=disable&connect_timeout=10`;
}

/** Removes every container (with its anonymous volumes), volume and network labelled with this rehearsal. Idempotent. */
export async function removeScratch(engine: DockerEngine, id: string): Promise<string[]> {
  const label = `${REHEARSAL_LABEL}=${id}`;
  const removed: string[] = [];
  for (const c of await engine.findContainers({ [REHEARSAL_LABEL]: id })) {
    await engine.discardContainer(c.id);
    removed.push(`container ${c.name}`);
  }
  for (const v of await engine.listVolumes(label)) {
    await engine.removeVolume(v);
    removed.push(`volume ${v}`);
  }
  for (const n of await engine.listNetworks(label)) {
    await engine.removeNetwork(n);
    removed.push(`network ${n}`);
  }
  return removed;
}
