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
import { lstat, mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { BackupError, BadInputError, UpgradeBotError } from '../common/errors.js';
import { syncPath } from '../docker/compose/atomic-write.js';
import type { DockerEngine } from '../docker/engine.js';
import { oneLine, type DbTarget } from './psql.js';
import { readdirOrEmpty } from './store.js';

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

export function backupFileName(db: string, version: string, at: Date): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `${safe(db)}-${safe(version)}-${stamp}.dump`;
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

/** What FileSink gathers before a write: pg_dump's output comes through the Engine a few KiB at a time. */
const WRITE_SIZE = 1024 * 1024;

/**
 * Writes to a file handle with backpressure, counting bytes and reporting them now and then.
 * The chunks are gathered into one of two buffers of WRITE_SIZE, written while the other one
 * fills: a write per chunk as it came off the connection (a few KiB each, a trip through
 * libuv's thread pool each) was, with DemuxStdout's copy of every frame, half of the CPU the
 * bot spent on a dump (bench/dump.ts, 400 MB: 6.5 s before, 3.2 s after).
 */
class FileSink extends Writable {
  bytes = 0;
  private reported = 0;
  private readonly buffers = [Buffer.allocUnsafe(WRITE_SIZE), Buffer.allocUnsafe(WRITE_SIZE)];
  private current = 0;
  private filled = 0;
  /** The write in flight, if any. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly handle: FileHandle,
    private readonly onProgress: ((bytes: number) => void) | undefined,
  ) {
    super({ highWaterMark: 256 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.filled + chunk.length < WRITE_SIZE) {
      // Most chunks: a copy, no write, no promise.
      this.filled += chunk.copy(this.buffers[this.current]!, this.filled);
      this.count(chunk.length);
      return done();
    }
    this.take(chunk).then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.flush()
      .then(() => this.writing)
      .then(() => done(), done);
  }

  private async take(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length; ) {
      const copied = chunk.copy(this.buffers[this.current]!, this.filled, offset);
      this.filled += copied;
      offset += copied;
      if (this.filled === WRITE_SIZE) await this.flush();
    }
    this.count(chunk.length);
  }

  private count(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes - this.reported >= PROGRESS_EVERY) this.reportProgress();
  }

  /** Once the write in flight is done, starts writing what the current buffer holds and fills the other. */
  private async flush(): Promise<void> {
    await this.writing;
    if (this.filled === 0) return;
    const data = this.buffers[this.current]!.subarray(0, this.filled);
    this.writing = this.writeAll(data);
    // Awaited at the next flush or at the end; until then its failure must not count as unhandled.
    this.writing.catch(() => undefined);
    this.current = 1 - this.current;
    this.filled = 0;
  }

  private async writeAll(data: Buffer): Promise<void> {
    for (let offset = 0; offset < data.length; ) {
      const { bytesWritten } = await this.handle.write(data, offset, data.length - offset);
      offset += bytesWritten;
    }
  }

  reportProgress(): void {
    if (this.bytes === this.reported) return;
    this.reported = this.bytes;
    this.onProgress?.(this.bytes);
  }
}

function safe(part: string): string {
  return part.replace(/[^a-zA-Z0-9_.+-]/g, '_');
}


export function messageOf(err: unknown): string {
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

export async function readable(path: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a regular file');
    await (await open(path, 'r')).close();
  } catch (err) {
    throw new BadInputError(`cannot read the dump ${path}: ${messageOf(err)}`);
  }
}

