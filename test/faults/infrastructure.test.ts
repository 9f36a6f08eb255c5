/**
 * Fault suite: what the host can do to an upgrade — the Docker engine restarted in the middle
 * of the downtime, the registry down at pull time, the backup disk full during the dump, the
 * database killed during the dump, a new version that dies after it looked healthy, a compose
 * file read-only or edited by someone while the job runs, two processes racing for a stale
 * lock. Each case ends healthy on the old or the new version with the rows intact.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobResult } from '../../src/core/events.js';
import { mmUpgrade, mmUpgradeBackground } from '../bed/cli.js';
import { restartDockerd, startRegistry } from '../bed/daemons.js';
import { run, waitFor } from '../bed/proc.js';
import { bed, engine } from '../integration/helpers/upgrades.js';
import { fingerprint, recordCase, settledStatus, stopAt, withDeployment, type Fingerprint } from './helpers/faults.js';

type D = Parameters<Parameters<typeof withDeployment>[0]>[0];

const dockerEnv = { ...process.env, DOCKER_HOST: bed.dockerHost };
const ids = async (d: D): Promise<string[]> => [(await engine.inspectContainer(d.appContainer))!.Id, (await engine.inspectContainer(d.dbContainer))!.Id];
const composeBytes = (d: D): string => d.composeFiles.map((f) => readFileSync(f, 'utf8')).join('\n');

/** Healthy on `version`, compose file and containers agreeing, no lock, the rows as before. */
async function assertServing(d: D, version: string, before: Fingerprint): Promise<void> {
  const s = await settledStatus(d, 60_000);
  assert.equal(s.healthy, true, s.problems.join('; '));
  assert.equal(s.app.version, version);
  assert.deepEqual(s.drift, []);
  assert.equal(s.job, null);
  assert.deepEqual(await fingerprint(d), before, 'the rows: same count, same checksum');
}

/** Rows of about 3 kB each, written in PostgreSQL itself (a dump that takes a while). */
async function addRows(d: D, count: number): Promise<void> {
  const sql = `INSERT INTO posts (message, create_at) SELECT string_agg(md5(i::text || ':' || j::text), ''), i FROM generate_series(1, ${count}) i, generate_series(1, 100) j GROUP BY i`;
  const r = await engine.exec(d.dbContainer, ['psql', '-U', d.dbUser, '-d', d.dbName, '-v', 'ON_ERROR_STOP=1', '-qc', sql]);
  assert.equal(r.exitCode, 0, r.stderr);
}

describe('the Docker engine restarted during the downtime', () => {
  for (const [moment, during] of [['waiting for PostgreSQL', 'the database wait'], ['waiting for Mattermost 1.1.0', 'the app wait']] as const) {
    it(`during ${during}: the job waits for the engine and finishes, or rolls back`, () => withDeployment(async (d) => {
      const before = await fingerprint(d);
      const job = mmUpgradeBackground(['upgrade', '1.1.0', '--yes', '--json'], { ...d.botEnv, HEALTH_TIMEOUT: '120' });
      await job.waitFor(new RegExp(moment), 120_000);
      const { downMs } = await restartDockerd(bed.root);
      const r = await job.done;
      const result = JSON.parse(r.stdout) as JobResult;
      assert.ok(['succeeded', 'rolled-back'].includes(result.outcome), `${result.outcome}: ${result.reason}\n${r.stderr}`);
      const version = result.outcome === 'succeeded' ? '1.1.0' : '1.0.0';
      await assertServing(d, version, before);
      recordCase({ group: 'Docker engine restarted', fault: `during ${during} (engine away ${(downMs / 1000).toFixed(0)} s)`, outcome: result.outcome, serving: version, rows: 'intact' });
    }));
  }
});

describe('the registry down at pull time', () => {
  const own = startRegistry(bed.root, { name: `registry-faults-${process.pid}` });
  after(async () => (await own).stop());

  it('refused before any downtime: same containers, same compose file', async () => {
    const registry = await own;
    // The deployment pulls from a registry of its own, holding copies of the bed's tags.
    for (const [repo, tag] of [['pica-mattermost', '1.0.0'], ['pica-mattermost', '1.1.0'], ['pica-mattermost-db', '1.0.0'], ['pica-mattermost-db', '1.1.0']]) {
      const from = `${bed.registry}/${repo}:${tag}`;
      const to = `${registry.host}/${repo}:${tag}`;
      for (const args of [['pull', '-q', from], ['tag', from, to], ['push', to]]) await run('/usr/bin/docker', args, { env: dockerEnv });
      // The new version must come from that registry at pull time, not from a local copy.
      if (tag === '1.1.0') await run('/usr/bin/docker', ['rmi', to], { env: dockerEnv, allowFailure: true });
    }
    await withDeployment(async (d) => {
      const before = { rows: await fingerprint(d), ids: await ids(d), compose: composeBytes(d) };
      const job = await stopAt(['upgrade', '1.1.0', '--yes', '--json'], d.botEnv, 'step-started:pull');
      await registry.stop();
      job.resume();
      const r = await job.done;
      const result = JSON.parse(r.stdout) as JobResult;
      assert.equal(r.code, 2, r.stderr);
      assert.equal(result.outcome, 'refused');
      assert.match(result.reason ?? '', /pull|registry/i);
      assert.deepEqual(await ids(d), before.ids, 'no container was touched');
      assert.equal(composeBytes(d), before.compose);
      await assertServing(d, '1.0.0', before.rows);
      recordCase({ group: 'registry', fault: 'down at pull time', outcome: result.outcome, serving: '1.0.0', rows: 'intact' });
    }, { registry: registry.host });
  });
});

