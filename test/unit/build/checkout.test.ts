/** Reading an upstream checkout: the compose file's builds, the folders without one, refusals. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckout } from '../../../src/core/build/checkout.js';
import { BadInputError } from '../../../src/common/errors.js';

const FIXTURE = new URL('../../fixtures/upstream/', import.meta.url).pathname;

describe('an upstream checkout', () => {
  it('the fixture: app and db from its compose file (edition=team from the args), web not built, MM_VERSION 1.2.3', () => {
    const c = readCheckout(FIXTURE);
    assert.equal(c.app.context, join(FIXTURE, 'app'));
    assert.equal(c.app.dockerfile, 'Dockerfile');
    assert.deepEqual(c.app.args, { edition: 'team' });
    assert.equal(c.db.context, join(FIXTURE, 'db'));
    assert.deepEqual(c.db.args, {});
    assert.deepEqual(c.unused, ['web']);
    assert.equal(c.version?.version, '1.2.3');
  });

  it('a compose build with its own Dockerfile and args as a map; the folders when there is no compose file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'checkout-'));
    try {
      cpSync(FIXTURE, dir, { recursive: true });
      mkdirSync(join(dir, 'images'));
      writeFileSync(join(dir, 'images', 'App.Dockerfile'), 'FROM scratch\nENV MM_VERSION 2.0.0\n');
      writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  app:\n    build:\n      context: images\n      dockerfile: App.Dockerfile\n      args:\n        edition: team\n        PUID: 2000\n  db:\n    build: db\n');
      const c = readCheckout(dir);
      assert.equal(c.app.context, join(dir, 'images'));
      assert.equal(c.app.dockerfile, 'App.Dockerfile');
      assert.deepEqual(c.app.args, { edition: 'team', PUID: '2000' });
      assert.equal(c.version?.version, '2.0.0');
      assert.deepEqual(c.unused, []);
      rmSync(join(dir, 'docker-compose.yml'));
      const bare = readCheckout(dir);
      assert.equal(bare.app.context, join(dir, 'app'));
      assert.equal(bare.version?.version, '1.2.3');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what is not a checkout, saying what was expected', () => {
    const dir = mkdtempSync(join(tmpdir(), 'checkout-'));
    try {
      assert.throws(() => readCheckout(join(dir, 'nope')), (e: unknown) => e instanceof BadInputError && /is not a folder: expected an upstream checkout/.test(e.message));
      assert.throws(() => readCheckout(dir), (e: unknown) => e instanceof BadInputError && /app\/Dockerfile does not exist: expected an upstream checkout of the Docker packaging/.test(e.message));
      writeFileSync(join(dir, 'docker-compose.yml'), 'services: [unclosed');
      assert.throws(() => readCheckout(dir), /is not valid YAML/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
