/** The version an upstream checkout builds, and patching it with --set-version. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readMmVersion, setMmVersion } from '../../../src/core/build/upstream.js';

const FIXTURE = new URL('../../fixtures/upstream/app/Dockerfile', import.meta.url);

describe('MM_VERSION in app/Dockerfile', () => {
  it('reads the fixture: ENV MM_VERSION=1.2.3', () => {
    assert.deepEqual(readMmVersion(readFileSync(FIXTURE, 'utf8')), { version: '1.2.3', line: 7, form: 'env=' });
  });

  it('reads every form: ENV k=v, ENV k v, several pairs on one line, quotes, an ARG default', () => {
    assert.equal(readMmVersion('FROM x\nENV MM_VERSION 10.11.4\n')?.version, '10.11.4');
    assert.equal(readMmVersion('FROM x\nENV PATH=/bin MM_VERSION="10.11.4" OTHER=1\n')?.version, '10.11.4');
    assert.deepEqual(readMmVersion('ARG MM_VERSION=9.11.2\nFROM x\nENV MM_VERSION=${MM_VERSION}\n'), { version: '9.11.2', line: 1, form: 'arg' });
    assert.equal(readMmVersion('FROM x\nENV OTHER=1\n'), undefined);
  });

  it('--set-version changes that one line only, and gives the diff', () => {
    const text = readFileSync(FIXTURE, 'utf8');
    const r = setMmVersion(text, '1.3.0')!;
    assert.deepEqual(r.diff, ['@@ line 7 @@', '-ENV MM_VERSION=1.2.3', '+ENV MM_VERSION=1.3.0']);
    const before = text.split('\n');
    const after = r.text.split('\n');
    assert.equal(after.length, before.length);
    assert.deepEqual(after.filter((l, i) => l !== before[i]), ['ENV MM_VERSION=1.3.0']);
    assert.equal(setMmVersion('FROM x\nENV PATH=/bin MM_VERSION="10.11.4" OTHER=1\n', '10.11.5')!.text, 'FROM x\nENV PATH=/bin MM_VERSION="10.11.5" OTHER=1\n');
    assert.equal(setMmVersion('FROM x\n', '1.0.0'), undefined);
  });
});
