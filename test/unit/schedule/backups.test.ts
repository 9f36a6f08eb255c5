/** BACKUP_CRON and the stale-dump warning, with a fake clock and a fake cron. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupSchedule } from '../../../src/schedule/backups.js';

const H = 3_600_000;

function setup(opts: { cron?: string; newest?: number; lockedBy?: string } = {}) {
  const state = { now: Date.parse('2027-01-15T03:00:00Z'), newest: opts.newest, lockedBy: opts.lockedBy };
  const events: string[] = [];
  const crons: Array<{ expression: string; timeZone: string; fn: () => void }> = [];
  const schedule = new BackupSchedule({
    cron: opts.cron,
    timeZone: 'Europe/Paris',
    maxAgeMs: 24 * H,
    now: () => state.now,
    runBackup: async () => {
      if (state.lockedBy) return { skipped: state.lockedBy };
      state.newest = state.now;
      events.push('backup');
      return {};
    },
    newestBackupAt: async () => state.newest,
    stateFile: join(mkdtempSync(join(tmpdir(), 'bk-')), 'backup-age-warning.json'),
    warnStale: async (newest) => void events.push(`stale ${newest === undefined ? 'none' : new Date(newest).toISOString()}`),
    noteSkipped: async (holder) => void events.push(`skipped: ${holder}`),
    schedule: (expression, fn, timeZone) => {
      crons.push({ expression, fn, timeZone });
      return { stop: () => undefined };
    },
    checkEveryMs: 3_600_000_000,
    log: (m) => void events.push(`log ${m}`),
  });
  return { schedule, events, state, crons };
}

describe('BackupSchedule', () => {
  it('registers BACKUP_CRON in TZ, and a tick takes a dump through the backup job', async () => {
    const { schedule, events, crons } = setup({ cron: '30 3 * * *', newest: Date.parse('2027-01-14T03:00:00Z') });
    schedule.start();
    assert.deepEqual(crons.map((c) => [c.expression, c.timeZone]), [['30 3 * * *', 'Europe/Paris']]);
    await schedule.tick();
    assert.deepEqual(events, ['backup']);
    schedule.stop();
  });

  it('without BACKUP_CRON nothing is scheduled', () => {
    const { schedule, crons } = setup();
    schedule.start();
    assert.deepEqual(crons, []);
    schedule.stop();
  });

  it('a tick while another job runs is skipped, and says so', async () => {
    const { schedule, events } = setup({ cron: '0 3 * * *', newest: Date.parse('2027-01-15T01:00:00Z'), lockedBy: 'an upgrade runs (by @alice)' });
    await schedule.tick();
    assert.deepEqual(events, ['skipped: an upgrade runs (by @alice)']);
  });

  it('a stale dump is warned about once per stale period, not once per look; a fresh one resets it', async () => {
    const { schedule, events, state } = setup({ newest: Date.parse('2027-01-13T03:00:00Z') });
    assert.equal(await schedule.checkStale(), true);
    assert.equal(await schedule.checkStale(), false);
    state.now += 5 * H;
    assert.equal(await schedule.checkStale(), false, 'the same newest dump: already said');
    assert.deepEqual(events, ['stale 2027-01-13T03:00:00.000Z']);
    state.newest = state.now; // someone took a dump
    assert.equal(await schedule.checkStale(), false);
    state.now += 25 * H; // and it grows old in turn
    assert.equal(await schedule.checkStale(), true);
    assert.equal(events.length, 2);
  });

  it('no dump at all is said once too', async () => {
    const { schedule, events } = setup();
    await schedule.checkStale();
    await schedule.checkStale();
    assert.deepEqual(events, ['stale none']);
  });
});
