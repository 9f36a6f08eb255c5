/**
 * Database dumps taken, checked and restored with the PostgreSQL tools of the database
 * container itself (same version as the server; the host may have none), through
 * `DockerEngine.exec`: the dump streams from pg_dump's stdout to a file and back into
 * pg_restore's stdin, never held in memory.
 *
 * A dump is written as `<name>.partial` (mode 0600: it holds everyone's messages), fsynced,
 * verified, then renamed to `<name>.dump`; only a verified dump ever carries that name.
 */
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { BackupError, BadInputError, ErrorCode, UpgradeBotError } from '../common/errors.js';
import { syncPath, writeFileAtomic } from '../docker/compose/atomic-write.js';
import type { DockerEngine } from '../docker/engine.js';
import { readdirOrEmpty } from './store.js';

export interface DbTarget {
  /** ID or name of the database container. */
  container: string;
  user: string;
  name: string;
}

/** The database of DB_USER / DB_NAME in `container`. */
export function dbTarget(container: string, db: { user: string; name: string }): DbTarget {
  return { container, user: db.user, name: db.name };
}

/** `pg_isready` inside the db container: true when PostgreSQL accepts connections. */
export async function pgIsReady(engine: DockerEngine, db: DbTarget, waitS = 3): Promise<boolean> {
  const r = await engine
    .exec(db.container, ['pg_isready', '-U', db.user, '-d', db.name, '-t', String(waitS)], { timeoutMs: 10_000 })
    .catch(() => undefined);
  return r?.exitCode === 0;
}

export interface BackupResult {
  path: string;
  sizeBytes: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Entries in the dump's table of contents (`pg_restore --list`). */
  entries: number;
  /** The Mattermost version the dump was taken from. */
  version: string;
  /** What went wrong after the dump was safe, e.g. pruning older dumps. */
  warnings?: string[];
}

/** Partial files younger than this may belong to a dump in progress. */
const PARTIAL_GRACE_MS = 60 * 60 * 1000;
/** How often, in bytes, takeBackup reports progress. */
const PROGRESS_EVERY = 1024 * 1024;
/** PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;

export function backupFileName(db: string, version: string, at: Date): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `${safe(db)}-${safe(version)}-${stamp}.dump`;
}

export async function databaseSize(engine: DockerEngine, db: DbTarget): Promise<number> {
  const out = await psql(engine, db, db.name, [`SELECT pg_database_size(${literal(db.name)})`]);
  const size = Number(out.trim());
  if (!Number.isSafeInteger(size)) {
    throw new UpgradeBotError(ErrorCode.Unknown, `unexpected answer from PostgreSQL for the size of ${db.name}: ${JSON.stringify(out.trim())}`);
  }
  return size;
}

export async function takeBackup(
  engine: DockerEngine,
  db: DbTarget,
  opts: { dir: string; version: string; keep: number; now?: () => Date; onProgress?: (bytesWritten: number) => void; /** Dumps retention must not remove (one about to be restored). */ protect?: string[] },
): Promise<BackupResult> {
  const now = opts.now ?? (() => new Date());
  const started = now();
  const finalName = backupFileName(db.name, opts.version, started);
  const finalPath = join(opts.dir, finalName);
  const partialPath = join(opts.dir, `${finalName.replace(/\.dump$/, '')}.partial`);
  try {
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new BackupError(`cannot create the backup folder ${opts.dir}: ${messageOf(err)}`, { cause: err, hint: 'Check BACKUP_DIR.' });
  }
  if (await exists(finalPath)) throw new BackupError(`${finalPath} already exists; a dump was taken this very second`);

  let handle: FileHandle | undefined;
  try {
    try {
      handle = await open(partialPath, 'wx', 0o600);
    } catch (err) {
      throw new BackupError(`cannot write the dump to ${partialPath}: ${messageOf(err)}`, { cause: err, hint: 'Check BACKUP_DIR and its permissions.' });
    }
    const sink = new FileSink(handle, opts.onProgress);
    let dumped;
    try {
      dumped = await engine.exec(db.container, ['pg_dump', '-Fc', '-U', db.user, db.name], { stdout: sink });
    } catch (err) {
      if (err instanceof UpgradeBotError) throw err;
      throw new BackupError(`the dump of ${db.name} could not be written to ${partialPath}: ${messageOf(err)}`, { cause: err });
    }
    if (dumped.exitCode !== 0) {
      throw new BackupError(`pg_dump of ${db.name} failed (exit code ${dumped.exitCode}): ${oneLine(dumped.stderr)}`, {
        hint: `Check DB_NAME and DB_USER, and that the database container ${db.container} runs.`,
      });
    }
    if (sink.bytes === 0) throw new BackupError(`pg_dump of ${db.name} produced nothing: ${oneLine(dumped.stderr) || 'no message'}`);
    sink.reportProgress();
    await handle.sync();
    await handle.close();
    handle = undefined;

    let entries: number;
    try {
      ({ entries } = await verifyDump(engine, db, partialPath));
    } catch (err) {
      throw new BackupError(`the new dump of ${db.name} failed verification: ${messageOf(err)}`, { cause: err });
    }
    await rename(partialPath, finalPath);
    await syncPath(opts.dir);
    const finished = now();
    const sizeBytes = (await stat(finalPath)).size;
    const warnings: string[] = [];
    await pruneBackups(opts.dir, opts.keep, [finalPath, ...(opts.protect ?? [])]).catch((err: unknown) => {
      warnings.push(`older dumps in ${opts.dir} could not be pruned: ${messageOf(err)}`);
    });
    return {
      path: finalPath,
      sizeBytes,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      entries,
      version: opts.version,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await unlink(partialPath).catch(() => undefined);
    throw err;
  }
}

/**
 * Checks a dump with the container's pg_restore, the file going through stdin: its table of
 * contents must list at least one entry and, unless `full` is false, every data block must
 * read back (`pg_restore -f /dev/null` reads the whole archive; `--list` alone stops after
 * the table of contents and would pass a truncated file).
 */
export async function verifyDump(engine: DockerEngine, db: DbTarget, path: string, opts: { full?: boolean } = {}): Promise<{ entries: number }> {
  await readable(path);
  const listed = await engine.exec(db.container, ['pg_restore', '--list'], { stdin: createReadStream(path), maxOutputBytes: 64 * 1024 * 1024 });
  if (listed.exitCode !== 0) {
    throw new BadInputError(`${path} is not a dump pg_restore can read (exit code ${listed.exitCode}): ${oneLine(listed.stderr)}`);
  }
  const entries = listed.stdout.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(';')).length;
  if (entries === 0) throw new BadInputError(`${path} lists no entry: the dump is empty`);
  if (opts.full ?? true) {
    const read = await engine.exec(db.container, ['pg_restore', '-f', '/dev/null'], { stdin: createReadStream(path) });
    if (read.exitCode !== 0) {
      throw new BadInputError(`${path} does not read to the end (exit code ${read.exitCode}): ${oneLine(read.stderr)}`);
    }
  }
  return { entries };
}

