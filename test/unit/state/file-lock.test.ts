import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryLockFile, unlockFile } from '../../../src/state/file-lock.js';

describe('file lock', () => {
  const fresh = (): string => join(mkdtempSync(join(tmpdir(), 'flock-')), 'deliver.lock');

  it('is taken once, released by its holder only', async () => {
    const path = fresh();
    assert.equal(await tryLockFile(path), true);
    assert.equal(await tryLockFile(path), false, 'held by this very process');
    await unlockFile(path);
    assert.equal(existsSync(path), false);
    writeFileSync(path, JSON.stringify({ pid: process.ppid, hostname: hostname() }));
    await unlockFile(path);
    assert.equal(existsSync(path), true, 'not ours: left alone');
  });

  it('takes over the lock of a process that died', async () => {
    const path = fresh();
    writeFileSync(path, JSON.stringify({ pid: 999_999_999, hostname: hostname() }));
    assert.equal(await tryLockFile(path), true);
  });

  it('counts an unreadable lock as held while it is recent, as stale once it is old', async () => {
    const path = fresh();
    writeFileSync(path, '');
    assert.equal(await tryLockFile(path), false);
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(path, old, old);
    assert.equal(await tryLockFile(path), true);
  });
});
