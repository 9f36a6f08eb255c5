import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadInputError } from '../../../src/common/errors.js';
import { formatImageRef, parseImageRef } from '../../../src/docker/compose/image-ref.js';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('parseImageRef', () => {
  const cases: Array<[string, ReturnType<typeof parseImageRef>]> = [
    ['postgres', { name: 'postgres' }],
    ['postgres:15-alpine', { name: 'postgres', tag: '15-alpine' }],
    ['localhost:5000/a/b:1.2.3', { name: 'localhost:5000/a/b', tag: '1.2.3' }],
    ['localhost:5000/a/b', { name: 'localhost:5000/a/b' }],
    ['registry.example.net:5000/pica-mattermost:4.3.0', { name: 'registry.example.net:5000/pica-mattermost', tag: '4.3.0' }],
    ['mattermost/mattermost-team-edition:10.11.4', { name: 'mattermost/mattermost-team-edition', tag: '10.11.4' }],
    [`x@${DIGEST}`, { name: 'x', digest: DIGEST }],
    [`x:1@${DIGEST}`, { name: 'x', tag: '1', digest: DIGEST }],
  ];
  for (const [text, expected] of cases) {
    it(`reads ${text} and writes it back the same`, () => {
      assert.deepEqual(parseImageRef(text), expected);
      assert.equal(formatImageRef(parseImageRef(text)), text);
    });
  }

  for (const bad of ['', 'x:', ':1', 'Postgres:15', 'reg.io/Upper:1', 'a b:1', 'x@sha256:abc', 'x:1.0 beta']) {
    it(`refuses "${bad}"`, () => assert.throws(() => parseImageRef(bad), BadInputError));
  }
});
