/**
 * Restoring a dump into the database: the current database is kept aside under a new name,
 * a fresh one is restored from the dump, and a restore cut short (a crash) is undone at the
 * next start from its marker file.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BadInputError, ErrorCode, UpgradeBotError } from '../common/errors.js';
import { writeFileAtomic } from '../docker/compose/atomic-write.js';
import type { DockerEngine } from '../docker/engine.js';
import { messageOf, verifyDump } from './dump.js';
import { ident, literal, MAX_IDENTIFIER_BYTES, oneLine, psql, type DbTarget } from './psql.js';

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
