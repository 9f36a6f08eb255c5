/** Events and results of a made-up upgrade, for the CLI renderer tests. */
import { Writable } from 'node:stream';
import type { EngineEvent, JobInfo, JobResult, PlannedStep } from '../../../src/core/events.js';

export const job: JobInfo = {
  id: '20250301T020000Z-upgrade-a1b2c3',
  kind: 'upgrade',
  owner: 'cli:root',
  startedAt: '2025-03-01T02:00:00.000Z',
  title: 'upgrade 1.0.0 → 1.1.0',
};

export const steps: PlannedStep[] = [
  { id: 'validate', title: 'Check the target version and the window' },
  { id: 'backup', title: 'Back up the database' },
  { id: 'pull', title: 'Pull the new images' },
  { id: 'switch', title: 'Switch to 1.1.0' },
  { id: 'announce', title: 'Announce in town-square' },
];
export const [validate, backup, pull, switchStep, announce] = steps as [PlannedStep, PlannedStep, PlannedStep, PlannedStep, PlannedStep];

export const plan = [
  'back up the database mattermost to /var/backups/mattermost',
  'pull mattermost/mattermost-team-edition:1.1.0',
  'stop the app, recreate the database and the app on 1.1.0',
  'check the version and the logs; roll back on trouble',
];

const MB = 1_000_000;

/** A clock the test moves: events are fed as `[atMs, event]`. */
export interface Timed {
  at: number;
  event: EngineEvent;
}

export function succeededResult(): JobResult {
  return {
    job,
    outcome: 'succeeded',
    summary: '1.1.0 is serving, 42s of downtime',
    details: {
      from: '1.0.0',
      to: '1.1.0',
      backup: { path: '/var/backups/mattermost/mattermost-1.0.0-20250301T020000Z.dump', sizeBytes: 182_400_000 },
      downtimeMs: 42_000,
      changelog: 'https://docs.mattermost.com/product-overview/mattermost-v1-changelog.html',
      logLines: [],
    },
    warnings: [],
    manualSteps: [],
    finishedAt: '2025-03-01T02:03:10.000Z',
    durationMs: 190_000,
  };
}

export function rolledBackResult(): JobResult {
  return {
    job,
    outcome: 'rolled-back',
    summary: 'failed at Switch to 1.1.0 and rolled back',
    reason: 'Switch to 1.1.0 failed: mattermost did not report 1.1.0 within 300 s',
    hint: 'Read the log lines below; `mm-upgrade status` shows what is running.',
    details: {
      from: '1.0.0',
      to: '1.1.0',
      backup: '/var/backups/mattermost/mattermost-1.0.0-20250301T020000Z.dump',
      logLines: ['{"level":"error","msg":"Failed to run migrations","error":"pq: permission denied"}'],
      attempts: 2,
    },
    warnings: ['could not remove the old image mattermost/mattermost-team-edition:0.9.0: in use'],
    manualSteps: [],
    finishedAt: '2025-03-01T02:08:00.000Z',
    durationMs: 480_000,
  };
}

export function successEvents(): Timed[] {
  return [
    { at: 0, event: { type: 'job-started', job, steps, plan } },
    { at: 0, event: { type: 'step-started', job, step: validate, index: 0, total: 5 } },
    { at: 850, event: { type: 'step-done', job, step: validate, durationMs: 850 } },
    { at: 900, event: { type: 'step-started', job, step: backup, index: 1, total: 5 } },
    { at: 1_000, event: { type: 'step-progress', job, step: backup, message: 'dumping mattermost', current: 1 * MB, unit: 'bytes' } },
    { at: 4_000, event: { type: 'step-progress', job, step: backup, message: 'dumping mattermost', current: 40 * MB, unit: 'bytes' } },
    { at: 6_000, event: { type: 'step-progress', job, step: backup, message: 'dumping mattermost', current: 75 * MB, unit: 'bytes' } },
    { at: 9_000, event: { type: 'step-progress', job, step: backup, message: 'dumping mattermost', current: 120 * MB, unit: 'bytes' } },
    { at: 12_000, event: { type: 'step-progress', job, step: backup, message: 'dumping mattermost', current: 182.4 * MB, unit: 'bytes' } },
    { at: 12_900, event: { type: 'step-done', job, step: backup, durationMs: 12_000, detail: 'mattermost-1.0.0-20250301T020000Z.dump, 182.4 MB, 312 entries' } },
    { at: 13_000, event: { type: 'step-started', job, step: pull, index: 2, total: 5 } },
    { at: 13_500, event: { type: 'step-progress', job, step: pull, message: 'pulling mattermost/mattermost-team-edition:1.1.0', current: 10 * MB, total: 268 * MB, unit: 'bytes' } },
    { at: 16_000, event: { type: 'step-progress', job, step: pull, message: 'pulling mattermost/mattermost-team-edition:1.1.0', current: 90 * MB, total: 268 * MB, unit: 'bytes' } },
    { at: 19_000, event: { type: 'step-progress', job, step: pull, message: 'pulling mattermost/mattermost-team-edition:1.1.0', current: 200 * MB, total: 268 * MB, unit: 'bytes' } },
    { at: 21_000, event: { type: 'step-progress', job, step: pull, message: 'pulling mattermost/mattermost-team-edition:1.1.0', current: 268 * MB, total: 268 * MB, unit: 'bytes' } },
    { at: 21_100, event: { type: 'step-progress', job, step: pull, message: 'pulled mattermost/mattermost-team-edition:1.1.0' } },
    { at: 21_200, event: { type: 'step-done', job, step: pull, durationMs: 8_200, detail: '1 image pulled' } },
    { at: 21_300, event: { type: 'step-started', job, step: switchStep, index: 3, total: 5 } },
    { at: 21_400, event: { type: 'step-progress', job, step: switchStep, message: 'stopping mattermost' } },
    { at: 63_400, event: { type: 'step-done', job, step: switchStep, durationMs: 42_100, detail: '1.1.0 answers ping, no error in the logs' } },
    { at: 63_500, event: { type: 'step-skipped', job, step: announce, reason: 'MM_BOT_TOKEN is not set' } },
    { at: 63_600, event: { type: 'warning', job, message: 'could not remove the old image mattermost/mattermost-team-edition:0.9.0: in use' } },
    { at: 190_000, event: { type: 'job-finished', result: succeededResult() } },
  ];
}

