/** takeBackup's file handling against a scripted engine: modes, fsync'd rename, clean failure. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { takeBackup } from '../../../src/backup/dump.js';
import type { DbTarget } from '../../../src/backup/psql.js';
import { BackupError, ExitCode } from '../../../src/common/errors.js';
import type { DockerEngine, ExecOptions, ExecResult } from '../../../src/docker/engine.js';

interface Script {
  /** `chunks`: the sizes pg_dump's output comes in, in turn (64 KiB by default). */
  dump: { exitCode: number; bytes: Buffer; stderr?: string; chunks?: number[] };
  list: { exitCode: number; stdout: string; stderr?: string };
  read?: { exitCode: number; stderr?: string };
}

function fakeEngine(script: Script): DockerEngine & { calls: string[][]; fedBytes: number[] } {
  const calls: string[][] = [];
  const fedBytes: number[] = [];
  const drain = async (input: Readable | undefined): Promise<void> => {
    let n = 0;
    for await (const chunk of input ?? []) n += (chunk as Buffer).length;
    fedBytes.push(n);
  };
  const exec = async (_c: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> => {
    calls.push(cmd);
    if (cmd[0] === 'pg_dump') {
      const out = opts.stdout as Writable;
      const sizes = script.dump.chunks ?? [64 * 1024];
      for (let i = 0, n = 0; i < script.dump.bytes.length; i += sizes[n++ % sizes.length]!) {
        if (!out.write(script.dump.bytes.subarray(i, i + sizes[n % sizes.length]!))) await new Promise((r) => out.once('drain', r));
      }
      await new Promise<void>((resolve, reject) => out.end(() => resolve()).once('error', reject));
      return { exitCode: script.dump.exitCode, stdout: '', stderr: script.dump.stderr ?? '' };
    }
    if (cmd.join(' ') === 'pg_restore --list') {
      await drain(opts.stdin);
      return { exitCode: script.list.exitCode, stdout: script.list.stdout, stderr: script.list.stderr ?? '' };
    }
    if (cmd.join(' ') === 'pg_restore -f /dev/null') {
      await drain(opts.stdin);
      return { exitCode: script.read?.exitCode ?? 0, stdout: '', stderr: script.read?.stderr ?? '' };
    }
    throw new Error(`unexpected command ${cmd.join(' ')}`);
  };
  return { exec, calls, fedBytes } as unknown as DockerEngine & { calls: string[][]; fedBytes: number[] };
}

const db: DbTarget = { container: 'pica-db', user: 'mmuser', name: 'mattermost' };
const LIST = ';\n; Archive created at ...\n;\n215; 1259 16390 TABLE public posts mmuser\n3350; 0 16390 TABLE DATA public posts mmuser\n';
const at = new Date('2026-03-04T05:06:07Z');

describe('takeBackup (scripted engine)', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'take-backup-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('writes a 0600 file in a 0700 folder, verifies it through stdin, reports progress, prunes', async () => {
    const dir = join(root, 'ok', 'backups');
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    const engine = fakeEngine({ dump: { exitCode: 0, bytes }, list: { exitCode: 0, stdout: LIST } });
    const progress: number[] = [];
    const r = await takeBackup(engine, db, { dir, version: '1.0.0', keep: 1, now: () => at, onProgress: (n) => progress.push(n) });
    assert.equal(r.path, join(dir, 'mattermost-1.0.0-20260304T050607Z.dump'));
    assert.equal(r.sizeBytes, bytes.length);
    assert.equal(r.entries, 2);
    assert.equal(r.version, '1.0.0');
    assert.equal(r.startedAt, at.toISOString());
    assert.equal((await stat(r.path)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.deepEqual(await readFile(r.path), bytes);
    assert.deepEqual(await readdir(dir), ['mattermost-1.0.0-20260304T050607Z.dump']);
    assert.deepEqual(progress, [1024 * 1024, 2 * 1024 * 1024, 3 * 1024 * 1024, bytes.length], 'every MiB, then the total');
    assert.deepEqual(engine.calls.map((c) => c.join(' ')), ['pg_dump -Fc -U mmuser mattermost', 'pg_restore --list', 'pg_restore -f /dev/null']);
    assert.deepEqual(engine.fedBytes, [bytes.length, bytes.length], 'the whole dump goes through stdin');

    const older = join(dir, 'mattermost-0.9.0-20260101T000000Z.dump');
    await writeFile(older, 'old');
    await utimes(older, new Date('2026-01-01'), new Date('2026-01-01'));
    const next = await takeBackup(engine, db, { dir, version: '1.0.0', keep: 1, now: () => new Date('2026-03-04T06:00:00Z') });
    assert.deepEqual(await readdir(dir), [next.path.slice(dir.length + 1)], 'keep 1: the new dump only');
  });

  it('writes the dump byte for byte, whatever sizes it comes in', async () => {
    const dir = join(root, 'sizes');
    const bytes = Buffer.from(Array.from({ length: 5 * 1024 * 1024 + 333 }, (_, i) => (i * 131 + (i >> 12)) % 251));
    const chunks = [1, 4096, 4103, 8, 1024 * 1024, 3 * 1024 * 1024 - 1, 65536, 17];
    const r = await takeBackup(fakeEngine({ dump: { exitCode: 0, bytes, chunks }, list: { exitCode: 0, stdout: LIST } }), db, { dir, version: '1.0.0', keep: 1, now: () => at });
    assert.equal(r.sizeBytes, bytes.length);
    assert.ok((await readFile(r.path)).equals(bytes), 'the same bytes, in the same order');
  });

  const failures: Array<[string, Script, RegExp]> = [
    ['pg_dump exits non-zero', { dump: { exitCode: 1, bytes: Buffer.from('x'), stderr: 'pg_dump: error: connection to server failed: FATAL:  database "nope" does not exist\n' }, list: { exitCode: 0, stdout: LIST } }, /pg_dump of mattermost failed \(exit code 1\): pg_dump: error: .*database "nope" does not exist/],
    ['pg_dump writes nothing', { dump: { exitCode: 0, bytes: Buffer.alloc(0) }, list: { exitCode: 0, stdout: LIST } }, /produced nothing/],
    ['pg_restore cannot list it', { dump: { exitCode: 0, bytes: Buffer.from('garbage') }, list: { exitCode: 1, stdout: '', stderr: 'pg_restore: error: input file does not appear to be a valid archive\n' } }, /failed verification: .*not appear to be a valid archive/],
    ['the table of contents is empty', { dump: { exitCode: 0, bytes: Buffer.from('x') }, list: { exitCode: 0, stdout: ';\n; nothing\n' } }, /failed verification: .*lists no entry/],
    ['a data block does not read back', { dump: { exitCode: 0, bytes: Buffer.from('x') }, list: { exitCode: 0, stdout: LIST }, read: { exitCode: 1, stderr: 'pg_restore: error: could not read from input file: end of file\n' } }, /failed verification: .*does not read to the end.*end of file/],
  ];
  for (const [what, script, message] of failures) {
    it(`fails when ${what}, leaving no file, with exit code 2 (nothing changed)`, async () => {
      const dir = join(root, what.replace(/\W+/g, '-'));
      await assert.rejects(takeBackup(fakeEngine(script), db, { dir, version: '1.0.0', keep: 3, now: () => at }), (err: unknown) => {
        assert.ok(err instanceof BackupError, String(err));
        assert.match(err.message, message);
        assert.equal(err.exitCode, ExitCode.BadInput);
        return true;
      });
      assert.deepEqual(await readdir(dir), []);
    });
  }
});
