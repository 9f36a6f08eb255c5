import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, isVersionTag, parseVersion, versionFromHeader } from '../../../src/common/version.js';
import { BadInputError } from '../../../src/common/errors.js';

describe('versions', () => {
  it('accepts exactly X.Y.Z', () => {
    assert.deepEqual(parseVersion('10.11.4'), { major: 10, minor: 11, patch: 4, text: '10.11.4' });
    assert.deepEqual(parseVersion(' 9.11.2 '), { major: 9, minor: 11, patch: 2, text: '9.11.2' });
  });

  it('refuses everything else with what to type', () => {
    for (const bad of ['latest', '4.3', 'v4.3.0', '4.3.0-rc1', '4.3.0.1', '04.3.0', '', '4.3.x']) {
      assert.throws(
        () => parseVersion(bad),
        (err: unknown) => err instanceof BadInputError && err.exitCode === 2 && /expected X\.Y\.Z/.test(err.message) && /10\.11\.4/.test(err.hint ?? ''),
        bad,
      );
    }
    assert.throws(() => parseVersion('v4.3.0'), /did you mean 4\.3\.0\?/);
  });

  it('orders versions numerically', () => {
    assert.equal(compareVersions('10.0.0', '9.11.2'), 1);
    assert.equal(compareVersions('9.11.2', '9.11.10'), -1);
    assert.equal(compareVersions('1.0.0', '1.0.0'), 0);
  });

  it('tells a version tag from a moving one', () => {
    for (const ok of ['10.11.4', '15', '15.4', '15-alpine', '13.2-bookworm', '4.3.0', 'v1.2.3']) assert.ok(isVersionTag(ok), ok);
    for (const bad of ['latest', 'stable', 'edge', '', 'alpine', '1.0 beta', 'main']) assert.ok(!isVersionTag(bad), bad);
  });

  it('reads the version from X-Version-Id', () => {
    assert.equal(versionFromHeader('5.35.4.5.35.4.38edbd4c0859204b0b6db7f5d237d980.false'), '5.35.4');
    assert.equal(versionFromHeader('10.11.4.12345.abc.true'), '10.11.4');
    assert.equal(versionFromHeader('garbage'), undefined);
  });
});
