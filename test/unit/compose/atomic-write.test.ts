import assert from 'node:assert/strict';
import { chmod, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeFileAtomic } from '../../../src/docker/compose/atomic-write.js';
import { removeDir, tempDir } from './helpers.js';

describe('writeFileAtomic', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir();
  });
  after(() => removeDir(dir));

  it('replaces the content, keeps the mode and leaves no temp file', async () => {
    const file = join(dir, 'compose.yml');
    await writeFile(file, 'old\n');
    await chmod(file, 0o640);
    await writeFileAtomic(file, 'new\n');
    assert.equal(await readFile(file, 'utf8'), 'new\n');
    assert.equal((await stat(file)).mode & 0o777, 0o640);
    assert.deepEqual(await readdir(dir), ['compose.yml']);
  });

  it('keeps the original in <file>.bak when asked', async () => {
    const file = join(dir, 'with-backup.yml');
    await writeFile(file, 'original\n');
    await writeFileAtomic(file, Buffer.from('changed\n'), { backup: true });
    assert.equal(await readFile(file, 'utf8'), 'changed\n');
    assert.equal(await readFile(`${file}.bak`, 'utf8'), 'original\n');
  });

  it('creates a missing file', async () => {
    const file = join(dir, 'new.yml');
    await writeFileAtomic(file, 'x', { backup: true });
    assert.equal(await readFile(file, 'utf8'), 'x');
  });

  it('writes through a symlink and keeps the link', async () => {
    const target = join(dir, 'target.yml');
    const link = join(dir, 'link.yml');
    await writeFile(target, 'a');
    await symlink(target, link);
    await writeFileAtomic(link, 'b');
    assert.equal(await readlink(link), target);
    assert.equal(await readFile(target, 'utf8'), 'b');
  });
});
