import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCliReporter, PLAIN_PROGRESS_INTERVAL_MS } from '../../../src/cli/render.js';
import type { EngineEvent } from '../../../src/core/events.js';
import { Capture, backup, job, plan, pull, rollbackEvents, screen, steps, successEvents, type Timed } from './helpers.js';

const MB = 1_000_000;

/** Feeds the events to a reporter whose clock reads each event's time. */
function play(events: Timed[], options: { tty?: boolean; color?: boolean; env?: NodeJS.ProcessEnv; close?: boolean } = {}): Capture {
  const stream = new Capture(options.tty ? { columns: 80 } : undefined);
  let t = 0;
  const reporter = createCliReporter({ stream, now: () => t, env: options.env ?? {}, ...(options.color === undefined ? {} : { color: options.color }) });
  for (const { at, event } of events) {
    t = at;
    reporter.sink(event);
  }
  if (options.close !== false) reporter.close();
  return stream;
}

const at = (ms: number, event: EngineEvent): Timed => ({ at: ms, event });

describe('createCliReporter without a terminal', () => {
  it('prints one plain line per fact of a successful upgrade, counts throttled', () => {
    assert.equal(
      play(successEvents()).text,
      [
        'upgrade 1.0.0 → 1.1.0 (job 20250301T020000Z-upgrade-a1b2c3)',
        '  back up the database mattermost to /var/backups/mattermost',
        '  pull mattermost/mattermost-team-edition:1.1.0',
        '  stop the app, recreate the database and the app on 1.1.0',
        '  check the version and the logs; roll back on trouble',
        '[1/5] Check the target version and the window…',
        '✓ Check the target version and the window (850ms)',
        '[2/5] Back up the database…',
        '  dumping mattermost: 75.0 MB',
        '  dumping mattermost: 182.4 MB',
        '✓ Back up the database (12s): mattermost-1.0.0-20250301T020000Z.dump, 182.4 MB, 312 entries',
        '[3/5] Pull the new images…',
        '  pulling mattermost/mattermost-team-edition:1.1.0: 200.0 MB of 268.0 MB (74%)',
        '  pulled mattermost/mattermost-team-edition:1.1.0',
        '✓ Pull the new images (8s): 1 image pulled',
        '[4/5] Switch to 1.1.0…',
        '  stopping mattermost',
        '✓ Switch to 1.1.0 (42s): 1.1.0 answers ping, no error in the logs',
        '- Announce in town-square: skipped (MM_BOT_TOKEN is not set)',
        '! could not remove the old image mattermost/mattermost-team-edition:0.9.0: in use',
        '',
      ].join('\n'),
    );
  });

  it('shows a failure, then the rollback stage by stage, and nothing for job-finished', () => {
    assert.equal(
      play(rollbackEvents()).text,
      [
        'upgrade 1.0.0 → 1.1.0 (job 20250301T020000Z-upgrade-a1b2c3)',
        '  back up the database mattermost to /var/backups/mattermost',
        '  pull mattermost/mattermost-team-edition:1.1.0',
        '  stop the app, recreate the database and the app on 1.1.0',
        '  check the version and the logs; roll back on trouble',
        '[1/5] Check the target version and the window…',
        '✓ Check the target version and the window (850ms)',
        '- Back up the database: skipped (a backup of 1.0.0 is 2h old)',
        '[3/5] Pull the new images…',
        '✓ Pull the new images (1s)',
        '[4/5] Switch to 1.1.0…',
        '✗ Switch to 1.1.0: mattermost did not report 1.1.0 within 300 s',
        '    {"level":"error","msg":"Failed to run migrations"}',
        'ROLLING BACK: Switch to 1.1.0 failed: mattermost did not report 1.1.0 within 300 s',
        '  ↺ put back docker-compose.yml (1.0.0)',
        '  ✓ put back docker-compose.yml (1.0.0)',
        '  ↺ restart on 1.0.0',
        '  ✓ restart on 1.0.0',
        '',
      ].join('\n'),
    );
  });

  it('leaves the plan out when it was shown before the confirmation', () => {
    const stream = new Capture();
    createCliReporter({ stream, env: {}, showPlan: false }).sink({ type: 'job-started', job, steps, plan });
    assert.equal(stream.text, 'upgrade 1.0.0 → 1.1.0 (job 20250301T020000Z-upgrade-a1b2c3)\n');
  });

  it('marks a failed rollback stage', () => {
    const text = play([at(0, { type: 'rollback-stage', job, stage: 'restore', message: 'restore the dump: pg_restore exited 1', ok: false })]).text;
    assert.equal(text, '  ✗ restore the dump: pg_restore exited 1\n');
  });

  it('prints at most one count per step every 5 s, and every message that is not a count', () => {
    const count = (ms: number, mb: number): Timed => at(ms, { type: 'step-progress', job, step: pull, message: 'pulling app', current: mb * MB, total: 500 * MB, unit: 'bytes' });
    const text = play([
      at(10_000, { type: 'step-started', job, step: pull, index: 2, total: 5 }),
      count(10_100, 1),
      count(14_999, 2),
      count(15_000, 3),
      count(15_001, 4),
      at(15_002, { type: 'step-progress', job, step: pull, message: 'pulled app:1.1.0' }),
      count(19_999, 5),
      count(20_000, 6),
      count(31_000, 7),
    ]).text;
    assert.equal(
      text,
      [
        '[3/5] Pull the new images…',
        '  pulling app: 3.0 MB of 500.0 MB (0%)',
        '  pulled app:1.1.0',
        '  pulling app: 6.0 MB of 500.0 MB (1%)',
        '  pulling app: 7.0 MB of 500.0 MB (1%)',
        '',
      ].join('\n'),
    );
    assert.equal(PLAIN_PROGRESS_INTERVAL_MS, 5_000);
  });

  it('keeps a separate clock per step, and counts items without a unit suffix', () => {
    const text = play([
      at(0, { type: 'step-started', job, step: backup, index: 1, total: 5 }),
      at(6_000, { type: 'step-progress', job, step: backup, message: 'reindexing', current: 3, total: 12, unit: 'items' }),
      at(6_100, { type: 'step-started', job, step: pull, index: 2, total: 5 }),
      at(6_200, { type: 'step-progress', job, step: pull, message: 'pulling', current: 1, total: 2 }),
      at(11_100, { type: 'step-progress', job, step: pull, message: 'pulling', current: 2, total: 2 }),
    ]).text;
    assert.equal(text, ['[2/5] Back up the database…', '  reindexing: 3 of 12 (25%)', '[3/5] Pull the new images…', '  pulling: 2 of 2 (100%)', ''].join('\n'));
  });

  it('times the counts of a step it never saw start from its first count, and skips empty messages', () => {
    const count = (ms: number, n: number): Timed => at(ms, { type: 'step-progress', job, step: pull, message: 'pulling app:1.0.0 again', current: n, total: 10, unit: 'items' });
    const text = play([count(1_000, 1), at(1_001, { type: 'step-progress', job, step: pull, message: '' }), count(5_999, 2), count(6_000, 3)]).text;
    assert.equal(text, '  pulling app:1.0.0 again: 3 of 10 (30%)\n');
  });

  it('writes no escape sequence at all, even when colour is asked for', () => {
    const text = play(successEvents(), { color: true }).text + play(rollbackEvents(), { color: true }).text;
    assert.doesNotMatch(text, /\x1b/);
  });
});

