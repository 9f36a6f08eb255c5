/**
 * One rehearsal: the copy is set up, the dump restored into it, the target started against
 * it and watched until it reports the target version (or exits, or the time is up), then
 * everything is removed, whatever happened. Production is only read (its containers' settings,
 * its database size, its host's socket table); nothing of it is stopped, mounted or changed.
 */
import { createReadStream } from 'node:fs';
import { BadInputError, PolicyError, ServiceFailedError, TimeoutError } from '../../common/errors.js';
import { formatBytes, formatDuration } from '../../config/parse.js';
import { databaseSize, dbTarget, ident, literal, psql, psqlPrivate } from '../../backup/psql.js';
import { isStrictVersion } from '../../common/version.js';
import type { EngineDeps } from '../upgrade/deps.js';
import { errorLines, scanLogs } from '../upgrade/health.js';
import { getInside } from './probe.js';
import { freeLoopbackPorts, networkModeOf, removeScratch, REHEARSAL_LABEL, scratchAppBody, scratchDataSource, scratchDbBody, scratchNames, type Scratch } from './scratch.js';

export interface RehearsalInput {
  /** The label of everything it creates (the job's id). */
  id: string;
  target: string;
  targetRef: string;
  appContainer: string;
  dbContainer: string;
  dump: string;
  timeoutMs: number;
}

export interface RehearsalReport {
  target: string;
  mode: Scratch['mode'];
  restoreMs: number;
  /** From the target's start until it reported the target version. */
  startupMs: number;
  /** From the target's start until the schema version in its database was the target's. */
  migrationMs: number | undefined;
  schemaBefore: string | null;
  schemaAfter: string | null;
  logLines: string[];
  /** Isolation settings read back from the rehearsal server's client configuration. */
  verified: string[];
  notVerifiable: string[];
  dbSizeBytes: number;
  freeBytes: number;
  removed: string[];
}

/** Free space asked for beyond the database's own size: a fifth of it, and at least this (WAL, indexes, a migration rewriting a table). */
const MIN_MARGIN = 1024 * 1024 * 1024;

export function spaceNeeded(dbBytes: number): number {
  return dbBytes + Math.max(MIN_MARGIN, Math.ceil(dbBytes * 0.2));
}

type Say = (message: string) => void;

/** Runs the rehearsal; the caller has journaled an undo that removes what carries `input.id` (a kill). */
export async function rehearse(deps: EngineDeps, input: RehearsalInput, say: Say): Promise<RehearsalReport> {
  try {
    return await rehearseOnCopy(deps, input, say);
  } finally {
    say('removing the copy');
    // Never in place of the rehearsal's own outcome: the journaled undo tries again.
    await removeScratch(deps.engine, input.id).catch((err: unknown) => say(`the copy could not be removed yet (${(err as Error).message}); it is removed at the end of the job or at the next start`));
  }
}

