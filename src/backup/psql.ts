/**
 * The SQL plumbing of the backup code: the database a job works on, and psql, pg_isready and
 * the database size through `DockerEngine.exec` in its container.
 */
import { Readable } from 'node:stream';
import { ErrorCode, UpgradeBotError } from '../common/errors.js';
import { Redactor } from '../logging/redact.js';
import type { DockerEngine } from '../docker/engine.js';

/** PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;

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

export async function databaseSize(engine: DockerEngine, db: DbTarget): Promise<number> {
  const out = await psql(engine, db, db.name, [`SELECT pg_database_size(${literal(db.name)})`]);
  const size = Number(out.trim());
  if (!Number.isSafeInteger(size)) {
    throw new UpgradeBotError(ErrorCode.Unknown, `unexpected answer from PostgreSQL for the size of ${db.name}: ${JSON.stringify(out.trim())}`);
  }
  return size;
}

/** Runs statements one by one (each `-c` in its own transaction) and returns the unaligned, tuples-only output. */
export async function psql(engine: DockerEngine, db: DbTarget, database: string, statements: string[]): Promise<string> {
  const r = await engine.exec(db.container, [
    'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-tA', '-F', '\t', '-U', db.user, '-d', database,
    ...statements.flatMap((s) => ['-c', s]),
  ]);
  if (r.exitCode !== 0) {
    throw new UpgradeBotError(ErrorCode.HumanNeeded, `psql in ${db.container} failed (exit code ${r.exitCode}): ${oneLine(r.stderr)}`);
  }
  return r.stdout;
}

/**
 * Like psql(), but the statements go in on stdin instead of as `-c` arguments: for statements
 * that carry a secret (a role's password), since a process's arguments are readable by every
 * user of the host (`ps`), and a container's processes are the host's. `secrets` are masked in
 * the error, which PostgreSQL may give with the statement quoted.
 */
export async function psqlPrivate(engine: DockerEngine, db: DbTarget, database: string, statements: string[], secrets: string[]): Promise<string> {
  const script = statements.map((s) => `${s};\n`).join('');
  const r = await engine.exec(db.container, ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-tA', '-F', '\t', '-U', db.user, '-d', database, '-f', '-'], { stdin: Readable.from([script]) });
  if (r.exitCode !== 0) {
    throw new UpgradeBotError(ErrorCode.HumanNeeded, `psql in ${db.container} failed (exit code ${r.exitCode}): ${new Redactor(secrets).text(oneLine(r.stderr))}`);
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
/** A tool's stderr on one line, capped: pg_restore may quote rows, i.e. people's messages. */
export function oneLine(text: string, max = 1000): string {
  const line = text.trim().split('\n').map((l) => l.trim()).filter(Boolean).join(' | ');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
