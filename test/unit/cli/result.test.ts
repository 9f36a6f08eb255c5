import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderResult, renderResultJson } from '../../../src/cli/render.js';
import type { JobResult } from '../../../src/core/events.js';
import { job, rolledBackResult, succeededResult } from './helpers.js';

const base = (over: Partial<JobResult>): JobResult => ({
  job,
  outcome: 'succeeded',
  summary: '',
  details: {},
  warnings: [],
  manualSteps: [],
  finishedAt: '2025-03-01T02:00:05.000Z',
  durationMs: 850,
  ...over,
});

describe('renderResult', () => {
  it('a success: the outcome, then the versions, backup, downtime and changelog', () => {
    assert.equal(
      renderResult(succeededResult()),
      [
        'SUCCEEDED upgrade 1.0.0 → 1.1.0: 1.1.0 is serving, 42s of downtime',
        'From:      1.0.0',
        'To:        1.1.0',
        'Backup:    /var/backups/mattermost/mattermost-1.0.0-20250301T020000Z.dump (182.4 MB)',
        'Downtime:  42s',
        'Changelog: https://docs.mattermost.com/product-overview/mattermost-v1-changelog.html',
        'Took:      3m10s',
        '',
      ].join('\n'),
    );
  });

  it('a rollback: reason, hint, unknown details as key: value, log lines and warnings', () => {
    assert.equal(
      renderResult(rolledBackResult()),
      [
        'ROLLED BACK upgrade 1.0.0 → 1.1.0: failed at Switch to 1.1.0 and rolled back',
        'Reason:   Switch to 1.1.0 failed: mattermost did not report 1.1.0 within 300 s',
        'Hint:     Read the log lines below; `mm-upgrade status` shows what is running.',
        'From:     1.0.0',
        'To:       1.1.0',
        'Backup:   /var/backups/mattermost/mattermost-1.0.0-20250301T020000Z.dump',
        'attempts: 2',
        'Took:     8m',
        '',
        'Log lines:',
        '  {"level":"error","msg":"Failed to run migrations","error":"pq: permission denied"}',
        '',
        'Warnings:',
        '  ! could not remove the old image mattermost/mattermost-team-edition:0.9.0: in use',
        '',
      ].join('\n'),
    );
  });

  it('a refusal: the reason once, with the hint', () => {
    const text = renderResult(
      base({
        outcome: 'refused',
        summary: 'refused: 1.1.0 is outside the maintenance window (22:00-06:00)',
        reason: '1.1.0 is outside the maintenance window (22:00-06:00)',
        hint: 'Run it in the window, or pass --force.',
      }),
    );
    assert.equal(
      text,
      [
        'REFUSED upgrade 1.0.0 → 1.1.0: 1.1.0 is outside the maintenance window (22:00-06:00)',
        'Hint: Run it in the window, or pass --force.',
        'Took: 850ms',
        '',
      ].join('\n'),
    );
  });

  it('human needed: the commands to finish by hand, numbered', () => {
    const text = renderResult(
      base({
        outcome: 'human-needed',
        summary: 'failed at Switch to 1.1.0, and the rollback failed too: a human is needed',
        reason: 'Switch to 1.1.0 failed: timeout; then restart on 1.0.0 failed: no such image',
        details: { from: '1.0.0', to: '1.1.0', restoreLoses: 'posts written since 02:00', recovered: true, services: ['mattermost', 'postgres'], spec: { image: 'x' } },
        manualSteps: ['cp docker-compose.yml.bak docker-compose.yml', 'docker compose up -d mattermost'],
        durationMs: 150_000,
      }),
    );
    assert.equal(
      text,
      [
        'HUMAN NEEDED upgrade 1.0.0 → 1.1.0: failed at Switch to 1.1.0, and the rollback failed too: a human is needed',
        'Reason:        Switch to 1.1.0 failed: timeout; then restart on 1.0.0 failed: no such image',
        'From:          1.0.0',
        'To:            1.1.0',
        'Restore loses: posts written since 02:00',
        'recovered:     true',
        'services:      mattermost, postgres',
        'spec:          {"image":"x"}',
        'Took:          2m30s',
        '',
        'Finish by hand:',
        '  1. cp docker-compose.yml.bak docker-compose.yml',
        '  2. docker compose up -d mattermost',
        '',
      ].join('\n'),
    );
  });

  it('human needed without known commands still says where to look', () => {
    assert.match(renderResult(base({ outcome: 'human-needed', summary: 'x' })), /Finish by hand:\n {2}\(no commands known: check `mm-upgrade status` and the logs\)\n$/);
  });

  it('leaves out empty details', () => {
    assert.equal(renderResult(base({ summary: 'done', details: { logLines: [], backup: undefined, note: null, tags: [] } })), 'SUCCEEDED upgrade 1.0.0 → 1.1.0: done\nTook: 850ms\n');
  });
});

describe('renderResultJson', () => {
  it('prints one JSON object that reads back as the result', () => {
    const result = rolledBackResult();
    const text = renderResultJson(result);
    assert.ok(text.endsWith('}\n'));
    assert.deepEqual(JSON.parse(text), result);
  });
});