describe('the backup disk', () => {
  it('BACKUP_DIR on a tiny tmpfs that fills up during the dump: refused before any downtime, the partial file removed', () => withDeployment(async (d) => {
    await addRows(d, 3_000); // a dump of some megabytes
    const before = { rows: await fingerprint(d), ids: await ids(d) };
    const dir = join(d.dir, 'tiny-backups');
    mkdirSync(dir, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=40m,mode=0700', 'tmpfs', dir]);
    try {
      const env = { ...d.botEnv, BACKUP_DIR: dir };
      const job = await stopAt(['upgrade', '1.1.0', '--yes', '--json'], env, 'step-started:backup');
      // Something else on that disk (logs, another dump) leaves it 64 kB, after the free-space check.
      await run('dd', ['if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=64k', 'count=10000'], { allowFailure: true });
      await run('truncate', ['-s', '-64k', join(dir, 'filler')]);
      job.resume();
      const r = await job.done;
      const result = JSON.parse(r.stdout) as JobResult;
      assert.equal(r.code, 2, r.stderr);
      assert.equal(result.outcome, 'refused');
      assert.match(result.reason ?? '', /ENOSPC|no space/i);
      assert.deepEqual(readdirSync(dir).filter((f) => f !== 'filler'), [], 'no partial dump left');
      assert.deepEqual(await ids(d), before.ids, 'no container was touched');
      await assertServing(d, '1.0.0', before.rows);
      recordCase({ group: 'backup', fault: 'BACKUP_DIR fills up during the dump', outcome: result.outcome, serving: '1.0.0', rows: 'intact' });
    } finally {
      await run('umount', [dir], { allowFailure: true });
    }
  }));

  it('the database container killed during the dump: refused before any downtime, the partial file removed, PostgreSQL back', () => withDeployment(async (d) => {
    await addRows(d, 30_000); // ~100 MB: a dump of a few seconds
    const before = { rows: await fingerprint(d), ids: await ids(d) };
    const job = await stopAt(['upgrade', '1.1.0', '--yes', '--json'], d.botEnv, 'step-started:backup');
    job.resume();
    const partial = await waitFor('a dump being written', async () => {
      const f = existsSync(d.env.BACKUP_DIR!) ? readdirSync(d.env.BACKUP_DIR!).find((n) => n.endsWith('.partial')) : undefined;
      return f && statSync(join(d.env.BACKUP_DIR!, f)).size > 1_000_000 ? f : undefined;
    }, { timeoutMs: 60_000, intervalMs: 20 });
    // As the kernel's OOM killer would: the container's main process, from outside.
    const pid = (await engine.inspectContainer(d.dbContainer))!.State.Pid;
    process.kill(pid, 'SIGKILL');
    const r = await job.done;
    const result = JSON.parse(r.stdout) as JobResult;
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    assert.equal(result.outcome, 'refused');
    assert.ok(!existsSync(join(d.env.BACKUP_DIR!, partial)), 'the partial dump is removed');
    assert.deepEqual(readdirSync(d.env.BACKUP_DIR!).filter((f) => f.endsWith('.dump')), [], 'no dump counts as a backup');
    await assertServing(d, '1.0.0', before.rows);
    recordCase({ group: 'backup', fault: 'database container killed during the dump', outcome: result.outcome, serving: '1.0.0', rows: 'intact' });
  }));
});

describe('the new version', () => {
  it('1.7.0 becomes healthy, then crashes 20 s later: the watch window catches it and rolls back', () => withDeployment(async (d) => {
    const before = await fingerprint(d);
    const r = await mmUpgrade(['upgrade', '1.7.0', '--yes', '--json'], { ...d.botEnv, VERIFY_WINDOW: '40s' });
    const result = JSON.parse(r.stdout) as JobResult;
    assert.equal(r.code, 1, r.stderr);
    assert.equal(result.outcome, 'rolled-back');
    assert.match(result.reason ?? '', /Watch the new version|while being watched/);
    assert.match(r.stderr, /jobs server stopped 20000 ms after start|Shutting down after a fatal error/);
    await assertServing(d, '1.0.0', before);
    recordCase({ group: 'new version', fault: 'healthy, then crashes 20 s later (watch window 40 s)', outcome: result.outcome, serving: '1.0.0', rows: 'intact' });
  }));
});

describe('the compose file', () => {
  it('made read-only (chattr +i): refused before the backup, nothing changed', () => withDeployment(async (d) => {
    const before = { rows: await fingerprint(d), ids: await ids(d), compose: composeBytes(d) };
    await run('chattr', ['+i', d.composeFiles[0]!]);
    try {
      const r = await mmUpgrade(['upgrade', '1.1.0', '--yes', '--json'], d.botEnv);
      const result = JSON.parse(r.stdout) as JobResult;
      assert.equal(r.code, 2, r.stderr);
      assert.equal(result.outcome, 'refused');
      assert.match(result.reason ?? '', /cannot write .*docker-compose\.yml \(immutable\)/);
      assert.ok(!existsSync(d.env.BACKUP_DIR!) || readdirSync(d.env.BACKUP_DIR!).every((f) => !f.endsWith('.dump')), 'refused before the backup');
    } finally {
      await run('chattr', ['-i', d.composeFiles[0]!]);
    }
    assert.deepEqual(await ids(d), before.ids);
    assert.equal(composeBytes(d), before.compose);
    await assertServing(d, '1.0.0', before.rows);
    recordCase({ group: 'compose file', fault: 'read-only (chattr +i)', outcome: 'refused', serving: '1.0.0', rows: 'intact' });
  }));

  it('edited by someone between the plan and the pin: refused, their edit kept, nothing else changed', () => withDeployment(async (d) => {
    const before = { rows: await fingerprint(d), ids: await ids(d) };
    const job = await stopAt(['upgrade', '1.1.0', '--yes', '--json'], d.botEnv, 'step-started:compose');
    const file = d.composeFiles[0]!;
    const edited = readFileSync(file, 'utf8').replace('max-size: "10m"', 'max-size: "20m"');
    writeFileSync(file, edited);
    job.resume();
    const r = await job.done;
    const result = JSON.parse(r.stdout) as JobResult;
    assert.equal(r.code, 2, r.stderr);
    assert.equal(result.outcome, 'refused');
    assert.match(result.reason ?? '', /docker-compose\.yml changed since the plan was made/);
    assert.equal(readFileSync(file, 'utf8'), edited, 'their edit is kept, no tag pinned');
    assert.deepEqual(await ids(d), before.ids);
    // Their edit is not applied yet (up -d would): status reports it as drift, nothing else.
    writeFileSync(file, edited.replace('max-size: "20m"', 'max-size: "10m"'));
    await assertServing(d, '1.0.0', before.rows);
    recordCase({ group: 'compose file', fault: 'edited between plan and pin', outcome: result.outcome, serving: '1.0.0', rows: 'intact' });
  }));
});

describe('the lock', () => {
  it('two processes find the stale lock of a killed job in the same instant: exactly one recovers it and runs, the other is told who holds it', () => withDeployment(async (d) => {
    const before = await fingerprint(d);
    const killed = await stopAt(['upgrade', '1.1.0', '--yes'], d.botEnv, 'step-done:backup');
    await killed.kill();
    assert.ok(existsSync(join(d.env.STATE_DIR!, 'job.lock')), 'a stale lock is left');
    const racers = [0, 1].map(() => mmUpgradeBackground(['upgrade', '1.1.0', '--yes'], { ...d.botEnv, MM_UPGRADE_TEST_STOP_AT: 'recover' }));
    const markers = racers.map((r) => join(d.env.STATE_DIR!, 'test-hook', `${r.child.pid}.json`));
    await waitFor('both racers at the lock', async () => (markers.every((m) => existsSync(m)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 10 });
    for (const r of racers) r.child.kill('SIGUSR2');
    const results = await Promise.all(racers.map((r) => r.done));
    const codes = results.map((r) => r.code).sort();
    assert.deepEqual(codes, [0, 4], results.map((r) => r.stderr).join('\n---\n'));
    const loser = results.find((r) => r.code === 4)!;
    assert.match(loser.stderr, /another job is running: upgrade 1\.0\.0 → 1\.1\.0 \(by cli:\S+/);
    assert.equal(results.filter((r) => /Recovered an interrupted job/.test(r.stderr)).length, 1, 'recovered once');
    await assertServing(d, '1.1.0', before);
    rmSync(join(d.env.STATE_DIR!, 'test-hook'), { recursive: true, force: true });
    recordCase({ group: 'lock', fault: 'two processes race for the stale lock of a killed job', outcome: 'one succeeded, one exit 4', serving: '1.1.0', rows: 'intact' });
  }));
});