async function rehearseOnCopy(deps: EngineDeps, input: RehearsalInput, say: Say): Promise<RehearsalReport> {
  const { engine, config, clock } = deps;
  const prodApp = await engine.inspectContainer(input.appContainer);
  const prodDb = await engine.inspectContainer(input.dbContainer);
  if (!prodApp || !prodDb) throw new BadInputError(`the running deployment was not found (${input.appContainer}, ${input.dbContainer})`);
  const mode = networkModeOf(prodApp);
  const [dbPort, appPort] = mode === 'host' ? await freeLoopbackPorts(engine, input.appContainer, 2) : [5432, 8065];
  const s = scratchNames(input.id, mode, { db: dbPort!, app: appPort! });
  const labels = { [REHEARSAL_LABEL]: s.id };
  const prodTarget = dbTarget(input.dbContainer, config.db);
  const dbSizeBytes = await databaseSize(engine, prodTarget);

  // The copy's database.
  if (s.network) await engine.createNetwork(s.network, { internal: true, labels });
  await engine.createVolume(s.db.volume, labels);
  const image = await engine.inspectImage(prodDb.Image);
  const secrets = await fileSecrets(deps, input.dbContainer, prodDb);
  await engine.createContainer(scratchDbBody(s, prodDb, image?.Config.Env ?? [], secrets));
  await engine.startContainer(s.db.container);
  say(`starting a scratch PostgreSQL (${s.db.container})`);
  const scratchDb = dbTarget(s.db.container, config.db);
  // Over TCP: the image's first-start initialisation runs a temporary server on the unix socket
  // only, which pg_isready on the socket would take for the real one just before it stops.
  await waitFor(deps, 120_000, `the scratch PostgreSQL in ${s.db.container} did not accept connections`, s.db.container, async () => {
    const r = await engine.exec(s.db.container, ['pg_isready', '-h', '127.0.0.1', '-p', String(s.db.port), '-U', config.db.user, '-t', '2'], { timeoutMs: 10_000 }).catch(() => undefined);
    return r?.exitCode === 0 ? true : undefined;
  });

  // Room for the copy, where Docker keeps this volume.
  const df = await engine.exec(s.db.container, ['sh', '-c', 'df -Pk "${PGDATA:-/var/lib/postgresql/data}" | tail -n 1'], { timeoutMs: 10_000 });
  const freeBytes = Number(df.stdout.trim().split(/\s+/)[3]) * 1024;
  if (!Number.isFinite(freeBytes)) throw new Error(`could not read the free space of the scratch volume: ${df.stderr.trim() || df.stdout.trim()}`);
  if (freeBytes < spaceNeeded(dbSizeBytes)) {
    throw new PolicyError(
      `not enough free space for a rehearsal where Docker keeps volumes: ${formatBytes(freeBytes)} free, the database is ${formatBytes(dbSizeBytes)} and a copy needs ${formatBytes(spaceNeeded(dbSizeBytes))} with its margin`,
      'Free space on the filesystem of Docker\'s data root (docker system df; old images), or skip the rehearsal with REHEARSAL=never.',
      { key: 'rehearse.no-space', params: { free: formatBytes(freeBytes), size: formatBytes(dbSizeBytes), needed: formatBytes(spaceNeeded(dbSizeBytes)) } },
    );
  }

  // The dump into the copy.
  say(`restoring the dump into the copy (${formatBytes(dbSizeBytes)} in production)`);
  const restoreStart = clock.now();
  const exists = (await psql(engine, scratchDb, 'postgres', [`SELECT 1 FROM pg_database WHERE datname = ${literal(config.db.name)}`])).trim() === '1';
  if (!exists) await psql(engine, scratchDb, 'postgres', [`CREATE DATABASE ${ident(config.db.name)}`]);
  // The role the app connects as (production's data source), with its password, owning what is restored.
  const spec = await engine.captureSpec(input.appContainer);
  const prodEnv = (spec.create.Env as string[] | undefined) ?? [];
  const prodDataSource = (prodApp.Config.Env ?? []).find((e) => e.startsWith('MM_SQLSETTINGS_DATASOURCE='))?.slice('MM_SQLSETTINGS_DATASOURCE='.length);
  const pgEnv = (name: string) => (prodDb.Config.Env ?? []).find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1) ?? '';
  const dataSource = scratchDataSource(s, prodDataSource, { user: pgEnv('POSTGRES_USER') || config.db.user, password: secrets.POSTGRES_PASSWORD ?? pgEnv('POSTGRES_PASSWORD'), db: pgEnv('POSTGRES_DB') || config.db.name });
  const appRole = roleOf(dataSource);
  if (appRole) {
    // On stdin: the password must not show in the host's process list.
    await psqlPrivate(engine, scratchDb, 'postgres', [
      `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(appRole.user)}) THEN CREATE ROLE ${ident(appRole.user)} LOGIN; END IF; END $$`,
      `ALTER ROLE ${ident(appRole.user)} LOGIN PASSWORD ${literal(appRole.password)}`,
      `ALTER DATABASE ${ident(config.db.name)} OWNER TO ${ident(appRole.user)}`,
    ], [appRole.password]);
  }
  const restored = await engine.exec(
    s.db.container,
    ['pg_restore', '-U', config.db.user, '-d', config.db.name, '--no-owner', '--no-privileges', '--exit-on-error', ...(appRole ? [`--role=${appRole.user}`] : [])],
    { stdin: createReadStream(input.dump) },
  );
  if (restored.exitCode !== 0) throw new Error(`the dump could not be restored into the copy (pg_restore exit code ${restored.exitCode}): ${restored.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const restoreMs = clock.now() - restoreStart;
  const before = await schemaState(deps, scratchDb);

  // The target against the copy.
  const targetImage = await engine.inspectImage(input.targetRef);
  await engine.createContainer(scratchAppBody(s, input.targetRef, prodEnv, dataSource, targetImage?.Config.Env ?? []));
  say(`starting Mattermost ${input.target} on the copy`);
  const started = clock.now();
  const since = new Date(started - 1000);
  await engine.startContainer(s.app.container);
  // The migration lasts until the schema (systems.Version, db_migrations) stops changing.
  let migrationMs: number | undefined;
  let seen = before.key;
  let last = 'no answer yet';
  try {
    await waitFor(deps, input.timeoutMs, `Mattermost ${input.target} did not report its version on the copy within ${formatDuration(input.timeoutMs)}`, s.app.container, async () => {
      const now = await schemaState(deps, scratchDb).catch(() => undefined);
      if (now && now.key !== seen) {
        seen = now.key;
        migrationMs = clock.now() - started;
      }
      const ping = await getInside(engine, s.app.container, `http://127.0.0.1:${s.app.port}/api/v4/system/ping`);
      if (!ping) return undefined;
      if (ping.status !== 200 || ping.json?.status !== 'OK') {
        last = `ping answers ${ping.status} ${String(ping.json?.status ?? '')}`;
        return undefined;
      }
      const client = await getInside(engine, s.app.container, `http://127.0.0.1:${s.app.port}/api/v4/config/client?format=old`);
      const version = reportedVersion(client?.json);
      last = `reports version ${version ?? 'unknown'}`;
      return version === input.target ? true : undefined;
    });
  } catch (err) {
    if (err instanceof TimeoutError) throw new ServiceFailedError(`${err.message} (last: ${last})`, await errorLines(engine, s.app.container, config, since, 12));
    throw err;
  }
  const startupMs = clock.now() - started;
  const after = await schemaState(deps, scratchDb);
  if (after.key !== seen) migrationMs = startupMs;
  const { verified, notVerifiable } = await checkIsolation(deps, s);
  const logLines = (await scanLogs(engine, s.app.container, config, since)).map((f) => f.line);
  return { target: input.target, mode, restoreMs, startupMs, migrationMs, schemaBefore: before.text, schemaAfter: after.text, logLines, verified, notVerifiable, dbSizeBytes, freeBytes, removed: [] };
}

