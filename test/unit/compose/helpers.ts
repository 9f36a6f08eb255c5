import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ComposeError, type ErrorCode } from '../../../src/common/errors.js';
import { composeFilesFrom, type ComposeFiles } from '../../../src/docker/compose/index.js';

export const fixtures = fileURLToPath(new URL('../../fixtures/compose/', import.meta.url));

/** A fresh copy of a fixture folder; `env.example` becomes `.env` as an admin would copy it. */
export async function copyFixture(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `compose-${name}-`));
  await cp(join(fixtures, name), dir, { recursive: true });
  if (existsSync(join(dir, 'env.example'))) await cp(join(dir, 'env.example'), join(dir, '.env'));
  return dir;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'compose-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** The [before, after] pairs of lines that differ; the line count must not change. Line ends (`\r`) are part of the lines. */
export function changedLines(before: string | Buffer, after: string | Buffer): Array<[string, string]> {
  const a = before.toString().split('\n');
  const b = after.toString().split('\n');
  assert.equal(b.length, a.length, 'the number of lines changed');
  return a.flatMap((line, i): Array<[string, string]> => (line === b[i] ? [] : [[line, b[i] ?? '']]));
}

/** A compose project from inline files, in a fresh folder; the compose files are the keys not named `.env`, in order. */
export async function project(files: Record<string, string>): Promise<{ dir: string; compose: ComposeFiles }> {
  const dir = await tempDir();
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const names = Object.keys(files).filter((name) => name !== '.env');
  return { dir, compose: composeFilesFrom(names.join(':'), dir) };
}

/** An assert.rejects/throws validator: a ComposeError with this code whose message matches. */
export function composeError(code: ErrorCode, message: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ComposeError, `expected a ComposeError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  };
}