/**
 * Restores `path` into the database; the caller has stopped the app. The current database
 * is renamed to `asideName` and kept (writes made after the dump stay recoverable there), a
 * new one is created with the same owner, encoding and locale, and the dump is restored into
 * it. If the restore fails, the new database is dropped and the old one renamed back.
 */
export async function restoreDump(
  engine: DockerEngine,
  db: DbTarget,
  path: string,
  opts: {
    asideName: string;
    onProgress?: (message: string) => void;
    /** Where to leave a marker while the database is set aside (see recoverInterruptedRestore). */
    markerDir?: string;
  },
): Promise<{ asideName: string; durationMs: number }> {
  const t0 = Date.now();
  const say = opts.onProgress ?? (() => undefined);
  const aside = opts.asideName;
  if (aside === db.name || !/^[a-zA-Z0-9_.-]+$/.test(aside) || Buffer.byteLength(aside) > MAX_IDENTIFIER_BYTES) {
    throw new BadInputError(`cannot set the database aside as "${aside}": a name other than ${db.name}, of at most ${MAX_IDENTIFIER_BYTES} letters, digits, _ . or - is needed`);
  }
  say(`checking ${basename(path)}`);
  const { entries } = await verifyDump(engine, db, path, { full: false });

  const current = await databaseInfo(engine, db, db.name);
  if (!current) {
    throw new UpgradeBotError(ErrorCode.NotFound, `database ${db.name} does not exist in ${db.container}; there is nothing to set aside`, {
      hint: `Create an empty one (psql -U ${db.user} -d postgres -c 'CREATE DATABASE ${ident(db.name)}') and restore again.`,
    });
  }
  if (await databaseInfo(engine, db, aside)) {
    throw new BadInputError(`database ${aside} already exists; choose another name to set ${db.name} aside`);
  }

  const marker = opts.markerDir ? join(opts.markerDir, RESTORE_MARKER) : undefined;
  if (marker) {
    await mkdir(opts.markerDir!, { recursive: true, mode: 0o700 });
    await writeFileAtomic(marker, JSON.stringify({ container: db.container, name: db.name, user: db.user, aside, dump: path, startedAt: new Date().toISOString() } satisfies RestoreMarker));
  }
  const consistent = async (): Promise<void> => {
    if (marker) await unlink(marker).catch(() => undefined);
  };
  try {
    return await restoreAside(engine, db, path, aside, current, entries, say, t0, consistent);
  } catch (err) {
    if (err instanceof UpgradeBotError && err.code === ErrorCode.RestoreFailed) await consistent();
    throw err;
  }
}

