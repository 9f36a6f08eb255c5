/** The scheduler with a fake clock: the warning ahead, the start at the time, a missed one after a restart, cancel. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler } from '../../../src/schedule/scheduler.js';
import { ScheduleStore, type ScheduledUpgrade } from '../../../src/schedule/store.js';

const MIN = 60_000;

/** A clock that moves only when told, and the timer the scheduler set. */
class FakeTime {
  now = Date.parse('2027-01-15T20:00:00Z');
  private timer: { at: number; fn: () => void } | undefined;
  setTimer = (fn: () => void, ms: number) => {
    const t = { at: this.now + ms, fn };
    this.timer = t;
    return () => {
      if (this.timer === t) this.timer = undefined;
    };
  };
  /** Moves the clock, firing the timer when its time comes; resolves once the pass it started is done. */
  async advance(ms: number, scheduler: Scheduler): Promise<void> {
    const until = this.now + ms;
    while (this.timer && this.timer.at <= until) {
      const t = this.timer;
      this.timer = undefined;
      this.now = t.at;
      t.fn();
      await scheduler.tick(); // waits for the pass the timer started (passes run one after another)
    }
    this.now = until;
  }
  get nextTimerIn(): number | undefined {
    return this.timer ? this.timer.at - this.now : undefined;
  }
}

function setup(stateDir = mkdtempSync(join(tmpdir(), 'sched-')), time = new FakeTime()) {
  const store = new ScheduleStore(stateDir);
  const events: string[] = [];
  const scheduler = new Scheduler({
    store,
    now: () => time.now,
    setTimer: time.setTimer,
    announceBeforeMs: 15 * MIN,
    announce: async (s) => void events.push(`announce ${s.target} at ${new Date(time.now).toISOString().slice(11, 16)}`),
    start: async (s) => void events.push(`start ${s.target} at ${new Date(time.now).toISOString().slice(11, 16)}`),
    missed: async (s) => void events.push(`missed ${s.target}`),
    failed: (s, err) => void events.push(`failed ${s?.target ?? 'all'}: ${(err as Error).message}`),
  });
  return { store, scheduler, events, time, stateDir };
}

const schedule = (target: string, at: number): ScheduledUpgrade => ({
  id: `s-${target}`,
  target,
  at: new Date(at).toISOString(),
  requestedBy: 'pica-admin',
  confirmedBy: 'pica-admin',
  createdAt: new Date(at - 60 * MIN).toISOString(),
});

describe('Scheduler', () => {
  it('warns ANNOUNCE_BEFORE ahead, starts at the time, once', async () => {
    const { store, scheduler, events, time } = setup();
    await store.add(schedule('1.1.0', time.now + 60 * MIN)); // 21:00
    await scheduler.start();
    assert.deepEqual(events, []);
    assert.equal(time.nextTimerIn, MIN, 'looks again within a minute (a schedule added by another process is seen)');
    await time.advance(45 * MIN, scheduler);
    assert.deepEqual(events, ['announce 1.1.0 at 20:45']);
    assert.ok((await store.list())[0]!.announcedAt, 'the warning is remembered');
    await time.advance(15 * MIN, scheduler);
    assert.deepEqual(events, ['announce 1.1.0 at 20:45', 'start 1.1.0 at 21:00']);
    assert.deepEqual(await store.list(), [], 'gone from the store once started');
    await time.advance(120 * MIN, scheduler);
    assert.equal(events.length, 2, 'nothing more');
  });

  it('a schedule closer than ANNOUNCE_BEFORE is announced at once', async () => {
    const { store, scheduler, events, time } = setup();
    await scheduler.start();
    await store.add(schedule('1.1.0', time.now + 2 * MIN));
    await scheduler.poke();
    assert.deepEqual(events, ['announce 1.1.0 at 20:00']);
    await time.advance(2 * MIN, scheduler);
    assert.deepEqual(events, ['announce 1.1.0 at 20:00', 'start 1.1.0 at 20:02']);
  });

  it('across a restart: a future schedule still runs, and is not announced twice', async () => {
    const first = setup();
    await first.store.add(schedule('1.1.0', first.time.now + 10 * MIN));
    await first.scheduler.start();
    assert.deepEqual(first.events, ['announce 1.1.0 at 20:00']);
    first.scheduler.stop();
    // The bot restarts two minutes later, with the same STATE_DIR.
    first.time.now += 2 * MIN;
    const second = setup(first.stateDir, first.time);
    await second.scheduler.start();
    assert.deepEqual(second.events, []);
    await second.time.advance(8 * MIN, second.scheduler);
    assert.deepEqual(second.events, ['start 1.1.0 at 20:10']);
  });

  it('a time that passed while the bot was down is reported, never run', async () => {
    const { store, scheduler, events, time, stateDir } = setup();
    await store.add(schedule('1.1.0', time.now - 5 * MIN));
    await scheduler.start();
    assert.deepEqual(events, ['missed 1.1.0']);
    assert.deepEqual(JSON.parse(readFileSync(join(stateDir, 'schedules.json'), 'utf8')), []);
  });

  it('a cancelled schedule neither warns nor runs', async () => {
    const { store, scheduler, events, time } = setup();
    await store.add(schedule('1.1.0', time.now + 30 * MIN));
    await scheduler.start();
    assert.equal((await store.remove('s-1.1.0'))?.target, '1.1.0');
    assert.equal(await store.remove('s-1.1.0'), undefined, 'cancelling twice finds nothing');
    await time.advance(60 * MIN, scheduler);
    assert.deepEqual(events, []);
  });

  it('one failing schedule does not stop the others', async () => {
    const { store, events, time } = setup();
    const broken = new Scheduler({
      store,
      now: () => time.now,
      setTimer: time.setTimer,
      announceBeforeMs: 15 * MIN,
      announce: async () => undefined,
      start: async (s) => {
        if (s.target === '1.1.0') throw new Error('registry unreachable');
        events.push(`start ${s.target}`);
      },
      missed: async () => undefined,
      failed: (s, err) => void events.push(`failed ${s?.target ?? 'all'}: ${(err as Error).message}`),
    });
    await store.add(schedule('1.1.0', time.now + MIN));
    await store.add({ ...schedule('1.2.0', time.now + MIN), id: 's-b' });
    await broken.start();
    await time.advance(MIN, broken);
    assert.deepEqual(events, ['failed 1.1.0: registry unreachable', 'start 1.2.0']);
  });

  it('a schedules file that cannot be read is logged, and the timer goes on (never a crash)', async () => {
    const { scheduler, events, time, stateDir } = setup();
    writeFileSync(join(stateDir, 'schedules.json'), '{ torn');
    await scheduler.start();
    assert.match(events[0] ?? '', /^failed all: .*schedules\.json cannot be read/);
    assert.equal(time.nextTimerIn, MIN, 'looks again later');
  });
});
