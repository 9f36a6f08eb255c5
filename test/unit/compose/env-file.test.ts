import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ComposeError } from '../../../src/common/errors.js';
import { parseEnvFile, setEnvValue } from '../../../src/docker/compose/env-file.js';

const ENV = [
  '# Mattermost',
  '',
  'MATTERMOST_IMAGE=mattermost-team-edition',
  'export MATTERMOST_IMAGE_TAG=10.11.4   # bumped by the bot',
  "SINGLE='a # not a comment'",
  'DOUBLE="line\\none" # comment',
  'SPACED = value',
  'HASH=abc#def',
  'EMPTY=',
  'MULTI="first',
  'second"',
  'MATTERMOST_IMAGE=mattermost-enterprise-edition',
  '',
].join('\n');

describe('parseEnvFile', () => {
  const env = parseEnvFile(ENV);

  it('reads values the way docker compose does', () => {
    assert.deepEqual(Object.fromEntries([...env].map(([k, v]) => [k, v.value])), {
      MATTERMOST_IMAGE: 'mattermost-enterprise-edition',
      MATTERMOST_IMAGE_TAG: '10.11.4',
      SINGLE: 'a # not a comment',
      DOUBLE: 'line\none',
      SPACED: 'value',
      HASH: 'abc#def',
      EMPTY: '',
      MULTI: 'first\nsecond',
    });
  });

  it('gives the 1-based line of the definition in effect', () => {
    assert.equal(env.get('MATTERMOST_IMAGE_TAG')?.line, 4);
    assert.equal(env.get('MULTI')?.line, 10);
    assert.equal(env.get('MATTERMOST_IMAGE')?.line, 12);
  });

  it('stops on an unterminated quote, naming the line', () => {
    assert.throws(() => parseEnvFile('A=1\nB="2\n'), (err: unknown) => err instanceof ComposeError && /line 2: B has an unterminated " quote/.test(err.message));
  });

  it('reads CRLF files', () => {
    const crlf = parseEnvFile('A=1\r\nB="2"\r\nC=3 # x\r\n');
    assert.deepEqual([...crlf].map(([k, v]) => [k, v.value, v.line]), [['A', '1', 1], ['B', '2', 2], ['C', '3', 3]]);
  });
});

describe('setEnvValue', () => {
  it('changes only the value text, keeping export, spacing and the inline comment', () => {
    const out = setEnvValue(ENV, 'MATTERMOST_IMAGE_TAG', '10.12.0');
    assert.equal(out, ENV.replace('export MATTERMOST_IMAGE_TAG=10.11.4   #', 'export MATTERMOST_IMAGE_TAG=10.12.0   #'));
  });

  it('keeps the quotes', () => {
    assert.equal(setEnvValue('T="1.0" # q\n', 'T', '2.0'), 'T="2.0" # q\n');
    assert.equal(setEnvValue("T='1.0'\n", 'T', '2.0'), "T='2.0'\n");
  });

  it('keeps CRLF line ends', () => {
    assert.equal(setEnvValue('A=1\r\nT=1.0\r\nB=2\r\n', 'T', '2.0'), 'A=1\r\nT=2.0\r\nB=2\r\n');
  });

  it('changes the definition in effect, the last one', () => {
    assert.equal(setEnvValue('T=1\nT=2\n', 'T', '3'), 'T=1\nT=3\n');
  });

  it('fills an empty value', () => {
    assert.equal(setEnvValue('EMPTY=\n', 'EMPTY', '1.0'), 'EMPTY=1.0\n');
  });

  it('refuses a variable that is not defined, naming it', () => {
    assert.throws(() => setEnvValue(ENV, 'NOPE', '1.0'), (err: unknown) => err instanceof ComposeError && /NOPE/.test(err.message));
  });

  it('refuses a value that would need quoting or escaping', () => {
    assert.throws(() => setEnvValue('T=1\n', 'T', '1 # 2'), ComposeError);
    assert.throws(() => setEnvValue('T="1"\n', 'T', 'a"b'), ComposeError);
    assert.throws(() => setEnvValue(ENV, 'MULTI', '1.0'), ComposeError);
  });
});