describe('createCliReporter on a terminal', () => {
  const pullEvents = (): Timed[] => [
    at(0, { type: 'job-started', job, steps, plan: [] }),
    at(0, { type: 'step-started', job, step: pull, index: 2, total: 5 }),
    at(100, { type: 'step-progress', job, step: pull, message: 'pulling app:1.1.0', current: 10 * MB, total: 268 * MB, unit: 'bytes' }),
    at(200, { type: 'step-progress', job, step: pull, message: 'pulling app:1.1.0', current: 134 * MB, total: 268 * MB, unit: 'bytes' }),
    at(300, { type: 'step-progress', job, step: pull, message: 'pulled app:1.1.0' }),
    at(400, { type: 'step-progress', job, step: pull, message: 'pulling db:1.1.0', current: 5 * MB, total: 90 * MB, unit: 'bytes' }),
    at(8_200, { type: 'step-done', job, step: pull, durationMs: 8_200, detail: '2 images pulled' }),
  ];

  it('draws a bar in place and leaves only the lines once the step is done', () => {
    const { text } = play(pullEvents(), { tty: true, close: false });
    assert.match(text, /\[█*░+\]\s+3%\s+10\.0 MB\/268\.0 MB {2}pulling app:1\.1\.0/);
    assert.match(text, /\[█*░+\]\s+5%\s+5\.0 MB\/90\.0 MB {2}pulling db:1\.1\.0/);
    assert.deepEqual(screen(text), [
      'upgrade 1.0.0 → 1.1.0 (job 20250301T020000Z-upgrade-a1b2c3)',
      '[3/5] Pull the new images…',
      '  pulled app:1.1.0',
      '✓ Pull the new images (8s): 2 images pulled',
    ]);
  });

  it('redraws the bar as the counts come, without a new line', async () => {
    const stream = new Capture({ columns: 80 });
    const reporter = createCliReporter({ stream, env: {} });
    const progress = (mb: number): void =>
      reporter.sink({ type: 'step-progress', job, step: pull, message: 'pulling app:1.1.0', current: mb * MB, total: 100 * MB, unit: 'bytes' });
    progress(10);
    progress(60);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const drawn = stream.text;
    reporter.close();
    assert.match(drawn, /10\.0 MB\/100\.0 MB[^\n]*60\.0 MB\/100\.0 MB/);
    assert.doesNotMatch(drawn, /\n/);
    assert.deepEqual(screen(stream.text), []);
  });

  it('keeps every line of the bar within the terminal width', () => {
    const long = 'pulling registry.example.com/some/very/long/path/mattermost-team-edition:1.1.0';
    const { text } = play([at(0, { type: 'step-progress', job, step: pull, message: long, current: 1, total: 2, unit: 'bytes' })], { tty: true });
    const frames = [...text.matchAll(/\x1b\[1G([^\x1b]*)/g)].map((m) => m[1]!).filter((f) => f.length > 0);
    assert.ok(frames.length > 0);
    for (const frame of frames) assert.ok(frame.length < 80, `${frame.length} columns: ${frame}`);
    assert.match(frames[0]!, /…$/);
  });

  it('shows a count without a total as an amount and the time spent', () => {
    const { text } = play([
      at(1_000, { type: 'step-started', job, step: backup, index: 1, total: 5 }),
      at(13_000, { type: 'step-progress', job, step: backup, message: 'dumping mattermost', current: 182.4 * MB, unit: 'bytes' }),
    ], { tty: true });
    assert.match(text, / {2}dumping mattermost: 182\.4 MB \(12s\)/);
    assert.deepEqual(screen(text), ['[2/5] Back up the database…']);
  });

  it('close() clears a bar still on screen', () => {
    const { text } = play(pullEvents().slice(0, 4), { tty: true });
    assert.match(text, /█/);
    assert.deepEqual(screen(text), ['upgrade 1.0.0 → 1.1.0 (job 20250301T020000Z-upgrade-a1b2c3)', '[3/5] Pull the new images…']);
  });

  it('colours ✓ green, ✗ red and warnings yellow', () => {
    const text = play(successEvents(), { tty: true }).text + play(rollbackEvents(), { tty: true }).text;
    assert.match(text, /\x1b\[32m✓\x1b\[39m Check the target version/);
    assert.match(text, /\x1b\[31m✗ Switch to 1\.1\.0: /);
    assert.match(text, /\x1b\[33m! could not remove/);
    assert.match(text, /ROLLING BACK: /);
  });

  it('has no colour with color: false or NO_COLOR, and no bar on a dumb terminal', () => {
    assert.doesNotMatch(play(successEvents(), { tty: true, color: false }).text, /\x1b\[3\dm/);
    assert.doesNotMatch(play(successEvents(), { tty: true, env: { NO_COLOR: '1' } }).text, /\x1b\[3\dm/);
    assert.equal(play(successEvents(), { tty: true, env: { TERM: 'dumb' } }).text, play(successEvents()).text);
  });
});
