import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { backupFileName, pruneBackups } from '../../../src/backup/dump.js';

describe('backupFileName', () => {
  it('is <db>-<version>-<UTC timestamp to the second>.dump', () => {
    assert.equal(backupFileName('mattermost', '9.11.2', new Date('2026-11-25T03:04:05.678Z')), 'mattermost-9.11.2-20261125T030405Z.dump');
  });

  it('keeps the name one path segment whatever the parts hold', () => {
    assert.equal(backupFileName('mm/db', '1.0.0 rc1', new Date(Date.UTC(2026, 0, 2))), 'mm_db-1.0.0_rc1-20260102T000000Z.dump');
  });

  it('sorts by time when the db and version are the same', () => {
    const a = backupFileName('mattermost', '1.0.0', new Date('2026-01-02T09:59:59Z'));
    const b = backupFileName('mattermost', '1.0.0', new Date('2026-01-02T10:00:00Z'));
    assert.ok(a < b);
  });
});

describe('pruneBackups', () => {
  let dir: string;
  const hour = 3600;
  const now = Math.floor(Date.now() / 1000);

  /** Creates `name` with the given age in seconds. */
  const file = async (name: string, ageS: number): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, 'x');
    await utimes(path, now - ageS, now - ageS);
    return path;
  };

  beforeEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = await mkdtemp(join(tmpdir(), 'prune-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the N newest dumps by modification time, not by name', async () => {
    await file('a-oldest-name.dump', 10);
    await file('z.dump', 20);
    const third = await file('m.dump', 30);
    const fourth = await file('b.dump', 40);
    const removed = await pruneBackups(dir, 2);
    assert.deepEqual(removed.sort(), [third, fourth].sort());
    assert.deepEqual((await readdir(dir)).sort(), ['a-oldest-name.dump', 'z.dump']);
  });

  it('never removes a protected path, and does not count it against others', async () => {
    const old = await file('old.dump', 100 * hour);
    await file('new1.dump', 10);
    await file('new2.dump', 20);
    const mid = await file('mid.dump', 50);
    const removed = await pruneBackups(dir, 2, [old]);
    assert.deepEqual(removed, [mid]);
    assert.deepEqual((await readdir(dir)).sort(), ['new1.dump', 'new2.dump', 'old.dump']);
  });

  it('removes stale .partial files and leaves recent ones (a dump in progress)', async () => {
    const stale = await file('x-1.0.0-20260101T000000Z.partial', 2 * hour);
    await file('x-1.0.0-20260102T000000Z.partial', 5 * 60);
    const removed = await pruneBackups(dir, 7);
    assert.deepEqual(removed, [stale]);
    assert.deepEqual(await readdir(dir), ['x-1.0.0-20260102T000000Z.partial']);
  });

  it('leaves other files and folders alone', async () => {
    await file('notes.txt', 100 * hour);
    await file('a.dump', 10);
    await file('b.dump', 20);
    await writeFile(join(dir, 'c.dump.bak'), 'x');
    const removed = await pruneBackups(dir, 1);
    assert.deepEqual(removed, [join(dir, 'b.dump')]);
    assert.deepEqual((await readdir(dir)).sort(), ['a.dump', 'c.dump.bak', 'notes.txt']);
  });

  it('answers nothing for a missing folder', async () => {
    assert.deepEqual(await pruneBackups(join(dir, 'missing'), 1), []);
  });
});
