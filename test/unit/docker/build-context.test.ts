/** The build context as Docker sends it: .dockerignore rules (Docker's), the Dockerfile always in. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { packContext } from '../../../src/docker/build-context.js';

async function entries(dir: string, rules: string): Promise<{ names: string[]; bytes: number }> {
  writeFileSync(join(dir, '.dockerignore'), rules);
  const ctx = packContext(dir);
  const extract = tar.extract();
  const names: string[] = [];
  extract.on('entry', (header, stream, next) => {
    if (header.type === 'file') names.push(header.name);
    stream.resume();
    stream.on('end', next);
  });
  await new Promise((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
    ctx.stream.pipe(extract);
  });
  return { names: names.sort(), bytes: ctx.bytes() };
}

describe('build context', () => {
  const dir = mkdtempSync(join(tmpdir(), 'context-'));
  mkdirSync(join(dir, 'sub', 'deep'), { recursive: true });
  mkdirSync(join(dir, 'dir'));
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(join(dir, 'big.bin'), Buffer.alloc(2 * 1024 * 1024));
  writeFileSync(join(dir, 'sub', 'big.bin'), 'y');
  writeFileSync(join(dir, 'sub', 'deep', 'a.txt'), 'a');
  writeFileSync(join(dir, 'dir', 'f'), 'f');
  writeFileSync(join(dir, 'dir', 'keep'), 'k');

  it('leaves out what .dockerignore names, as Docker reads it (a bare name is at the top only)', async () => {
    const r = await entries(dir, 'big.bin\ndir\n');
    assert.deepEqual(r.names, ['.dockerignore', 'Dockerfile', 'sub/big.bin', 'sub/deep/a.txt']);
    assert.ok(r.bytes < 100_000, `${r.bytes} bytes: the 2 MB file was sent`);
  });

  it('**/ patterns reach every level, and an exception brings a file back from an excluded folder', async () => {
    const r = await entries(dir, '**/big.bin\ndir\n!dir/keep\n');
    assert.deepEqual(r.names, ['.dockerignore', 'Dockerfile', 'dir/keep', 'sub/deep/a.txt']);
  });

  it('the Dockerfile and .dockerignore are sent even when excluded', async () => {
    const r = await entries(dir, '*\n');
    assert.deepEqual(r.names, ['.dockerignore', 'Dockerfile']);
  });
});
