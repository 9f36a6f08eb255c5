/**
 * A stand-in for the Mattermost server, for the test bed's app images.
 *
 * It copies the real server (5.35) where the upgrade engine's timing and checks depend on it:
 * configuration from MM_* environment variables, JSON log lines on stdout, the database ping
 * loop at start (18 attempts, 10 s apart) before anything listens, schema "migrations" that
 * record the version in `systems`, `/api/v4/system/ping`, `/api/v4/config/client?format=old`,
 * the `X-Version-Id` header, the error format, and a slow, variable stop on SIGTERM.
 *
 * Failing variants are selected by MM_TEST_FAIL_MODE, baked into their images:
 *   crash     - connects, then a "migration" fails: error + fatal log lines, exit 1.
 *   unhealthy - starts and listens, but ping answers 500 for ever.
 *   damage    - records its version, deletes posts and drops a column, then dies (exit 1).
 *
 * Bundled by esbuild (pg included, pg-native external) into /mattermost/server.js.
 * It only ever binds 127.0.0.1.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { readBody, sendJson } from '../../mattermost/http.js';
import { AppError as HttpError, newId } from '../../mattermost/model.js';
import { MattermostStandIn } from '../../mattermost/standin.js';
import { PgStore } from './pg-store.js';

const { Client, Pool } = pg;

// ---------------------------------------------------------------------------------------------
// Configuration

type FailMode = '' | 'crash' | 'unhealthy' | 'damage';

/** The real server's default data source (config/default.json). */
const DEFAULT_DATASOURCE =
  'postgres://mmuser:mostest@localhost/mattermost_test?sslmode=disable&connect_timeout=10';
/** model.DBPingAttempts and model.DBPingTimeoutSecs in the real server. */
const DB_PING_ATTEMPTS = 18;
const DB_PING_TIMEOUT_SECS = 10;
/** How long a health ping may wait for `SELECT 1`. */
const HEALTH_QUERY_TIMEOUT_MS = 1_000;

interface Config {
  version: string;
  failMode: FailMode;
  dataSource: string;
  listenPort: number;
  /** A fixed delay before exiting on SIGTERM; random 40 ms - 3 s when undefined. */
  stopDelayMs: number | undefined;
  buildHash: string;
  configHash: string;
  /** MM_TEST_MIGRATION_MS: how long a schema upgrade takes (a variant's known migration time). */
  migrationMs: number;
  /** Serves normally, then dies this long after it started listening (a crash the watch window must catch). */
  crashAfterMs: number;
  /** What /api/v4/config/client reports, from the MM_* overrides as a real server reads them. */
  client: { siteUrl: string; diagnostics: boolean; sendEmail: boolean; sendPush: boolean; runJobs: boolean; marketplace: boolean };
}

/** A boolean MM_* override as the real server parses it (strconv.ParseBool); the default otherwise. */
function envBool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const v = env[name];
  if (v === undefined) return fallback;
  if (/^(1|t|T|TRUE|true|True)$/.test(v)) return true;
  if (/^(0|f|F|FALSE|false|False)$/.test(v)) return false;
  return fallback;
}