export function rollbackEvents(): Timed[] {
  return [
    { at: 0, event: { type: 'job-started', job, steps, plan } },
    { at: 0, event: { type: 'step-started', job, step: validate, index: 0, total: 5 } },
    { at: 850, event: { type: 'step-done', job, step: validate, durationMs: 850 } },
    { at: 900, event: { type: 'step-skipped', job, step: backup, reason: 'a backup of 1.0.0 is 2h old' } },
    { at: 1_000, event: { type: 'step-started', job, step: pull, index: 2, total: 5 } },
    { at: 2_000, event: { type: 'step-progress', job, step: pull, message: 'pulling mattermost/mattermost-team-edition:1.1.0', current: 268 * MB, total: 268 * MB, unit: 'bytes' } },
    { at: 2_100, event: { type: 'step-done', job, step: pull, durationMs: 1_100 } },
    { at: 2_200, event: { type: 'step-started', job, step: switchStep, index: 3, total: 5 } },
    {
      at: 302_200,
      event: {
        type: 'step-failed',
        job,
        step: switchStep,
        durationMs: 300_000,
        error: 'mattermost did not report 1.1.0 within 300 s\n    {"level":"error","msg":"Failed to run migrations"}',
      },
    },
    { at: 302_300, event: { type: 'rollback-started', job, reason: 'Switch to 1.1.0 failed: mattermost did not report 1.1.0 within 300 s' } },
    { at: 302_400, event: { type: 'rollback-stage', job, stage: 'compose', message: 'put back docker-compose.yml (1.0.0)' } },
    { at: 302_500, event: { type: 'rollback-stage', job, stage: 'compose', message: 'put back docker-compose.yml (1.0.0)', ok: true } },
    { at: 302_600, event: { type: 'rollback-stage', job, stage: 'switch', message: 'restart on 1.0.0' } },
    { at: 340_000, event: { type: 'rollback-stage', job, stage: 'switch', message: 'restart on 1.0.0', ok: true } },
    { at: 480_000, event: { type: 'job-finished', result: rolledBackResult() } },
  ];
}

/** What a stream received, as one string; a TTY when asked, like process.stderr on a terminal. */
export class Capture extends Writable {
  text = '';
  isTTY?: boolean;
  columns?: number;
  constructor(tty?: { columns: number }) {
    super();
    if (tty) {
      this.isTTY = true;
      this.columns = tty.columns;
    }
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}

/**
 * What a terminal shows after `text`: enough of a VT100 for what readline and cli-progress
 * write (CR, LF, cursor column, save/restore, erase in line; colours and modes dropped).
 */
export function screen(text: string): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  let saved = { row: 0, col: 0 };
  const line = (): string[] => (rows[row] ??= []);
  const pattern = /\x1b\[([?\d;]*)([A-Za-z])|\x1b([78])|([\r\n])|([^\x1b\r\n])/gu;
  for (const m of text.matchAll(pattern)) {
    const [, params, command, saveRestore, control, char] = m;
    if (char !== undefined) {
      line()[col++] = char;
    } else if (control === '\r') {
      col = 0;
    } else if (control === '\n') {
      row++;
      col = 0;
      line();
    } else if (saveRestore === '7') {
      saved = { row, col };
    } else if (saveRestore === '8') {
      ({ row, col } = saved);
    } else if (command === 'G') {
      col = Math.max(0, Number(params || 1) - 1);
    } else if (command === 'K') {
      const cells = line();
      if (params === '' || params === '0') cells.length = Math.min(cells.length, col);
      else if (params === '1') cells.fill(' ', 0, col + 1);
      else cells.length = 0;
    } else if (command === 'A') {
      row = Math.max(0, row - Number(params || 1));
    } else if (command === 'm' || command === 'h' || command === 'l') {
      // colours and modes: not part of what is read
    } else {
      throw new Error(`screen(): unexpected escape sequence ${JSON.stringify(m[0])}`);
    }
  }
  const shown = rows.map((cells) => Array.from(cells, (c) => c ?? ' ').join('').trimEnd());
  while (shown.length > 0 && shown[shown.length - 1] === '') shown.pop();
  return shown;
}