/** The release a server reports: `BuildNumber` when it is one (official builds), else `Version` (as server-probe.ts reads it). */
function reportedVersion(cfg: Record<string, unknown> | undefined): string | undefined {
  const build = typeof cfg?.BuildNumber === 'string' ? cfg.BuildNumber : undefined;
  const version = typeof cfg?.Version === 'string' ? cfg.Version : undefined;
  return build && isStrictVersion(build) ? build : version;
}

/**
 * The schema of the copy: `systems.Version` (what older servers wrote) and the migrations
 * recorded in `db_migrations` (newer ones), as text for the report and as a key that changes
 * whenever a migration runs.
 */
async function schemaState(deps: EngineDeps, db: ReturnType<typeof dbTarget>): Promise<{ text: string | null; key: string }> {
  const query = async (sql: string): Promise<string> => {
    const r = await deps.engine.exec(db.container, ['psql', '-X', '-q', '-tA', '-F', ' ', '-U', db.user, '-d', db.name, '-c', sql], { timeoutMs: 10_000 });
    if (r.exitCode !== 0) throw new Error(`could not read the copy's schema: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  // A table that does not exist cannot even be named in a query that would not read it.
  const [hasSystems, hasMigrations] = (await query("SELECT to_regclass('public.systems') IS NOT NULL, to_regclass('public.db_migrations') IS NOT NULL")).split(' ');
  const version = hasSystems === 't' ? await query("SELECT coalesce(max(value), '') FROM systems WHERE name = 'Version'") : '';
  const migrations = hasMigrations === 't' ? await query('SELECT count(*), coalesce(max(version)::text, \'\') FROM db_migrations') : '';
  const [count, newest] = migrations.split(' ');
  const text = [version, count ? `${count} migrations (newest ${newest})` : ''].filter(Boolean).join(', ') || null;
  return { text, key: `${version}|${migrations}` };
}

/** POSTGRES_*_FILE secrets of production's db, read from its container (their files are not mounted in the copy). */
async function fileSecrets(deps: EngineDeps, container: string, prodDb: { Config: { Env?: string[] } }): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of prodDb.Config.Env ?? []) {
    const m = /^(POSTGRES_[A-Z_]+)_FILE=(.+)$/.exec(e);
    if (!m) continue;
    const r = await deps.engine.exec(container, ['cat', m[2]!], { timeoutMs: 10_000 });
    if (r.exitCode === 0) out[m[1]!] = r.stdout.replace(/\n$/, '');
  }
  return out;
}

/** The user and password of a postgres:// data source, when it names them. */
function roleOf(dataSource: string): { user: string; password: string } | undefined {
  try {
    const u = new URL(dataSource);
    return u.username ? { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The isolation settings as the rehearsal server itself reports them: the site URL and
 * telemetry (any client sees them); mail, push, jobs, marketplace and cluster (a logged-in
 * client does: the bot's own token, valid on the copy of its database). A setting reported
 * otherwise stops the rehearsal.
 */
async function checkIsolation(deps: EngineDeps, s: Scratch): Promise<{ verified: string[]; notVerifiable: string[] }> {
  const { engine, config } = deps;
  const url = `http://127.0.0.1:${s.app.port}/api/v4/config/client?format=old`;
  const expected: Record<string, string> = { SiteURL: s.app.siteUrl, EnableDiagnostics: 'false' };
  // (EnableCluster is not asked: without a cluster licence the server always says false.)
  const full: Record<string, string> = { SendEmailNotifications: 'false', SendPushNotifications: 'false', RunJobs: 'false', EnableMarketplace: 'false' };
  const limited = (await getInside(engine, s.app.container, url))?.json ?? {};
  const token = config.mattermost.botToken;
  const logged = token ? ((await getInside(engine, s.app.container, url, token))?.json ?? {}) : {};
  const verified: string[] = [];
  const notVerifiable: string[] = [];
  const wrong: string[] = [];
  for (const [source, wanted] of [[limited, expected], [logged, full]] as const) {
    for (const [key, value] of Object.entries(wanted)) {
      const got = source[key];
      if (got === undefined) notVerifiable.push(key);
      else if (String(got) === value) verified.push(`${key}=${value}`);
      else wrong.push(`${key} is ${String(got)}, not ${value}`);
    }
  }
  if (wrong.length > 0) throw new Error(`the rehearsal server did not take its isolation settings (${wrong.join('; ')}): stopped`);
  return { verified, notVerifiable };
}

async function waitFor(deps: EngineDeps, timeoutMs: number, what: string, container: string, check: () => Promise<true | undefined>): Promise<void> {
  const { engine, clock } = deps;
  const deadline = clock.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1_000)) {
    const c = await engine.inspectContainer(container);
    if (!c || (!c.State.Running && c.State.Status !== 'created') || c.RestartCount > 0) {
      throw new ServiceFailedError(`${container} ${c ? `exited with code ${c.State.ExitCode}` : 'is gone'}`, await errorLines(deps.engine, container, deps.config, undefined, 12));
    }
    if ((await check()) === true) return;
    if (clock.now() >= deadline) throw new TimeoutError(what);
    await clock.sleep(Math.min(delay, Math.max(0, deadline - clock.now())));
  }
}
