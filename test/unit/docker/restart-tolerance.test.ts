import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RestartTolerance } from '../../../src/docker/restart-tolerance.js';

const refused = Object.assign(new Error('connect ECONNREFUSED /run/docker.sock'), { code: 'ECONNREFUSED', syscall: 'connect' });
const gone = Object.assign(new Error('connect ENOENT /run/docker.sock'), { code: 'ENOENT', syscall: 'connect' });
const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
const notFound = Object.assign(new Error('no such container'), { statusCode: 404 });

function fakeClock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

describe('RestartTolerance', () => {
  it('an engine never reached fails at once: a wrong DOCKER_HOST is not waited for', async () => {
    const r = new RestartTolerance(fakeClock(), 90_000);
    let calls = 0;
    await assert.rejects(r.run(async () => (calls++, Promise.reject(refused)), true), /ECONNREFUSED/);
    assert.equal(calls, 1);
  });

  it('an engine that answered before is waited for while its socket refuses or is gone, then the call goes through', async () => {
    const clock = fakeClock();
    const r = new RestartTolerance(clock, 90_000);
    await r.run(async () => 'up', false);
    const failures = [refused, gone, gone, refused];
    const value = await r.run(async () => {
      const f = failures.shift();
      if (f) throw f;
      return 'back';
    }, false);
    assert.equal(value, 'back');
    assert.ok(clock.now() > 0 && clock.now() < 5_000, `waited ${clock.now()} ms`);
  });

  it('gives up after the grace period, with the engine\'s own error', async () => {
    const clock = fakeClock();
    const r = new RestartTolerance(clock, 10_000);
    await r.run(async () => 'up', false);
    await assert.rejects(r.run(async () => Promise.reject(gone), false), /ENOENT/);
    assert.ok(clock.now() >= 10_000 && clock.now() < 12_000, `gave up after ${clock.now()} ms`);
  });

  it('a connection cut during the request is sent again only when the call changes nothing; an answer (404) never is', async () => {
    const r = new RestartTolerance(fakeClock(), 90_000);
    await r.run(async () => 'up', false);
    let writes = 0;
    await assert.rejects(r.run(async () => (writes++, Promise.reject(reset)), false), /hang up/);
    assert.equal(writes, 1, 'a create or a stop cut short may have happened: not repeated');
    let reads = 0;
    assert.equal(await r.run(async () => (++reads < 3 ? Promise.reject(reset) : 'read'), true), 'read');
    let answered = 0;
    await assert.rejects(r.run(async () => (answered++, Promise.reject(notFound)), true), /no such container/);
    assert.equal(answered, 1);
  });
});
