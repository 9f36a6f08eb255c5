import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand } from '../../../src/chat/parse.js';

describe('/upgrade text', () => {
  it('understands the subcommands', () => {
    assert.deepEqual(parseCommand('10.11.4'), { kind: 'upgrade', version: '10.11.4' });
    assert.deepEqual(parseCommand('  10.11.4   now '), { kind: 'upgrade', version: '10.11.4' });
    assert.deepEqual(parseCommand('rollback'), { kind: 'rollback', withDb: false });
    assert.deepEqual(parseCommand('rollback --with-db'), { kind: 'rollback', withDb: true });
    for (const k of ['status', 'backup', 'reindex', 'cancel', 'help']) assert.deepEqual(parseCommand(k), { kind: k });
    assert.deepEqual(parseCommand('STATUS'), { kind: 'status' });
  });

  it('answers help for an empty or unknown text', () => {
    assert.deepEqual(parseCommand(''), { kind: 'help' });
    assert.deepEqual(parseCommand('please'), { kind: 'help' });
  });

  it('refuses what is not an exact version, saying what to type', () => {
    assert.deepEqual(parseCommand('latest'), { kind: 'refuse', reason: 'latest' });
    assert.deepEqual(parseCommand('10.11'), { kind: 'refuse', reason: 'badVersion', input: '10.11', suggestion: '10.11.0' });
    assert.deepEqual(parseCommand('v10.11.4-rc1'), { kind: 'refuse', reason: 'badVersion', input: 'v10.11.4-rc1', suggestion: '10.11.4' });
    assert.deepEqual(parseCommand('10.11.4 at 22:00'), { kind: 'upgrade', version: '10.11.4', at: '22:00' });
    assert.deepEqual(parseCommand('10.11.4 at 2027-01-15  22:00'), { kind: 'upgrade', version: '10.11.4', at: '2027-01-15 22:00' });
    assert.deepEqual(parseCommand('10.11.4 at'), { kind: 'upgrade', version: '10.11.4', at: '' });
    assert.deepEqual(parseCommand('status now'), { kind: 'refuse', reason: 'extra', text: 'status now' });
    assert.deepEqual(parseCommand('rehearse 10.11.4'), { kind: 'rehearse', version: '10.11.4' });
    assert.deepEqual(parseCommand('rehearse'), { kind: 'refuse', reason: 'rehearseVersion' });
    assert.deepEqual(parseCommand('restore x.dump'), { kind: 'refuse', reason: 'notYet', what: '/upgrade restore' });
  });

  it('build X.Y.Z, and what to type when the version is missing or loose', () => {
    assert.deepEqual(parseCommand('build 10.11.4'), { kind: 'build', version: '10.11.4' });
    assert.deepEqual(parseCommand('Build  10.11.4 '), { kind: 'build', version: '10.11.4' });
    assert.deepEqual(parseCommand('build'), { kind: 'refuse', reason: 'buildVersion' });
    assert.deepEqual(parseCommand('build 10.11.4 now'), { kind: 'refuse', reason: 'buildVersion' });
    assert.deepEqual(parseCommand('build latest'), { kind: 'refuse', reason: 'buildVersion', input: 'latest' });
    assert.deepEqual(parseCommand('build v10.11'), { kind: 'refuse', reason: 'buildVersion', input: 'v10.11', suggestion: '10.11.0' });
  });
});
