import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BadInputError, ErrorCode } from '../../../src/common/errors.js';
import { composeFilesFrom, readServiceImage, restoreFileChange, setServiceTag, type ComposeFiles } from '../../../src/docker/compose/index.js';
import { changedLines, composeError, copyFixture, removeDir } from './helpers.js';

describe('a team that builds its own images (literal tags)', () => {
  let dir: string;
  let files: ComposeFiles;
  let main: string;
  let original: Buffer;
  beforeEach(async () => {
    dir = await copyFixture('team');
    files = composeFilesFrom('docker-compose.yml:docker-compose.override.yml', dir);
    main = join(dir, 'docker-compose.yml');
    original = await readFile(main);
  });
  afterEach(() => removeDir(dir));

  it('reads the image from the file that sets it, though the override also defines the service', async () => {
    assert.deepEqual(await readServiceImage(files, 'mattermost'), {
      service: 'mattermost',
      file: main,
      line: 18,
      raw: 'registry.example.net:5000/pica-mattermost:4.3.0',
      resolved: 'registry.example.net:5000/pica-mattermost:4.3.0',
      ref: { name: 'registry.example.net:5000/pica-mattermost', tag: '4.3.0' },
      tagSource: { kind: 'literal', file: main, line: 18 },
      containerName: 'pica-mattermost',
    });
  });

  it('changes only the tag of an unquoted image, keeping the inline comment, and keeps a backup', async () => {
    const change = await setServiceTag(files, 'mattermost', '4.4.0');
    const now = await readFile(main);
    assert.deepEqual(changedLines(original, now), [
      ['    image: registry.example.net:5000/pica-mattermost:4.3.0  # app', '    image: registry.example.net:5000/pica-mattermost:4.4.0  # app'],
    ]);
    assert.deepEqual(change, { file: main, before: original, after: now });
    assert.deepEqual(await readFile(`${main}.bak`), original);
    assert.equal((await readServiceImage(files, 'mattermost')).ref.tag, '4.4.0');
  });

  it('keeps the quotes of a quoted image', async () => {
    await setServiceTag(files, 'mattermost-db', '4.4.0');
    assert.deepEqual(changedLines(original, await readFile(main)), [
      ['    image: "registry.example.net:5000/pica-mattermost-db:4.3.0"', '    image: "registry.example.net:5000/pica-mattermost-db:4.4.0"'],
    ]);
  });

  it('undoes a change by writing the previous bytes back', async () => {
    const change = await setServiceTag(files, 'mattermost', '4.4.0');
    await restoreFileChange(change);
    assert.deepEqual(await readFile(main), original);
  });

  it('does not write when the tag is already the one asked', async () => {
    const change = await setServiceTag(files, 'mattermost', '4.3.0');
    assert.deepEqual(change.after, change.before);
    assert.equal(existsSync(`${main}.bak`), false);
  });

  for (const tag of ['latest', 'stable', '', '1.0 beta']) {
    it(`refuses the tag "${tag}" and leaves the file untouched`, async () => {
      await assert.rejects(setServiceTag(files, 'mattermost', tag), (err: unknown) => {
        assert.ok(err instanceof BadInputError);
        assert.match(err.message, /not a version tag: expected an exact version/);
        return true;
      });
      assert.deepEqual(await readFile(main), original);
      assert.equal(existsSync(`${main}.bak`), false);
    });
  }

  it('refuses an image pinned by digest, saying what to change by hand', async () => {
    const image = await readServiceImage(files, 'db-backup');
    assert.equal(image.ref.digest, 'sha256:0b7a5a3cb7f4ccd1ed5b2ed97ccd1e0da6e02d44c0d86e5ea2b5ebc1d3aa0e41');
    assert.match(image.tagProblem ?? '', /pinned by digest/);
    await assert.rejects(setServiceTag(files, 'db-backup', '16'), composeError(ErrorCode.ComposeInvalid, /docker-compose\.yml:48: .*pinned by digest.*remove "@sha256:0b7a/));
    assert.deepEqual(await readFile(main), original);
  });

  it('refuses a service that is built, not pulled', async () => {
    await assert.rejects(readServiceImage(files, 'notifier'), composeError(ErrorCode.ComposeInvalid, /service "notifier" has no image: in .*docker-compose\.yml.*expected an image: line/));
  });

  it('names the services that exist when the service is unknown', async () => {
    await assert.rejects(
      setServiceTag(files, 'app', '4.4.0'),
      composeError(ErrorCode.ComposeInvalid, /service "app" is not in .*: expected one of "mattermost", "mattermost-db", "db-backup", "notifier"/),
    );
  });

  it('restores the original when the edit cannot be confirmed', async () => {
    const stale = new Map<string, Buffer>();
    const staleReader = async (path: string): Promise<Buffer> => {
      if (!stale.has(path)) stale.set(path, await readFile(path));
      return stale.get(path) ?? Buffer.alloc(0);
    };
    await assert.rejects(
      setServiceTag(files, 'mattermost', '4.4.0', { readFile: staleReader }),
      composeError(ErrorCode.ComposeEditFailed, /does not hold what was written; the original .*docker-compose\.yml was written back/),
    );
    assert.deepEqual(await readFile(main), original);
    assert.deepEqual(await readFile(`${main}.bak`), original);
  });
});
