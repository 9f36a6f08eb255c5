import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { ErrorCode } from '../../../src/common/errors.js';
import { composeFilesFrom, readServiceImage, setServiceTag } from '../../../src/docker/compose/index.js';
import { changedLines, composeError, project, removeDir } from './helpers.js';

describe('compose edge cases', () => {
  const dirs: string[] = [];
  const make = async (files: Record<string, string>) => {
    const made = await project(files);
    dirs.push(made.dir);
    return { ...made, read: (name: string) => readFile(join(made.dir, name), 'utf8') };
  };
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map(removeDir));
  });

  it('edits the anchored scalar when the image comes through an alias and a merge key', async () => {
    const compose = [
      'x-app: &app',
      '  image: &img reg.io/app:1.0 # shared',
      '  restart: always',
      'services:',
      '  web:',
      '    <<: *app',
      '  worker:',
      '    image: *img',
      '',
    ].join('\n');
    const { compose: files, read } = await make({ 'compose.yml': compose });
    const web = await readServiceImage(files, 'web');
    assert.equal(web.line, 2);
    await setServiceTag(files, 'web', '1.1');
    assert.deepEqual(changedLines(compose, await read('compose.yml')), [['  image: &img reg.io/app:1.0 # shared', '  image: &img reg.io/app:1.1 # shared']]);
    assert.equal((await readServiceImage(files, 'worker')).ref.tag, '1.1');
  });

  it('prefers the service\'s own image to a merged one, and the first of several merge sources', async () => {
    const compose = [
      'x-a: &a {image: a:1}',
      'x-b: &b {image: b:1, restart: always}',
      'services:',
      '  own:',
      '    <<: *a',
      "    image: 'own:1'",
      '  listed:',
      '    <<: [*b, *a]',
      '',
    ].join('\n');
    const { compose: files, read } = await make({ 'compose.yml': compose });
    assert.equal((await readServiceImage(files, 'listed')).resolved, 'b:1');
    await setServiceTag(files, 'own', '2');
    assert.deepEqual(changedLines(compose, await read('compose.yml')), [["    image: 'own:1'", "    image: 'own:2'"]]);
  });

  it('takes the image of the last file that sets it', async () => {
    const { compose: files, read } = await make({
      'base.yml': 'services:\n  app:\n    image: app:1\n    container_name: base\n',
      'prod.yml': 'services:\n  app:\n    image: app:2 # prod\n',
      'debug.yml': 'services:\n  app:\n    environment: [DEBUG=1]\n',
    });
    const app = await readServiceImage(files, 'app');
    assert.deepEqual([app.file, app.ref.tag, app.containerName], [files.files[1], '2', 'base']);
    await setServiceTag(files, 'app', '3');
    assert.equal(await read('prod.yml'), 'services:\n  app:\n    image: app:3 # prod\n');
    assert.equal(await read('base.yml'), 'services:\n  app:\n    image: app:1\n    container_name: base\n');
  });

  it('changes a $TAG variable in .env, keeping export, quotes and the comment', async () => {
    const { compose: files, read } = await make({
      'compose.yml': 'services:\n  app:\n    image: reg.io/app:$TAG\n    container_name: ${PROJECT}-app\n',
      '.env': 'PROJECT=chat\nexport TAG="1.0" # current\n',
    });
    const app = await readServiceImage(files, 'app');
    assert.deepEqual(app.tagSource, { kind: 'env', file: files.envFile, variable: 'TAG', line: 2 });
    assert.equal(app.containerName, 'chat-app');
    await setServiceTag(files, 'app', '1.1');
    assert.equal(await read('.env'), 'PROJECT=chat\nexport TAG="1.1" # current\n');
  });

  it('changes ${TAG:-default} in .env when .env defines TAG', async () => {
    const { compose: files, read } = await make({ 'compose.yml': 'services:\n  app:\n    image: app:${TAG:-1.0}\n', '.env': 'TAG=1.2\n' });
    await setServiceTag(files, 'app', '1.3');
    assert.equal(await read('.env'), 'TAG=1.3\n');
    assert.equal(await read('compose.yml'), 'services:\n  app:\n    image: app:${TAG:-1.0}\n');
  });

  it('refuses ${TAG:-default} when .env does not define TAG', async () => {
    const { compose: files } = await make({ 'compose.yml': 'services:\n  app:\n    image: app:${TAG:-1.0}\n' });
    assert.equal((await readServiceImage(files, 'app')).resolved, 'app:1.0');
    await assert.rejects(setServiceTag(files, 'app', '1.3'), composeError(ErrorCode.ComposeInvalid, /comes from TAG, which is not defined in .*\.env.*add TAG=1\.0 to/));
  });

  it('refuses a tag made of literal text and variables', async () => {
    const { compose: files } = await make({ 'compose.yml': 'services:\n  app:\n    image: app:1.${MINOR}\n', '.env': 'MINOR=2\n' });
    await assert.rejects(setServiceTag(files, 'app', '1.3'), composeError(ErrorCode.ComposeInvalid, /compose\.yml:3: .*mixes literal text and variables/));
    for (const image of ['app:1.${UNSET}', 'app:${UNSET}1.0', 'app:${EMPTY:-1}.0']) {
      const { compose: other, read } = await make({ 'compose.yml': `services:\n  app:\n    image: ${image}\n` });
      await assert.rejects(setServiceTag(other, 'app', '1.3'), composeError(ErrorCode.ComposeInvalid, /mixes literal text and variables/));
      assert.equal(await read('compose.yml'), `services:\n  app:\n    image: ${image}\n`);
    }
  });

  it('refuses a tag buried in a variable that holds the whole image', async () => {
    const { compose: files } = await make({ 'compose.yml': 'services:\n  app:\n    image: ${APP_IMAGE}\n', '.env': 'APP_IMAGE=app:1.0\n' });
    await assert.rejects(setServiceTag(files, 'app', '1.3'), composeError(ErrorCode.ComposeInvalid, /part of the value of APP_IMAGE/));
  });

  it('refuses an image written with escapes', async () => {
    const { compose: files } = await make({ 'compose.yml': 'services:\n  app:\n    image: "ap\\x70:1.0"\n' });
    assert.equal((await readServiceImage(files, 'app')).resolved, 'app:1.0');
    await assert.rejects(setServiceTag(files, 'app', '1.3'), composeError(ErrorCode.ComposeInvalid, /escapes/));
  });

  it('adds a tag to an image that has none', async () => {
    const { compose: files, read } = await make({ 'compose.yml': 'services:\n  db:\n    image: "postgres"\n' });
    await setServiceTag(files, 'db', '16-alpine');
    assert.equal(await read('compose.yml'), 'services:\n  db:\n    image: "postgres:16-alpine"\n');
  });

  it('reports YAML syntax errors, missing files and a missing services section with the file name', async () => {
    const { compose: broken } = await make({ 'broken.yml': 'services:\n  app:\n    image: app:1\n   bad: [\n' });
    await assert.rejects(readServiceImage(broken, 'app'), composeError(ErrorCode.ComposeInvalid, /broken\.yml is not valid YAML: .*line/));
    const { compose: empty } = await make({ 'empty.yml': 'volumes:\n  data: {}\n' });
    await assert.rejects(readServiceImage(empty, 'app'), composeError(ErrorCode.ComposeInvalid, /no services: section in .*empty\.yml/));
    const missing = composeFilesFrom('/nonexistent/docker-compose.yml');
    await assert.rejects(readServiceImage(missing, 'app'), composeError(ErrorCode.ComposeInvalid, /\/nonexistent\/docker-compose\.yml does not exist/));
  });

  it('resolves COMPOSE_FILE like docker compose', () => {
    assert.deepEqual(composeFilesFrom('docker-compose.yml:/etc/mm/override.yml', '/srv/mm'), {
      files: ['/srv/mm/docker-compose.yml', '/etc/mm/override.yml'],
      envFile: '/srv/mm/.env',
    });
    assert.throws(() => composeFilesFrom(' : '), composeError(ErrorCode.ComposeInvalid, /COMPOSE_FILE is empty/));
  });
});
