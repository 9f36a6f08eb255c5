import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DockerError, ErrorCode, ServiceFailedError } from '../../../src/common/errors.js';
import { throughEngineRestarts } from '../../../src/core/upgrade/engine-restarts.js';
import type { EngineDeps } from '../../../src/core/upgrade/deps.js';

function deps(pingUpAfter: number) {
  let t = 0;
  let pings = 0;
  return {
    clock: { now: () => t, sleep: async (ms: number) => void (t += ms) },
    engine: { ping: async () => { if (++pings <= pingUpAfter) throw new DockerError(ErrorCode.DockerUnavailable, 'no engine'); } },
    get t() { return t; },
  } as unknown as EngineDeps & { t: number };
}

describe('throughEngineRestarts', () => {
  it('runs the put-back again once the engine answers, after a 500 of an engine shutting down', async () => {
    const d = deps(3);
    const notes: string[] = [];
    let runs = 0;
    const value = await throughEngineRestarts(d, async () => {
      if (++runs === 1) throw new DockerError(ErrorCode.DockerRequestFailed, 'could not create container db: get db-data: database not open', { statusCode: 500 });
      return 'back';
    }, (m) => notes.push(m));
    assert.equal(value, 'back');
    assert.equal(runs, 2);
    assert.match(notes[0]!, /the Docker engine failed \(could not create container db: get db-data: database not open\); waiting for it/);
  });

  it('does not repeat what the engine refused for a reason (a 409, a service that failed): a person looks', async () => {
    for (const err of [new DockerError(ErrorCode.DockerRequestFailed, 'name in use', { statusCode: 409 }), new ServiceFailedError('Mattermost 1.0.0 exited with code 1', [])]) {
      let runs = 0;
      await assert.rejects(throughEngineRestarts(deps(0), async () => (runs++, Promise.reject(err)), () => undefined), err);
      assert.equal(runs, 1);
    }
  });

  it('gives up after its attempts, with the last error', async () => {
    let runs = 0;
    await assert.rejects(throughEngineRestarts(deps(0), async () => (runs++, Promise.reject(new DockerError(ErrorCode.DockerUnavailable, 'Docker is not reachable'))), () => undefined, 3), /not reachable/);
    assert.equal(runs, 3);
  });
});