function readConfig(env: NodeJS.ProcessEnv): Config {
  // MM_VERSION: what an image built from the upstream packaging (test/fixtures/upstream) sets.
  const version = env.MM_BUILD_VERSION || env.MM_VERSION || '0.0.0';
  const failMode = (env.MM_TEST_FAIL_MODE ?? '').trim();
  if (!['', 'crash', 'unhealthy', 'damage'].includes(failMode)) {
    throw new Error(`unknown MM_TEST_FAIL_MODE "${failMode}" (expected crash, unhealthy or damage)`);
  }
  const listenAddress = env.MM_SERVICESETTINGS_LISTENADDRESS || ':8065';
  const stopDelay = env.MM_TEST_STOP_DELAY_MS;
  const stopDelayMs = stopDelay !== undefined && stopDelay !== '' ? Number(stopDelay) : undefined;
  if (stopDelayMs !== undefined && !(Number.isFinite(stopDelayMs) && stopDelayMs >= 0)) {
    throw new Error(`MM_TEST_STOP_DELAY_MS must be a number of milliseconds, got "${stopDelay}"`);
  }
  const listenPort = parseListenPort(listenAddress);
  const migrationMs = Number(env.MM_TEST_MIGRATION_MS || 0);
  const crashAfterMs = Number(env.MM_TEST_CRASH_AFTER_MS || 0);
  return {
    crashAfterMs: Number.isFinite(crashAfterMs) && crashAfterMs > 0 ? crashAfterMs : 0,
    migrationMs: Number.isFinite(migrationMs) && migrationMs > 0 ? migrationMs : 0,
    client: {
      siteUrl: (env.MM_SERVICESETTINGS_SITEURL ?? '').replace(/\/+$/, ''),
      diagnostics: envBool(env, 'MM_LOGSETTINGS_ENABLEDIAGNOSTICS', true),
      sendEmail: envBool(env, 'MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS', true),
      sendPush: envBool(env, 'MM_EMAILSETTINGS_SENDPUSHNOTIFICATIONS', true),
      runJobs: envBool(env, 'MM_JOBSETTINGS_RUNJOBS', true),
      marketplace: envBool(env, 'MM_PLUGINSETTINGS_ENABLEMARKETPLACE', true),
    },
    version,
    failMode: failMode as FailMode,
    dataSource: env.MM_SQLSETTINGS_DATASOURCE || DEFAULT_DATASOURCE,
    listenPort,
    stopDelayMs,
    buildHash: createHash('sha1').update(`mattermost-stand-in ${version}`).digest('hex'),
    // The real hash is an MD5 of the whole config; the data source is left out (it holds a password).
    configHash: createHash('md5').update(JSON.stringify({ version, listenPort, failMode })).digest('hex'),
  };
}

/**
 * ServiceSettings.ListenAddress: ":8065", "127.0.0.1:8065", "0.0.0.0:8065", "[::]:8065" or "8065".
 * Only the port is used: the stand-in always binds 127.0.0.1.
 */
export function parseListenPort(address: string): number {
  const match = /^(?:.*:)?(\d{1,5})$/.exec(address.trim());
  const port = match ? Number(match[1]) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`invalid MM_SERVICESETTINGS_LISTENADDRESS "${address}"`);
  }
  return port;
}

// ---------------------------------------------------------------------------------------------
// Logging: JSON lines like the real server's ("timestamp":"2021-06-23 09:08:31.560 Z").

type Level = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

function timestamp(d = new Date()): string {
  return d.toISOString().replace('T', ' ').replace(/Z$/, ' Z');
}

function log(level: Level, msg: string, caller: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ timestamp: timestamp(), level, msg, caller, ...fields }) + '\n');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}

/** Writes the fatal line, lets stdout drain, exits 1. */
function fatal(msg: string, caller: string, fields: Record<string, unknown> = {}): Promise<never> {
  log('fatal', msg, caller, fields);
  return new Promise(() => {
    process.stdout.write('', () => process.exit(1));
  });
}

// ---------------------------------------------------------------------------------------------
// Stopping: SIGTERM / SIGINT at any point (also during the ping loop) stop the server slowly.

let stopping = false;
const onStop: Array<() => Promise<void>> = [];

