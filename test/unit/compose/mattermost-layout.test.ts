import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ErrorCode } from '../../../src/common/errors.js';
import { composeFilesFrom, readServiceImage, setServiceTag, type ComposeFiles } from '../../../src/docker/compose/index.js';
import { changedLines, composeError, copyFixture, removeDir } from './helpers.js';

// github.com/mattermost/docker: tags in `.env`, the database in a second compose file.
describe("Mattermost's own docker deployment (tags in .env)", () => {
  let dir: string;
  let files: ComposeFiles;
  let envFile: string;
  let originals: Map<string, Buffer>;
  const read = (name: string) => readFile(join(dir, name));
  beforeEach(async () => {
    dir = await copyFixture('mattermost-docker');
    files = composeFilesFrom('docker-compose.yml:docker-compose.postgres.yml', dir);
    envFile = join(dir, '.env');
    originals = new Map();
    for (const name of ['docker-compose.yml', 'docker-compose.postgres.yml', '.env']) originals.set(name, await read(name));
  });
  afterEach(() => removeDir(dir));

  it('reads the app image through the .env variables', async () => {
    assert.deepEqual(files, { files: [join(dir, 'docker-compose.yml'), join(dir, 'docker-compose.postgres.yml')], envFile });
    assert.deepEqual(await readServiceImage(files, 'mattermost'), {
      service: 'mattermost',
      file: join(dir, 'docker-compose.yml'),
      line: 7,
      raw: 'mattermost/${MATTERMOST_IMAGE}:${MATTERMOST_IMAGE_TAG}',
      resolved: 'mattermost/mattermost-enterprise-edition:9.11.6',
      ref: { name: 'mattermost/mattermost-enterprise-edition', tag: '9.11.6' },
      tagSource: { kind: 'env', file: envFile, variable: 'MATTERMOST_IMAGE_TAG', line: 68 },
    });
  });

  it('reads the database image from the second file', async () => {
    const db = await readServiceImage(files, 'postgres');
    assert.equal(db.file, join(dir, 'docker-compose.postgres.yml'));
    assert.equal(db.resolved, 'postgres:13-alpine');
    assert.deepEqual(db.tagSource, { kind: 'env', file: envFile, variable: 'POSTGRES_IMAGE_TAG', line: 17 });
    assert.equal(db.containerName, undefined);
  });

  it('changes the app tag in one line of .env and leaves the compose files alone', async () => {
    const change = await setServiceTag(files, 'mattermost', '10.11.4');
    assert.equal(change.file, envFile);
    assert.deepEqual(changedLines(originals.get('.env') ?? '', await read('.env')), [['MATTERMOST_IMAGE_TAG=9.11.6', 'MATTERMOST_IMAGE_TAG=10.11.4']]);
    assert.deepEqual(await read('.env.bak'), originals.get('.env'));
    assert.deepEqual(await read('docker-compose.yml'), originals.get('docker-compose.yml'));
    assert.deepEqual(await read('docker-compose.postgres.yml'), originals.get('docker-compose.postgres.yml'));
    assert.equal((await readServiceImage(files, 'mattermost')).resolved, 'mattermost/mattermost-enterprise-edition:10.11.4');
  });

  it('changes the database tag in .env, the last line (no final newline) included', async () => {
    await setServiceTag(files, 'postgres', '15-alpine');
    assert.deepEqual(changedLines(originals.get('.env') ?? '', await read('.env')), [['POSTGRES_IMAGE_TAG=13-alpine', 'POSTGRES_IMAGE_TAG=15-alpine']]);
    assert.ok(!(await read('.env')).toString().endsWith('\n'));
  });

  it('keeps a CRLF .env in CRLF', async () => {
    const crlf = (originals.get('.env') ?? '').toString().replaceAll('\n', '\r\n');
    await writeFile(envFile, crlf);
    await setServiceTag(files, 'mattermost', '10.11.4');
    const after = (await read('.env')).toString();
    assert.deepEqual(changedLines(crlf, after), [['MATTERMOST_IMAGE_TAG=9.11.6\r', 'MATTERMOST_IMAGE_TAG=10.11.4\r']]);
    assert.equal(after.split('\r\n').length, crlf.split('\r\n').length);
    assert.equal(after.replaceAll('\r\n', '').includes('\n'), false);
  });

  it('refuses a tag variable missing from .env, saying what to add', async () => {
    const withoutTag = (originals.get('.env') ?? '').toString().replace('MATTERMOST_IMAGE_TAG=9.11.6\n', '');
    await writeFile(envFile, withoutTag);
    await assert.rejects(
      setServiceTag(files, 'mattermost', '10.11.4'),
      composeError(ErrorCode.ComposeInvalid, /resolves to "mattermost\/mattermost-enterprise-edition:".*not defined in .*\.env: MATTERMOST_IMAGE_TAG/),
    );
    assert.equal((await read('.env')).toString(), withoutTag);
  });
});