async function restoreAside(
  engine: DockerEngine,
  db: DbTarget,
  path: string,
  aside: string,
  current: DatabaseInfo,
  entries: number,
  say: (message: string) => void,
  t0: number,
  consistent: () => Promise<void>,
): Promise<{ asideName: string; durationMs: number }> {
  say(`closing the connections to ${db.name} and renaming it ${aside}`);
  await renameDatabase(engine, db, db.name, aside);
  say(`creating an empty ${db.name} owned by ${current.owner}`);
  try {
    await psql(engine, db, 'postgres', [
      `CREATE DATABASE ${ident(db.name)} WITH OWNER ${ident(current.owner)} TEMPLATE template0 ENCODING ${literal(current.encoding)} ` +
        `LC_COLLATE ${literal(current.collate)} LC_CTYPE ${literal(current.ctype)}`,
    ]);
  } catch (err) {
    await putBack(engine, db, aside, false, err);
  }

  say(`restoring ${entries} entries from ${basename(path)}`);
  try {
    const restored = await engine.exec(
      db.container,
      ['pg_restore', '--exit-on-error', '--no-owner', `--role=${current.owner}`, '-U', db.user, '-d', db.name],
      { stdin: createReadStream(path) },
    );
    if (restored.exitCode !== 0) {
      throw new UpgradeBotError(ErrorCode.HumanNeeded, `pg_restore into ${db.name} failed (exit code ${restored.exitCode}): ${oneLine(restored.stderr)}`);
    }
    say(`analyzing ${db.name}`);
    await psql(engine, db, db.name, ['ANALYZE']);
  } catch (err) {
    say(`the restore failed: dropping the new ${db.name} and renaming ${aside} back`);
    await putBack(engine, db, aside, true, err);
  }
  await consistent();
  say(`restored ${db.name}; the previous database is kept as ${aside}`);
  return { asideName: aside, durationMs: Date.now() - t0 };
}

export const RESTORE_MARKER = 'restore-in-progress.json';

interface RestoreMarker {
  container: string;
  name: string;
  user: string;
  aside: string;
  dump: string;
  startedAt: string;
}

/**
 * A restore cut short (kill -9, reboot) leaves the real data in the aside database and a
 * partial copy under the real name. Before anything starts the app again, this puts the
 * aside database back and keeps the partial one as `<db>_partial_<time>`. Returns what it
 * did, or undefined when there was nothing to do; throws when the db cannot be reached yet.
 */