function installSignalHandlers(config: Config): void {
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log('info', 'Stopping Server...', 'app/server.go:1041', { signal });
    const delay = config.stopDelayMs ?? 40 + Math.floor(Math.random() * (3_000 - 40));
    const cleanups = onStop.map((fn) => fn().catch(() => undefined));
    void Promise.all([Promise.all(cleanups), sleep(delay)]).then(() => {
      log('info', 'Server stopped', 'app/server.go:1097');
      process.stdout.write('', () => process.exit(0));
    });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sleeps, but wakes early (to let the stop proceed) when a stop signal arrives. */
async function sleepUnlessStopping(ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!stopping && Date.now() < deadline) await sleep(Math.min(200, deadline - Date.now()));
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// Database

/** sqlstore.initConnection: ping up to 18 times, 10 s apart; exit when all fail. */
async function pingUntilReachable(config: Config): Promise<void> {
  for (let attempt = 1; attempt <= DB_PING_ATTEMPTS; attempt++) {
    if (stopping) return;
    log('info', 'Pinging SQL', 'sqlstore/store.go:228', { database: 'master' });
    const client = new Client({
      connectionString: config.dataSource,
      connectionTimeoutMillis: DB_PING_TIMEOUT_SECS * 1_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await withTimeout(client.query('SELECT 1'), DB_PING_TIMEOUT_SECS * 1_000, 'ping');
      await client.end().catch(() => undefined);
      return;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (attempt === DB_PING_ATTEMPTS) {
        await fatal('Failed to ping DB, server will exit.', 'sqlstore/store.go:237', { error: errorText(err) });
      }
      log('error', 'Failed to ping DB', 'sqlstore/store.go:241', {
        error: errorText(err),
        'retrying in seconds': DB_PING_TIMEOUT_SECS,
      });
      await sleepUnlessStopping(DB_PING_TIMEOUT_SECS * 1_000);
    }
  }
}

/** Compares dotted numeric versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

async function migrate(pool: pg.Pool, config: Config): Promise<void> {
  if (config.failMode === 'crash') {
    const error = `pq: relation "channelmembers_v${config.version.replace(/\./g, '_')}" does not exist`;
    log('error', 'Failed to apply database migrations.', 'sqlstore/upgrade.go:135', {
      version: config.version,
      error,
    });
    await fatal('Error starting server', 'app/server.go:1023', {
      error: `failed to upgrade the database schema to ${config.version}: ${error}`,
    });
  }

  await pool.query(
    'CREATE TABLE IF NOT EXISTS systems (name varchar(64) PRIMARY KEY, value varchar(1024))',
  );
  await pool.query(
    'CREATE TABLE IF NOT EXISTS posts (id serial PRIMARY KEY, message text NOT NULL, create_at bigint NOT NULL)',
  );
  await checkSchema(pool, config);
  const current = await pool.query<{ value: string }>("SELECT value FROM systems WHERE name = 'Version'");
  const dbVersion = current.rows[0]?.value;

  if (config.failMode === 'damage') {
    await pool.query(
      "INSERT INTO systems (name, value) VALUES ('Version', $1) ON CONFLICT (name) DO UPDATE SET value = $1",
      [config.version],
    );
    log('warn', 'The database schema has been upgraded', 'sqlstore/upgrade.go:205', {
      from: dbVersion ?? null,
      version: config.version,
    });
    await pool.query('DELETE FROM posts');
    await pool.query('ALTER TABLE posts DROP COLUMN IF EXISTS create_at');
    log('error', 'Failed to migrate posts.', 'sqlstore/upgrade.go:1187', {
      version: config.version,
      error: 'pq: column "create_at" of relation "posts" does not exist',
    });
    await fatal('Error starting server', 'app/server.go:1023', {
      error: `failed to upgrade the database schema to ${config.version}: posts migration failed half-way`,
    });
  }

  if (dbVersion === undefined) {
    await pool.query("INSERT INTO systems (name, value) VALUES ('Version', $1)", [config.version]);
    log('info', 'The database schema has been created', 'sqlstore/upgrade.go:160', { version: config.version });
  } else if (compareVersions(dbVersion, config.version) < 0) {
    // A migration of a known length that leaves a row of its own, then the version.
    if (config.migrationMs > 0) {
      log('info', 'Migrating the database schema', 'sqlstore/upgrade.go:190', { from: dbVersion, version: config.version });
      await sleep(config.migrationMs);
    }
    await pool.query(
      'INSERT INTO systems (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2',
      [`SchemaMigration_${config.version}`, `from ${dbVersion} in ${config.migrationMs} ms`],
    );
    await pool.query("UPDATE systems SET value = $1 WHERE name = 'Version'", [config.version]);
    log('warn', 'The database schema has been upgraded', 'sqlstore/upgrade.go:205', {
      from: dbVersion,
      version: config.version,
    });
  } else if (compareVersions(dbVersion, config.version) > 0) {
    log(
      'warn',
      `The database schema version of ${dbVersion} is newer than this server's ${config.version}; running anyway.`,
      'sqlstore/upgrade.go:171',
      { database_version: dbVersion, server_version: config.version },
    );
  }
}

/**
 * Like a real server, refuse to run on a schema it cannot use (a half-done migration of a
 * newer version dropped a column): log it and exit rather than serve errors.
 */
async function checkSchema(pool: pg.Pool, config: Config): Promise<void> {
  if (config.failMode === 'damage') return;
  try {
    await pool.query('SELECT id, message, create_at FROM posts LIMIT 0');
  } catch (err) {
    log('error', 'The database schema is not usable by this version.', 'sqlstore/store.go:312', {
      version: config.version,
      error: `pq: ${(err as Error).message}`,
    });
    await fatal('Error starting server', 'app/server.go:1023', { error: 'database schema check failed' });
  }
}

async function databaseHealthy(pool: pg.Pool): Promise<boolean> {
  try {
    await withTimeout(pool.query('SELECT 1'), HEALTH_QUERY_TIMEOUT_MS, 'SELECT 1');
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

// newId, sendJson and readBody are the Mattermost stand-in's own (test/mattermost).

/** The Mattermost API stand-in (test/mattermost), configured like a real server from MM_* variables. */
function createStandIn(pool: pg.Pool, config: Config, env: NodeJS.ProcessEnv): MattermostStandIn {
  const flavour = env.MM_TEST_FLAVOUR === 'current' ? 'current' : '5';
  const timeoutS = Number(env.MM_SERVICESETTINGS_OUTGOINGINTEGRATIONREQUESTSTIMEOUT || 30);
  return new MattermostStandIn(new PgStore(pool), {
    flavour,
    siteUrl: env.MM_SERVICESETTINGS_SITEURL || `http://127.0.0.1:${config.listenPort}`,
    allowedUntrusted: env.MM_SERVICESETTINGS_ALLOWEDUNTRUSTEDINTERNALCONNECTIONS ?? '',
    outgoingTimeoutMs: timeoutS * 1_000,
  });
}

function createApi(pool: pg.Pool, config: Config, standIn: MattermostStandIn): Server {
  const routes: Record<string, (req: IncomingMessage, url: URL) => Promise<[number, unknown]>> = {
    'GET /api/v4/system/ping': async (_req, url) => {
      const databaseOk = await databaseHealthy(pool);
      // The "unhealthy" variant stands for a server whose other parts (here: the file store) fail.
      const filestoreOk = config.failMode !== 'unhealthy';
      const healthy = databaseOk && filestoreOk;
      const body: Record<string, unknown> = {
        ActiveSearchBackend: 'database',
        AndroidLatestVersion: '',
        AndroidMinVersion: '',
        DesktopLatestVersion: '',
        DesktopMinVersion: '',
        IosLatestVersion: '',
        IosMinVersion: '',
        status: healthy ? 'OK' : 'UNHEALTHY',
      };
      if (url.searchParams.get('get_server_status')) {
        body.database_status = databaseOk ? 'OK' : 'UNHEALTHY';
        body.filestore_status = filestoreOk ? 'OK' : 'UNHEALTHY';
      }
      return [healthy ? 200 : 500, body];
    },
    'GET /api/v4/config/client': async (req, url) => {
      if (url.searchParams.get('format') !== 'old') {
        throw new HttpError(
          501,
          'api.config.client.old_format.app_error',
          'New format for the client configuration is not supported yet. Please specify format=old in the query string.',
        );
      }
      // As the real server: the limited configuration without a session, the full one with (GenerateClientConfig).
      const token = /^(?:Bearer|Token)\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const user = token ? await standIn.core.userByToken(token) : undefined;
      const c = config.client;
      const limited: Record<string, string> = {
        AboutLink: 'https://about.mattermost.com/default-about/',
        BuildDate: 'Thu Jan  1 00:00:00 UTC 2026',
        BuildEnterpriseReady: 'false',
        BuildHash: config.buildHash,
        BuildHashEnterprise: 'none',
        BuildNumber: config.version,
        EnableDiagnostics: String(c.diagnostics),
        SiteName: 'Mattermost',
        SiteURL: c.siteUrl,
        Version: config.version,
      };
      if (!user) return [200, limited];
      return [
        200,
        {
          ...limited,
          SendEmailNotifications: String(c.sendEmail),
          SendPushNotifications: String(c.sendPush),
          RunJobs: String(c.runJobs),
          EnableMarketplace: String(c.marketplace),
          EnableCluster: 'false',
        },
      ];
    },
    'POST /api/v4/test/posts': async (req) => {
      let message: unknown;
      try {
        message = (JSON.parse(await readBody(req, 1 << 20)) as { message?: unknown }).message;
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing post in request body.');
      }
      if (typeof message !== 'string') {
        throw new HttpError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing message in request body.');
      }
      const result = await pool.query<{ id: number; message: string; create_at: string }>(
        'INSERT INTO posts (message, create_at) VALUES ($1, $2) RETURNING id, message, create_at',
        [message, Date.now()],
      );
      return [201, result.rows.map(postJson)[0]];
    },
    'GET /api/v4/test/posts': async () => {
      const result = await pool.query<Record<string, unknown>>('SELECT * FROM posts ORDER BY id');
      return [200, result.rows.map(postJson)];
    },
  };

  return createServer((req, res) => {
    const requestId = newId();
    res.setHeader('X-Version-Id', `${config.version}.${config.version}.${config.configHash}.false`);
    res.setHeader('X-Request-Id', requestId);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = routes[`${req.method} ${url.pathname.replace(/\/+$/, '') || '/'}`];
    if (!route) {
      void standIn.handle(req, res).then(
        (handled) => {
          if (!handled) sendJson(res, 404, { id: 'api.context.404.app_error', message: 'Sorry, we could not find the page.', detailed_error: '', request_id: requestId, status_code: 404 });
        },
        (err: unknown) => sendJson(res, 500, { id: 'store.sql.query.app_error', message: 'We encountered an error with the database.', detailed_error: errorText(err), request_id: requestId, status_code: 500 }),
      );
      return;
    }
    const handle = route
      ? route(req, url)
      : Promise.reject(
          new HttpError(
            404,
            'api.context.404.app_error',
            'Sorry, we could not find the page.',
            `There doesn't appear to be an api call for the url='${url.pathname}'.  Typo? are you missing a team_id or user_id as part of the url?`,
          ),
        );
    handle
      .then(([status, body]) => sendJson(res, status, body))
      .catch((err: unknown) => {
        const e =
          err instanceof HttpError
            ? err
            : new HttpError(500, 'store.sql.query.app_error', 'We encountered an error with the database.', errorText(err));
        if (e.status >= 500) log('error', e.message, 'web/handlers.go:177', { path: url.pathname, request_id: requestId, err_details: e.detailed });
        sendJson(res, e.status, {
          id: e.id,
          message: e.message,
          detailed_error: e.detailed,
          request_id: requestId,
          status_code: e.status,
        });
      });
  });
}

function postJson(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...row };
  if (typeof out.create_at === 'string') out.create_at = Number(out.create_at);
  return out;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  let config: Config;
  try {
    config = readConfig(process.env);
  } catch (err) {
    return fatal('Failed to load configuration', 'config/store.go:89', { error: errorText(err) });
  }
  installSignalHandlers(config);
  log('info', 'Server is initializing...', 'app/server.go:268', {
    go_version: 'go1.16.5',
    version: config.version,
    ...(config.failMode ? { test_fail_mode: config.failMode } : {}),
  });

  await pingUntilReachable(config);
  if (stopping) return;

  const pool = new Pool({
    connectionString: config.dataSource,
    max: 10,
    connectionTimeoutMillis: HEALTH_QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 10_000,
  });
  pool.on('error', (err) => log('warn', 'Database connection lost', 'sqlstore/store.go:312', { error: errorText(err) }));
  onStop.push(() => pool.end());

  try {
    await migrate(pool, config);
  } catch (err) {
    log('error', 'Failed to apply database migrations.', 'sqlstore/upgrade.go:135', { error: errorText(err) });
    await fatal('Error starting server', 'app/server.go:1023', { error: errorText(err) });
  }
  if (stopping) return;

  log('info', 'Starting Server...', 'app/server.go:1163');
  const server = createApi(pool, config, createStandIn(pool, config, process.env));
  try {
    await listen(server, config.listenPort);
  } catch (err) {
    await fatal('Error starting server', 'app/server.go:1023', { error: errorText(err) });
  }
  server.keepAliveTimeout = 1_000;
  onStop.unshift(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  log('info', `Server is listening on 127.0.0.1:${config.listenPort}`, 'app/server.go:1236', {
    address: `127.0.0.1:${config.listenPort}`,
  });
  if (config.crashAfterMs > 0) {
    setTimeout(() => {
      log('error', 'Failed to run the jobs server', 'jobs/server.go:87', { error: 'pq: column "props" of relation "jobs" does not exist' });
      void fatal('Shutting down after a fatal error', 'app/server.go:1301', { error: `jobs server stopped ${config.crashAfterMs} ms after start` });
    }, config.crashAfterMs).unref();
  }
}

main().catch((err: unknown) => {
  void fatal('Unexpected error', 'app/server.go:1', { error: errorText(err) });
});
