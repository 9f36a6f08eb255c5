/** `mm-upgrade status` as a sysadmin runs it, against both layouts on the bed. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusReport } from '../../src/status/collect.js';
import { deploy, type Deployment } from '../bed/deploy.js';
import { run } from '../bed/proc.js';
import { mmUpgrade } from '../bed/cli.js';

async function statusJson(env: Record<string, string>): Promise<{ code: number; report: StatusReport }> {
  const r = await mmUpgrade(['status', '--json'], env);
  assert.equal(r.stderr.trim(), '', 'nothing on stderr');
  return { code: r.code, report: JSON.parse(r.stdout) as StatusReport };
}

for (const layout of ['team', 'mattermost'] as const) {
  describe(`status on the ${layout === 'team' ? 'team-built' : "Mattermost's own"} layout`, () => {
    let d: Deployment;
    before(async () => {
      d = await deploy(layout, { stopDelayMs: 50 });
    });
    after(async () => {
      await d?.down();
    });

    it('reports 1.0.0, healthy, no drift', async () => {
      const { code, report } = await statusJson(d.env);
      assert.equal(code, 0);
      assert.equal(report.healthy, true, report.problems.join('; '));
      assert.deepEqual(report.problems, []);
      assert.equal(report.app.version, '1.0.0');
      assert.equal(report.app.tag, '1.0.0');
      assert.equal(report.app.server.version, '1.0.0');
      assert.equal(report.app.server.pingOk, true);
      assert.equal(report.app.container, d.appContainer);
      assert.equal(report.db.container, d.dbContainer);
      assert.equal(report.db.ready, true);
      assert.equal(report.db.state, 'running');
      assert.equal(report.db.version, layout === 'team' ? '1.0.0' : '15');
      assert.deepEqual(report.drift, []);
      assert.equal(report.app.drift, false);
      assert.equal(report.db.drift, false);
      assert.deepEqual(report.compose.files, d.composeFiles);
      assert.equal(report.compose.project, d.project);
      assert.equal(report.backup.newest, null);
      assert.equal(report.job, null);
      if (layout === 'mattermost') {
        assert.match(report.app.composeSource, /\.env:\d+ \(MATTERMOST_IMAGE_TAG\)$/);
        assert.match(report.db.composeSource, /\.env:\d+ \(POSTGRES_IMAGE_TAG\)$/);
      } else {
        assert.match(report.app.composeSource, /docker-compose\.yml:\d+$/);
      }
    });

    it('finds the compose file from the container labels when COMPOSE_FILE is unset', async () => {
      const { COMPOSE_FILE: _unused, ...env } = d.env;
      const { report } = await statusJson(env);
      assert.deepEqual(report.compose.files, d.composeFiles);
      assert.equal(report.healthy, true, report.problems.join('; '));
    });

    it('shows the newest backup and its age, and a running job', async () => {
      const backups = d.env.BACKUP_DIR!;
      mkdirSync(backups, { recursive: true });
      writeFileSync(join(backups, 'mattermost-1.0.0-old.dump'), 'x'.repeat(100));
      utimesSync(join(backups, 'mattermost-1.0.0-old.dump'), new Date(Date.now() - 3 * 86_400_000), new Date(Date.now() - 3 * 86_400_000));
      writeFileSync(join(backups, 'mattermost-1.0.0-new.dump'), 'x'.repeat(200));
      utimesSync(join(backups, 'mattermost-1.0.0-new.dump'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
      mkdirSync(d.env.STATE_DIR!, { recursive: true });
      writeFileSync(join(d.env.STATE_DIR!, 'job.lock'), JSON.stringify({ jobId: 'j1', kind: 'upgrade', owner: 'cli:alice', step: 'backup', pid: process.pid, hostname: 'h', startedAt: new Date().toISOString() }));
      try {
        const { report } = await statusJson(d.env);
        assert.equal(report.backup.newest?.file, join(backups, 'mattermost-1.0.0-new.dump'));
        assert.equal(report.backup.newest?.sizeBytes, 200);
        assert.ok(Math.abs(report.backup.newest!.ageSeconds - 3600) < 60);
        assert.equal(report.backup.newest?.recent, true);
        assert.deepEqual(report.job && { kind: report.job.kind, owner: report.job.owner, step: report.job.step, alive: report.job.alive }, { kind: 'upgrade', owner: 'cli:alice', step: 'backup', alive: true });
        const human = await mmUpgrade(['status'], d.env);
        assert.match(human.stdout, /Last backup +\S+mattermost-1\.0\.0-new\.dump, 1h old/);
        assert.match(human.stdout, /Job +upgrade by cli:alice, step backup/);
      } finally {
        writeFileSync(join(d.env.STATE_DIR!, 'job.lock'), '');
        await run('rm', ['-f', join(d.env.STATE_DIR!, 'job.lock')]);
      }
    });

    it('prints a short aligned table for a person', async () => {
      const r = await mmUpgrade(['status'], d.env);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split('\n');
      assert.match(lines[0]!, /^SERVICE +CONTAINER +STATE +HEALTH +RUNNING +COMPOSE +VERSION$/);
      assert.match(r.stdout, new RegExp(`^mattermost +${d.appContainer} +running +\\S+( \\S+)? +1\\.0\\.0 +1\\.0\\.0 +1\\.0\\.0$`, 'm'));
      assert.match(r.stdout, new RegExp(`^${d.dbService} +${d.dbContainer} +running +ready +(1\\.0\\.0|15) +(1\\.0\\.0|15) +(1\\.0\\.0|15)$`, 'm'));
      assert.match(r.stdout, /^Drift +none/m);
      assert.match(r.stdout, /^Overall +healthy$/m);
      const header = lines[0]!;
      const row = lines[1]!;
      assert.equal(row.indexOf(d.appContainer), header.indexOf('CONTAINER'), 'columns aligned');
    });

    it('reports drift after the compose file is edited by hand', async () => {
      const file = layout === 'team' ? d.composeFiles[0]! : join(d.dir, '.env');
      const original = readFileSync(file, 'utf8');
      const edited = layout === 'team' ? original.replace('pica-mattermost:1.0.0', 'pica-mattermost:1.1.0') : original.replace('MATTERMOST_IMAGE_TAG=1.0.0', 'MATTERMOST_IMAGE_TAG=1.1.0');
      assert.notEqual(edited, original);
      writeFileSync(file, edited);
      try {
        const { code, report } = await statusJson(d.env);
        assert.equal(code, 0, 'drift is not ill health');
        assert.equal(report.healthy, true);
        assert.equal(report.app.drift, true);
        assert.equal(report.app.composeTag, '1.1.0');
        assert.equal(report.app.tag, '1.0.0');
        assert.equal(report.db.drift, false);
        assert.deepEqual(report.drift.map((x) => [x.service, x.compose.endsWith(':1.1.0'), x.container?.endsWith(':1.0.0')]), [['mattermost', true, true]]);
        const human = await mmUpgrade(['status'], d.env);
        assert.match(human.stdout, /^Drift +mattermost pinned \S+:1\.1\.0, running \S+:1\.0\.0$/m);
      } finally {
        writeFileSync(file, original);
      }
    });

    it('says NOT healthy and exits 3 when the app is down', async () => {
      await d.compose(['stop', '-t', '5', 'mattermost']);
      try {
        const { code, report } = await statusJson(d.env);
        assert.equal(code, 3);
        assert.equal(report.healthy, false);
        assert.equal(report.app.state, 'exited');
        assert.equal(report.app.server.reachable, false);
        assert.ok(report.problems.some((p) => p.includes(`app container ${d.appContainer} is exited`)), report.problems.join('; '));
      } finally {
        await d.compose(['start', 'mattermost']);
      }
    });
  });
}

describe('status with bad configuration', () => {
  it('exits 2 with one line naming MM_URL', async () => {
    const r = await mmUpgrade(['status'], { MM_URL: 'nonsense' });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'mm-upgrade: MM_URL must be an http(s) URL, got "nonsense"\n');
  });

  it('exits 2 on an unknown flag, naming it', async () => {
    const r = await mmUpgrade(['status', '--jsno'], { MM_URL: 'http://127.0.0.1:1' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown option '--jsno'/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  });
});