export async function recoverInterruptedRestore(engine: DockerEngine, markerDir: string): Promise<string | undefined> {
  const marker = join(markerDir, RESTORE_MARKER);
  let m: RestoreMarker;
  try {
    m = JSON.parse(await readFile(marker, 'utf8')) as RestoreMarker;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const db: DbTarget = { container: m.container, user: m.user, name: m.name };
  if (!(await databaseInfo(engine, db, m.aside))) {
    await unlink(marker);
    return undefined;
  }
  const partial = `${Buffer.from(m.name).subarray(0, MAX_IDENTIFIER_BYTES - 24).toString()}_partial_${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
  if (await databaseInfo(engine, db, m.name)) await renameDatabase(engine, db, m.name, partial);
  await renameDatabase(engine, db, m.aside, m.name);
  await unlink(marker);
  return `an interrupted restore of ${m.dump} was undone: ${m.name} is back as it was before it; the partial copy is kept as ${partial}`;
}

/**
 * Keeps the `keep` newest `*.dump` files (by modification time) and every path in `protect`;
 * removes `.partial` files left for more than an hour (younger ones may be a dump in
 * progress). Returns the removed paths.
 */
export async function pruneBackups(dir: string, keep: number, protect: string[] = []): Promise<string[]> {
  const names = await readdirOrEmpty(dir);
  const kept = new Set(protect.map((p) => resolve(p)));
  const files = (
    await Promise.all(
      names
        .filter((n) => n.endsWith('.dump') || n.endsWith('.partial'))
        .map(async (name) => {
          const path = join(dir, name);
          const s = await lstat(path).catch(() => undefined);
          return s?.isFile() ? { path, name, mtimeMs: s.mtimeMs } : undefined;
        }),
    )
  ).filter((f) => f !== undefined);
  const dumps = files.filter((f) => f.name.endsWith('.dump')).sort((a, b) => b.mtimeMs - a.mtimeMs);
  const staleBefore = Date.now() - PARTIAL_GRACE_MS;
  const doomed = [
    ...dumps.slice(Math.max(0, keep)),
    ...files.filter((f) => f.name.endsWith('.partial') && f.mtimeMs < staleBefore),
  ].filter((f) => !kept.has(resolve(f.path)));
  const removed: string[] = [];
  for (const f of doomed) {
    try {
      await unlink(f.path);
      removed.push(f.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}

/** Writes to a file handle with backpressure, counting bytes and reporting them now and then. */
class FileSink extends Writable {
  bytes = 0;
  private reported = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly onProgress: ((bytes: number) => void) | undefined,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.writeAll(chunk).then(() => done(), done);
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length; ) {
      const { bytesWritten } = await this.handle.write(chunk, offset, chunk.length - offset);
      offset += bytesWritten;
    }
    this.bytes += chunk.length;
    if (this.bytes - this.reported >= PROGRESS_EVERY) this.reportProgress();
  }

  reportProgress(): void {
    if (this.bytes === this.reported) return;
    this.reported = this.bytes;
    this.onProgress?.(this.bytes);
  }
}

interface DatabaseInfo {
  owner: string;
  encoding: string;
  collate: string;
  ctype: string;
}

async function databaseInfo(engine: DockerEngine, db: DbTarget, name: string): Promise<DatabaseInfo | undefined> {
  const out = await psql(engine, db, 'postgres', [
    `SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = ${literal(name)}`,
  ]);
  const line = out.split('\n')[0] ?? '';
  if (line === '') return undefined;
  const [owner = '', encoding = '', collate = '', ctype = ''] = line.split('\t');
  return { owner, encoding, collate, ctype };
}

/**
 * Renames a database once no one is connected: its other sessions are terminated first, and
 * PostgreSQL itself waits up to 5 s for them to go. A client that reconnects at once (the
 * app should be stopped) makes it try again, a few times.
 */
async function renameDatabase(engine: DockerEngine, db: DbTarget, from: string, to: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await psql(engine, db, 'postgres', [
        `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${literal(from)} AND pid <> pg_backend_pid()`,
        `ALTER DATABASE ${ident(from)} RENAME TO ${ident(to)}`,
      ]);
      return;
    } catch (err) {
      if (attempt >= 3 || !/being accessed by other users/.test(messageOf(err))) throw err;
    }
  }
}

/** Undoes a failed restore: drops the half-restored database, renames the kept one back. */
async function putBack(engine: DockerEngine, db: DbTarget, aside: string, dropNew: boolean, failure: unknown): Promise<never> {
  try {
    if (dropNew) {
      await psql(engine, db, 'postgres', [
        `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${literal(db.name)} AND pid <> pg_backend_pid()`,
        `DROP DATABASE IF EXISTS ${ident(db.name)}`,
      ]);
    }
    await renameDatabase(engine, db, aside, db.name);
  } catch (undoErr) {
    throw new UpgradeBotError(
      ErrorCode.HumanNeeded,
      `the restore of ${db.name} failed (${messageOf(failure)}), and putting the previous database back failed too: ${messageOf(undoErr)}`,
      {
        cause: failure,
        hint:
          `The previous database is ${aside}. In ${db.container}: psql -U ${db.user} -d postgres -c 'DROP DATABASE IF EXISTS ${ident(db.name)}' ` +
          `-c 'ALTER DATABASE ${ident(aside)} RENAME TO ${ident(db.name)}'`,
      },
    );
  }
  throw new UpgradeBotError(
    ErrorCode.RestoreFailed,
    `the restore of ${db.name} failed; the database is back as it was before the restore: ${messageOf(failure)}`,
    { cause: failure },
  );
}

/** Runs statements one by one (each `-c` in its own transaction) and returns the unaligned, tuples-only output. */
async function psql(engine: DockerEngine, db: DbTarget, database: string, statements: string[]): Promise<string> {
  const r = await engine.exec(db.container, [
    'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-tA', '-F', '\t', '-U', db.user, '-d', database,
    ...statements.flatMap((s) => ['-c', s]),
  ]);
  if (r.exitCode !== 0) {
    throw new UpgradeBotError(ErrorCode.HumanNeeded, `psql in ${db.container} failed (exit code ${r.exitCode}): ${oneLine(r.stderr)}`);
  }
  return r.stdout;
}

/** A double-quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A single-quoted SQL string literal. */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function safe(part: string): string {
  return part.replace(/[^a-zA-Z0-9_.+-]/g, '_');
}

/** A tool's stderr on one line, capped: pg_restore may quote rows, i.e. people's messages. */
function oneLine(text: string, max = 1000): string {
  const line = text.trim().split('\n').map((l) => l.trim()).filter(Boolean).join(' | ');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

async function readable(path: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a regular file');
    await (await open(path, 'r')).close();
  } catch (err) {
    throw new BadInputError(`cannot read the dump ${path}: ${messageOf(err)}`);
  }
}

