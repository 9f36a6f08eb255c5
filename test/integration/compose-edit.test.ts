/**
 * Tag pinning checked with the real tools: `diff` shows one changed line per image, and the
 * real docker-compose reads the edited files with the new tags.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { composeFilesFrom, setServiceTag } from '../../src/docker/compose/index.js';
import { run } from '../bed/proc.js';
import { copyFixture } from '../unit/compose/helpers.js';

const diff = async (a: string, b: string): Promise<string[]> => {
  const r = await run('diff', [a, b], { allowFailure: true });
  assert.equal(r.code, 1, 'diff finds a difference');
  return r.stdout.split('\n').filter((l) => l.startsWith('< ') || l.startsWith('> '));
};

const composeConfig = async (dir: string, files: string[]): Promise<string> =>
  (await run('docker-compose', [...files.flatMap((f) => ['-f', f]), 'config'], { cwd: dir, env: { ...process.env, DB_PASSWORD: 'x' } })).stdout;

describe('compose edits, checked with diff and docker-compose', () => {
  it('team layout: one line per image, and docker-compose sees the new tags', async () => {
    const dir = await copyFixture('team');
    const file = join(dir, 'docker-compose.yml');
    copyFileSync(file, `${file}.orig`);
    const files = composeFilesFrom(file);
    await setServiceTag(files, 'mattermost', '4.4.0');
    await setServiceTag(files, 'mattermost-db', '4.4.0');
    assert.deepEqual(await diff(`${file}.orig`, file), [
      '<     image: registry.example.net:5000/pica-mattermost:4.3.0  # app',
      '>     image: registry.example.net:5000/pica-mattermost:4.4.0  # app',
      '<     image: "registry.example.net:5000/pica-mattermost-db:4.3.0"',
      '>     image: "registry.example.net:5000/pica-mattermost-db:4.4.0"',
    ]);
    mkdirSync(join(dir, 'notifier'));
    const config = await composeConfig(dir, [file]);
    assert.match(config, /image: registry\.example\.net:5000\/pica-mattermost:4\.4\.0/);
    assert.match(config, /image: registry\.example\.net:5000\/pica-mattermost-db:4\.4\.0/);
  });

  it("Mattermost's layout: one .env line, and docker-compose sees the new tag", async () => {
    const dir = await copyFixture('mattermost-docker');
    const env = join(dir, '.env');
    copyFileSync(env, `${env}.orig`);
    const names = ['docker-compose.yml', 'docker-compose.postgres.yml'];
    const files = composeFilesFrom(names.map((n) => join(dir, n)).join(':'));
    await setServiceTag(files, 'mattermost', '10.11.4');
    assert.deepEqual(await diff(`${env}.orig`, env), ['< MATTERMOST_IMAGE_TAG=9.11.6', '> MATTERMOST_IMAGE_TAG=10.11.4']);
    const config = await composeConfig(dir, names);
    assert.match(config, /image: mattermost\/mattermost-enterprise-edition:10\.11\.4/);
    assert.match(config, /image: postgres:13-alpine/, 'the postgres image is untouched');
  });
});
