import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ComposeError } from '../../../src/common/errors.js';
import { interpolate, interpolateSegments } from '../../../src/docker/compose/interpolate.js';

const vars = { TAG: '10.11.4', EMPTY: '', IMAGE: 'mattermost-team-edition' };

describe('interpolate', () => {
  const cases: Array<[string, string]> = [
    ['mattermost/${IMAGE}:${TAG}', 'mattermost/mattermost-team-edition:10.11.4'],
    ['app:$TAG', 'app:10.11.4'],
    ['$TAG-x', '10.11.4-x'],
    ['${MISSING}', ''],
    ['${MISSING:-1.0}', '1.0'],
    ['${EMPTY:-1.0}', '1.0'],
    ['${EMPTY-1.0}', ''],
    ['${MISSING-1.0}', '1.0'],
    ['${TAG:-1.0}', '10.11.4'],
    ['${TAG:+set}', 'set'],
    ['${EMPTY:+set}', ''],
    ['${EMPTY+set}', 'set'],
    ['${MISSING+set}', ''],
    ['${TAG:?needed}', '10.11.4'],
    ['${EMPTY?needed}', ''],
    ['${MISSING:-${TAG}}', '10.11.4'],
    ['$$TAG and $${TAG}', '$TAG and ${TAG}'],
    ['price: 5$ or $1', 'price: 5$ or $1'],
    ['${constructor}', ''],
  ];
  for (const [text, expected] of cases) {
    it(`${text} → "${expected}"`, () => assert.equal(interpolate(text, vars), expected));
  }

  it('stops on a required variable that is missing or empty, with its message', () => {
    assert.throws(() => interpolate('${MISSING:?set MISSING in .env}', vars), (err: unknown) => {
      assert.ok(err instanceof ComposeError);
      assert.match(err.message, /MISSING.*set MISSING in \.env/);
      return true;
    });
    assert.throws(() => interpolate('${EMPTY:?}', vars), ComposeError);
    assert.throws(() => interpolate('${MISSING?}', vars), ComposeError);
  });

  it('refuses malformed substitutions', () => {
    assert.throws(() => interpolate('${TAG', vars), ComposeError);
    assert.throws(() => interpolate('${1TAG}', vars), ComposeError);
    assert.throws(() => interpolate('${TAG:x}', vars), ComposeError);
  });

  it('tells where each piece comes from', () => {
    assert.deepEqual(interpolateSegments('a/${IMAGE}:${MISSING:-1}', vars), [
      { start: 0, end: 2, text: 'a/' },
      { start: 2, end: 10, text: 'mattermost-team-edition', variable: 'IMAGE', fromValue: true },
      { start: 10, end: 11, text: ':' },
      { start: 11, end: 24, text: '1', variable: 'MISSING', fromValue: false },
    ]);
  });
});
