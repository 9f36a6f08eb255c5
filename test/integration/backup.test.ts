/** Dumps, verification and restore against the bed's PostgreSQL, through the Docker Engine only. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, stat, truncate, copyFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseDockerHost } from '../../src/config/index.js';
import { BackupError, ErrorCode, UpgradeBotError } from '../../src/common/errors.js';
import { takeBackup, verifyDump, type BackupResult } from '../../src/backup/dump.js';
import { databaseSize, type DbTarget } from '../../src/backup/psql.js';
import { restoreDump } from '../../src/backup/restore.js';
import { DockerodeEngine } from '../../src/docker/dockerode-engine.js';
import { deploy, readRows, waitForApp, type Deployment } from '../bed/deploy.js';
import { currentBed } from '../bed/state.js';

const bed = currentBed();
const engine = new DockerodeEngine(parseDockerHost(bed.dockerHost)!);

/** `size` pseudo-random bytes, produced in 1 MiB chunks. */
function bytes(size: number): { stream: Readable; md5: Promise<string> } {
  const hash = createHash('md5');
  let left = size;
  let done!: (hex: string) => void;
  const md5 = new Promise<string>((resolve) => (done = resolve));
  const stream = new Readable({
    read() {
      if (left === 0) {
        done(hash.digest('hex'));
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(left, 1024 * 1024));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, md5 };
}

describe('database dumps (team layout)', () => {
  let d: Deployment;
  let db: DbTarget;
  let dir: string;
  const sql = async (database: string, statement: string): Promise<string> => {
    const r = await engine.exec(d.dbContainer, ['psql', '-X', '-v', 'ON_ERROR_STOP=1', '-tA', '-U', d.dbUser, '-d', database, '-c', statement]);
    assert.equal(r.exitCode, 0, r.stderr);
    return r.stdout.trim();
  };

  before(async () => {
    d = await deploy('team', { stopDelayMs: 50 });
    db = { container: d.dbContainer, user: d.dbUser, name: d.dbName };
    dir = mkdtempSync(join(bed.root, 'backups-'));
    // Enough data for the dump to span many chunks (and progress reports).
    await sql(d.dbName, "CREATE TABLE bulk AS SELECT i, md5(i::text) || md5((i * 7)::text) AS a, md5((i * 13)::text) AS b FROM generate_series(1, 300000) AS i");
  });
  after(async () => {
    await d?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('exec with stdin', () => {
    it('delivers 20 MB whole, sees EOF, and reports the exit code', async (t) => {
      const size = 20 * 1024 * 1024;
      const input = bytes(size);
      const t0 = Date.now();
      const r = await engine.exec(d.dbContainer, ['sh', '-c', 'md5sum; exit 7'], { stdin: input.stream });
      t.diagnostic(`20 MiB through exec stdin in ${Date.now() - t0} ms`);
      assert.equal(r.exitCode, 7, r.stderr);
      assert.equal(r.stdout.split(' ')[0], await input.md5);
      const counted = await engine.exec(d.dbContainer, ['wc', '-c'], { stdin: bytes(size).stream });
      assert.deepEqual([counted.exitCode, counted.stdout.trim()], [0, String(size)]);
    });

    it('keeps stdout and stderr apart while feeding, and takes an empty input', async () => {
      const r = await engine.exec(d.dbContainer, ['sh', '-c', 'cat; echo oops >&2'], { stdin: Readable.from([Buffer.from('hello\n'), Buffer.from('world\n')]) });
      assert.deepEqual(r, { exitCode: 0, stdout: 'hello\nworld\n', stderr: 'oops\n' });
      const empty = await engine.exec(d.dbContainer, ['wc', '-c'], { stdin: Readable.from([]) });
      assert.deepEqual([empty.exitCode, empty.stdout.trim()], [0, '0']);
    });

    it('returns when the process exits before reading all of its input', async () => {
      const input = bytes(50 * 1024 * 1024);
      const r = await engine.exec(d.dbContainer, ['sh', '-c', 'head -c 10 | wc -c; echo bye >&2; exit 4'], { stdin: input.stream });
      assert.deepEqual(r, { exitCode: 4, stdout: '10\n', stderr: 'bye\n' });
      assert.ok(input.stream.destroyed, 'the rest of the input is dropped');
    });

    it('fails on an input that cannot be read, rather than passing it off as complete', async () => {
      const broken = new Readable({
        read() {
          this.destroy(new Error('disk on fire'));
        },
      });
      await assert.rejects(engine.exec(d.dbContainer, ['wc', '-c'], { stdin: broken }), /could not read the input to send: disk on fire/);
    });
  });

  describe('takeBackup, verifyDump, pruneBackups', () => {
    let first: BackupResult;

    it('measures the database', async () => {
      const size = await databaseSize(engine, db);
      assert.ok(size > 10 * 1024 * 1024, `${size}`);
    });

    it('streams a verified dump to a 0600 file, with progress, and leaves no partial file', async (t) => {
      const progress: number[] = [];
      first = await takeBackup(engine, db, { dir, version: '1.0.0', keep: 5, onProgress: (n) => progress.push(n) });
      t.diagnostic(`dump: ${first.sizeBytes} bytes, ${first.entries} entries, ${first.durationMs} ms (database ${await databaseSize(engine, db)} bytes)`);
      assert.match(first.path, /\/mattermost-1\.0\.0-\d{8}T\d{6}Z\.dump$/);
      const s = await stat(first.path);
      assert.equal(s.mode & 0o777, 0o600);
      assert.equal(s.size, first.sizeBytes);
      assert.ok(first.sizeBytes > 1024 * 1024, 'the bulk table is in it');
      assert.ok(first.entries >= 4, `${first.entries} entries`);
      assert.ok(progress.length >= 2, `progress ${progress.join(',')}`);
      assert.equal(progress.at(-1), first.sizeBytes);
      assert.ok(progress.every((n, i) => i === 0 || n > progress[i - 1]!));
      assert.deepEqual(await readdir(dir), [first.path.slice(dir.length + 1)]);
      assert.equal(first.version, '1.0.0');
      assert.ok(Date.parse(first.finishedAt) >= Date.parse(first.startedAt));
    });

    it('verifies a good dump and refuses a truncated or foreign one', async (t) => {
      const t0 = Date.now();
      assert.equal((await verifyDump(engine, db, first.path)).entries, first.entries);
      t.diagnostic(`full verification in ${Date.now() - t0} ms`);
      const cut = join(dir, 'cut.bin');
      await copyFile(first.path, cut);
      await truncate(cut, Math.floor(first.sizeBytes * 0.6));
      assert.equal((await verifyDump(engine, db, cut, { full: false })).entries, first.entries, 'the table of contents alone looks fine');
      await assert.rejects(verifyDump(engine, db, cut), (err: unknown) => err instanceof UpgradeBotError && /does not read to the end/.test(err.message));
      const foreign = join(dir, 'foreign.bin');
      await writeFile(foreign, 'SELECT 1;\n');
      await assert.rejects(verifyDump(engine, db, foreign), /not a dump pg_restore can read/);
      await assert.rejects(verifyDump(engine, db, join(dir, 'missing.dump')), (err: unknown) => err instanceof UpgradeBotError && err.code === ErrorCode.BadInput);
      rmSync(cut);
      rmSync(foreign);
    });

    it('fails with pg_dump\'s message and leaves no file when pg_dump fails', async () => {
      const failing = join(dir, 'failing');
      await assert.rejects(takeBackup(engine, { ...db, name: 'no_such_db' }, { dir: failing, version: '1.0.0', keep: 5 }), (err: unknown) => {
        assert.ok(err instanceof BackupError, String(err));
        assert.match(err.message, /pg_dump of no_such_db failed \(exit code 1\):.*database "no_such_db" does not exist/);
        assert.equal(err.exitCode, 2);
        return true;
      });
      assert.deepEqual(await readdir(failing), []);
      rmSync(failing, { recursive: true });
    });

    it('keeps the N newest dumps and drops stale partial files', async () => {
      const old = join(dir, 'mattermost-0.9.0-20200101T000000Z.dump');
      await copyFile(first.path, old);
      await utimes(old, new Date('2020-01-01'), new Date('2020-01-01'));
      const stale = join(dir, 'mattermost-0.9.0-20200101T010000Z.partial');
      await writeFile(stale, 'half');
      await utimes(stale, new Date('2020-01-01'), new Date('2020-01-01'));
      const fresh = join(dir, 'mattermost-1.0.0-29990101T000000Z.partial');
      await writeFile(fresh, 'in progress');
      const second = await takeBackup(engine, db, { dir, version: '1.0.1', keep: 2 });
      const third = await takeBackup(engine, db, { dir, version: '1.0.2', keep: 2 });
      const names = (await readdir(dir)).sort();
      assert.deepEqual(names, [second.path, fresh, third.path].map((p) => p.slice(dir.length + 1)).sort());
      rmSync(fresh);
    });
  });

  describe('restoreDump', () => {
    let dump: BackupResult;
    const aside = 'mattermost_before_restore';

    it('puts the data of the dump back, keeping the database it replaced', async (t) => {
      dump = await takeBackup(engine, db, { dir, version: '1.0.0', keep: 5 });
      const ownerBefore = await sql('postgres', `SELECT pg_get_userbyid(datdba) || ' ' || pg_encoding_to_char(encoding) || ' ' || datcollate FROM pg_database WHERE datname = '${d.dbName}'`);
      await sql(d.dbName, "INSERT INTO posts (message, create_at) VALUES ('written after the dump', 0)");
      await sql(d.dbName, `DELETE FROM posts WHERE message = '${d.rows[0]!.replace(/'/g, "''")}'`);
      assert.notDeepEqual(await readRows(d.appUrl), d.rows);

      await d.compose(['stop', 'mattermost']);
      const messages: string[] = [];
      const t0 = Date.now();
      const r = await restoreDump(engine, db, dump.path, { asideName: aside, onProgress: (m) => messages.push(m) });
      t.diagnostic(`restore of ${dump.sizeBytes} bytes in ${Date.now() - t0} ms: ${messages.join(' / ')}`);
      assert.equal(r.asideName, aside);
      await d.compose(['start', 'mattermost']);
      await waitForApp(d.appUrl, '1.0.0');

      assert.deepEqual(await readRows(d.appUrl), d.rows, 'exactly the rows of the dump');
      assert.equal(await sql(d.dbName, 'SELECT count(*) FROM bulk'), '300000');
      assert.equal(await sql('postgres', `SELECT pg_get_userbyid(datdba) || ' ' || pg_encoding_to_char(encoding) || ' ' || datcollate FROM pg_database WHERE datname = '${d.dbName}'`), ownerBefore);
      const kept = (await sql(aside, 'SELECT message FROM posts ORDER BY id')).split('\n');
      assert.ok(kept.includes('written after the dump'), 'the aside database holds what was written after the dump');
      assert.ok(!kept.includes(d.rows[0]!), 'and is the database as it was, deletion included');
    });

    it('refuses an aside name that is taken, changing nothing', async () => {
      await assert.rejects(restoreDump(engine, db, dump.path, { asideName: aside }), (err: unknown) => err instanceof UpgradeBotError && err.exitCode === 2 && /already exists/.test(err.message));
      await assert.rejects(restoreDump(engine, db, dump.path, { asideName: 'bad name' }), (err: unknown) => err instanceof UpgradeBotError && err.exitCode === 2);
    });

    it('puts the database back as it was when the restore fails half-way', async () => {
      await sql(d.dbName, "INSERT INTO posts (message, create_at) VALUES ('written before a failed restore', 0)");
      const expected = [...d.rows, 'written before a failed restore'];
      assert.deepEqual(await readRows(d.appUrl), expected);
      const cut = join(dir, 'cut.bin');
      await copyFile(dump.path, cut);
      await truncate(cut, Math.floor(dump.sizeBytes * 0.6));
      await d.compose(['stop', 'mattermost']);
      await assert.rejects(restoreDump(engine, db, cut, { asideName: 'mattermost_failed_restore' }), (err: unknown) => {
        assert.ok(err instanceof UpgradeBotError, String(err));
        assert.equal(err.code, ErrorCode.RestoreFailed);
        assert.match(err.message, /back as it was before the restore/);
        return true;
      });
      const names = (await sql('postgres', 'SELECT datname FROM pg_database ORDER BY datname')).split('\n');
      assert.ok(names.includes(d.dbName) && !names.includes('mattermost_failed_restore'), names.join(','));
      await d.compose(['start', 'mattermost']);
      await waitForApp(d.appUrl, '1.0.0');
      assert.deepEqual(await readRows(d.appUrl), expected);
    });
  });
});
