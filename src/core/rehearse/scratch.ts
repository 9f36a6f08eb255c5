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
  // Below Linux's ephemeral range (32768-60999), where outgoing connections take their ports.
  for (let tries = 0; out.length < count && tries < 1000; tries++) {
    const port = 20_000 + Math.floor(random() * 12_000);
    if (!used.has(port) && !out.includes(port)) out.push(port);
  }
  if (out.length < count) throw new Error('no free loopback port found for the rehearsal');
  return out;
}

/**
 * The db container's create body: production's image and POSTGRES_* settings (a `*_FILE`
 * secret read beforehand into `secrets`, as its file is not mounted here), a volume of its
 * own. Production's command is kept without the arguments that name its files; the copy is
 * made light (no WAL archiving or fsync, small buffers) and is the first the kernel kills when
 * memory runs out.
 */
export function scratchDbBody(s: Scratch, prodDb: ContainerInspect, imageEnv: string[], secrets: Record<string, string> = {}): Record<string, unknown> {
  const env = (prodDb.Config.Env ?? []).filter((e) => /^(POSTGRES_[A-Z_]+|PGDATA)=/.test(e) && !/^POSTGRES_[A-Z_]+_FILE=/.test(e));
  for (const [k, v] of Object.entries(secrets)) env.push(`${k}=${v}`);
  const pgdata = [...imageEnv, ...env].reverse().find((e) => e.startsWith('PGDATA='))?.slice('PGDATA='.length) || DEFAULT_PGDATA;
  const cmd = withoutFileArgs(prodDb.Config.Cmd && prodDb.Config.Cmd.length > 0 ? [...prodDb.Config.Cmd] : ['postgres']);
  for (const setting of LEAN) cmd.push('-c', setting);
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
      OomScoreAdj: 1000,
    },
  };
}

/** PostgreSQL settings of the throw-away copy (given last, they win over production's). */
const LEAN = ['wal_level=minimal', 'max_wal_senders=0', 'archive_mode=off', 'max_wal_size=256MB', 'fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'shared_buffers=128MB'];

/** Production's `-c name=value` arguments that name a file of its own (not mounted in the copy) are left out. */
function withoutFileArgs(cmd: string[]): string[] {
  const out: string[] = [];
  const names = /^(config_file|hba_file|ident_file|ssl[a-z_]*|data_directory|external_pid_file|include[a-z_]*)=/;
  for (let i = 0; i < cmd.length; i++) {
    const a = cmd[i]!;
    if (a === '-c' && names.test(cmd[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (a.startsWith('-c') && names.test(a.slice(2)) || a.startsWith('--') && names.test(a.slice(2))) continue;
    out.push(a);
  }
  return out;
}

/**
 * Settings the rehearsal server gets on top of production's own environment: its database,
 * address and URL; no mail, no push, no jobs, no marketplace, no cluster, no telemetry.
 */
export function isolationEnv(s: Scratch, dataSource: string): Record<string, string> {
  return {
    // Replicas are not set at all: Mattermost splits a list variable on spaces, so an empty one
    // would be one replica with an empty address (localhost:5432, production's on a host network).
    MM_SQLSETTINGS_DATASOURCE: dataSource,
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
    MM_SERVICESETTINGS_CONNECTIONSECURITY: '',
    MM_SERVICESETTINGS_FORWARD80TO443: 'false',
    MM_SERVICESETTINGS_USELETSENCRYPT: 'false',
    MM_SERVICESETTINGS_ENABLELOCALMODE: 'false',
    MM_FILESETTINGS_DRIVERNAME: 'local',
    MM_ELASTICSEARCHSETTINGS_ENABLEINDEXING: 'false',
    MM_ELASTICSEARCHSETTINGS_ENABLESEARCHING: 'false',
    MM_ELASTICSEARCHSETTINGS_ENABLEAUTOCOMPLETE: 'false',
    MM_METRICSSETTINGS_ENABLE: 'false',
    MM_LDAPSETTINGS_ENABLE: 'false',
    MM_LDAPSETTINGS_ENABLESYNC: 'false',
    MM_SAMLSETTINGS_ENABLE: 'false',
    MM_EXPERIMENTALSETTINGS_ENABLESHAREDCHANNELS: 'false',
    MM_EXPERIMENTALSETTINGS_ENABLEREMOTECLUSTERSERVICE: 'false',
  };
}

/**
 * What of production's own environment the copy keeps: an allow-list. Mattermost's settings
 * that shape a migration (the SQL driver and its encryption key, feature flags, the bed's test
 * switches) and plain variables (TZ…); not its database, replicas, config store, file store,
 * search, LDAP, metrics, TLS, proxy or cloud credentials.
 */
const KEPT_MM = /^(MM_SQLSETTINGS_(DRIVERNAME|ATRESTENCRYPTKEY|QUERYTIMEOUT|MAXIDLECONNS|MAXOPENCONNS|CONNMAXLIFETIMEMILLISECONDS|CONNMAXIDLETIMEMILLISECONDS)|MM_FEATUREFLAGS_[A-Z_]+|MM_TEST_[A-Z_]+|MM_LOGSETTINGS_(CONSOLELEVEL|CONSOLEJSON|ENABLECONSOLE|ENABLECOLOR))=/;
const DROPPED_PLAIN = /^(AWS_[A-Z_]+|GOOGLE_[A-Z_]+|AZURE_[A-Z_]+|https?_proxy|HTTPS?_PROXY|NO_PROXY|no_proxy)=/;

export function keptEnv(prodOwnEnv: string[]): string[] {
  return prodOwnEnv.filter((e) => (e.startsWith('MM_') ? KEPT_MM.test(e) : !DROPPED_PLAIN.test(e)));
}

/** The app container's create body: the target image, production's own environment without its database, the isolation settings. */
export function scratchAppBody(s: Scratch, targetRef: string, prodOwnEnv: string[], dataSource: string, targetImageEnv: string[] = []): Record<string, unknown> {
  const env = [...keptEnv(prodOwnEnv), ...Object.entries(isolationEnv(s, dataSource)).map(([k, v]) => `${k}=${v}`)];
  // A config store in a database, baked into the target image: a file in the container instead.
  if (targetImageEnv.some((e) => /^MM_CONFIG=(postgres|mysql)/i.test(e))) env.push('MM_CONFIG=/tmp/mm-rehearsal-config.json');
  return {
    name: s.app.container,
    Image: targetRef,
    Env: env,
    Labels: { [REHEARSAL_LABEL]: s.id, [`${REHEARSAL_LABEL}.role`]: 'app' },
    HostConfig: { NetworkMode: s.mode === 'host' ? 'host' : s.network, RestartPolicy: { Name: 'no' }, OomScoreAdj: 1000 },
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
