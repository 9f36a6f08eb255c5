/**
 * The upgrade engine through `mm-upgrade`, on the real bed: both layouts, the failing
 * variants, the database restore path, kill -9 in the middle, the lock, bad inputs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerInspect } from '../../src/docker/engine.js';
import type { JobResult } from '../../src/core/events.js';
import type { StatusReport } from '../../src/status/collect.js';
import type { HistoryEntry } from '../../src/state/history.js';
import { mmUpgrade, mmUpgradeBackground } from '../bed/cli.js';
import { readRows, waitForApp, type Deployment } from '../bed/deploy.js';
import { bed, engine, fresh } from './helpers/upgrades.js';


const inspect = async (name: string): Promise<ContainerInspect> => (await engine.inspectContainer(name))!;
const composeBytes = (d: Deployment): Buffer[] => [...d.composeFiles, join(d.dir, '.env')].map((f) => readFileSync(f));

async function status(env: Record<string, string>): Promise<StatusReport> {
  const r = await mmUpgrade(['status', '--json'], env);
  return JSON.parse(r.stdout) as StatusReport;
}

function history(d: Deployment): HistoryEntry[] {
  return readFileSync(join(d.env.STATE_DIR!, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as HistoryEntry);
}

function changedLines(before: Buffer, after: Buffer): Array<[string, string]> {
  const a = before.toString().split('\n');
  const b = after.toString().split('\n');
  assert.equal(a.length, b.length);
  return a.flatMap((l, i): Array<[string, string]> => (l === b[i] ? [] : [[l, b[i]!]]));
}

describe('upgrade, team-built layout', () => {
  it('1.0.0 → 1.1.0 moves both containers, keeps their settings and the data, pins exactly two tags', async () => {
    const d = await fresh('team');
    const [composeBefore] = composeBytes(d);
    const appBefore = await inspect(d.appContainer);
    const dbBefore = await inspect(d.dbContainer);
    const r = await mmUpgrade(['upgrade', '1.1.0', '--yes', '--json'], d.botEnv);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as JobResult;
    assert.equal(result.outcome, 'succeeded');

    for (const [before, ref] of [[appBefore, `${bed.images.app}:1.1.0`], [dbBefore, `${bed.images.db}:1.1.0`]] as const) {
      const now = await inspect(before.Name.slice(1));
      assert.notEqual(now.Id, before.Id, 'recreated');
      assert.equal(now.Config.Image, ref);
      assert.equal(now.State.Running, true);
      const own = (env: string[]) => env.filter((e) => !/^(MM_BUILD_VERSION|PG_)/.test(e)).sort();
      assert.deepEqual(own(now.Config.Env), own(before.Config.Env), 'env');
      assert.deepEqual(now.HostConfig.Binds, before.HostConfig.Binds, 'mounts');
      assert.deepEqual(now.HostConfig.RestartPolicy, before.HostConfig.RestartPolicy, 'restart policy');
      assert.equal(now.HostConfig.NetworkMode, before.HostConfig.NetworkMode, 'network mode');
      // All but the config hash, which becomes compose's own for the new file (compose-hash.test.ts).
      for (const [k, v] of Object.entries(before.Config.Labels)) if (/^(com\.docker\.compose|org\.pica)\./.test(k) && k !== 'com.docker.compose.config-hash') assert.equal(now.Config.Labels[k], v, k);
    }
    assert.deepEqual(await readRows(d.appUrl), d.rows, 'the rows are still there');

    const [composeAfter] = composeBytes(d);
    assert.deepEqual(changedLines(composeBefore!, composeAfter!), [
      [`    image: ${bed.images.app}:1.0.0  # app`, `    image: ${bed.images.app}:1.1.0  # app`],
      [`    image: "${bed.images.db}:1.0.0"`, `    image: "${bed.images.db}:1.1.0"`],
    ]);

    const dumps = readdirSync(d.env.BACKUP_DIR!).filter((f) => f.endsWith('.dump'));
    assert.equal(dumps.length, 1);
    assert.equal(statSync(join(d.env.BACKUP_DIR!, dumps[0]!)).mode & 0o777, 0o600);
    assert.equal(result.details.backup, join(d.env.BACKUP_DIR!, dumps[0]!));
    const [entry] = history(d);
    assert.equal(entry?.outcome, 'succeeded');
    assert.equal(entry?.from, '1.0.0');
    assert.equal(entry?.to, '1.1.0');
    assert.ok(typeof entry?.downtimeMs === 'number' && entry.downtimeMs > 0 && entry.downtimeMs < 25_000, `downtime ${entry?.downtimeMs}`);
    assert.match(entry?.owner ?? '', /^cli:/);

    const s = await status(d.botEnv);
    assert.equal(s.healthy, true);
    assert.equal(s.app.version, '1.1.0');
    assert.deepEqual(s.drift, []);

    // 1.1.0 → 2.0.0: the db tag moves onto the same image (recreated for compose's sake: compose-hash.test.ts).
    const r2 = await mmUpgrade(['upgrade', '2.0.0', '--yes', '--force'], d.botEnv);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(readFileSync(d.composeFiles[0]!, 'utf8'), /pica-mattermost-db:2\.0\.0"/);
    const s2 = await status(d.botEnv);
    assert.equal(s2.app.version, '2.0.0');
    assert.deepEqual(s2.drift, [], 'the db runs another tag of the same image: no drift');
    assert.deepEqual(await readRows(d.appUrl), d.rows);

    // rollback: back to 1.1.0, from the history
    const r3 = await mmUpgrade(['rollback', '--yes'], d.botEnv);
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal((await status(d.botEnv)).app.version, '1.1.0');
  });
});

describe("upgrade, Mattermost's own layout", () => {
  it('moves only the app: one .env line, and the postgres container keeps running; DB_USER unset is its POSTGRES_USER', async () => {
    const d = await fresh('mattermost');
    // No DB_USER: the dump must use the role the postgres container was created with (mmuser here; "postgres" does not exist).
    delete d.botEnv.DB_USER;
    const env = join(d.dir, '.env');
    const envBefore = readFileSync(env);
    const composeBefore = d.composeFiles.map((f) => readFileSync(f));
    const dbBefore = await inspect(d.dbContainer);
    const r = await mmUpgrade(['upgrade', '1.1.0', '--yes'], d.botEnv);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^SUCCEEDED upgrade 1\.0\.0 → 1\.1\.0/m);
    assert.deepEqual(changedLines(envBefore, readFileSync(env)), [['MATTERMOST_IMAGE_TAG=1.0.0', 'MATTERMOST_IMAGE_TAG=1.1.0']]);
    assert.deepEqual(d.composeFiles.map((f) => readFileSync(f)), composeBefore, 'compose files untouched');
    const dbAfter = await inspect(d.dbContainer);
    assert.equal(dbAfter.Id, dbBefore.Id);
    assert.equal(dbAfter.State.StartedAt, dbBefore.State.StartedAt);
    const app = await inspect(d.appContainer);
    assert.equal(app.Config.Image, `${bed.images.mmApp}:1.1.0`);
    assert.deepEqual(await readRows(d.appUrl), d.rows);
    const s = await status(d.botEnv);
    assert.equal(s.healthy, true);
    assert.equal(s.db.version, '15');
  });
});

describe('failures roll back', () => {
  for (const [tag, what, logLine] of [
    ['1.2.0', 'crashes at start', /Failed to apply database migrations/],
    ['1.3.0', 'never becomes healthy', /did not report version 1\.3\.0/],
  ] as const) {
    it(`${tag} ${what}: exit 1, 1.0.0 serving, compose file back, the explanation quoted`, async () => {
      const d = await fresh('team');
      const before = composeBytes(d);
      const r = await mmUpgrade(['upgrade', tag, '--yes'], { ...d.botEnv, HEALTH_TIMEOUT: '8' });
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^ROLLED BACK upgrade 1\.0\.0 → /m);
      assert.match(r.stdout, logLine);
      assert.deepEqual(composeBytes(d), before, 'compose file back, byte for byte');
      const s = await status(d.botEnv);
      assert.equal(s.healthy, true, s.problems.join('; '));
      assert.equal(s.app.version, '1.0.0');
      assert.deepEqual(s.drift, []);
      assert.deepEqual(await readRows(d.appUrl), d.rows);
    });
  }

  it('1.4.0 damages the database: 1.0.0 will not start on it, the dump is restored, the damaged db kept aside', async () => {
    const d = await fresh('team');
    const r = await mmUpgrade(['upgrade', '1.4.0', '--yes'], d.botEnv);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /restoring the pre-upgrade dump/);
    assert.match(r.stderr, /1\.0\.0 is serving on the restored database/);
    assert.deepEqual(await readRows(d.appUrl), d.rows, 'the original rows, restored from the dump');
    const dbs = await engine.exec(d.dbContainer, ['psql', '-U', 'mmuser', '-d', 'postgres', '-Atc', 'SELECT datname FROM pg_database ORDER BY 1']);
    assert.match(dbs.stdout, /^mattermost_failed_\d{8}_\d{6}$/m, 'the damaged database is kept');
    assert.equal((await status(d.botEnv)).healthy, true);
  });
});

describe('interrupted by kill -9', () => {
  for (const moment of [/waiting for PostgreSQL/, /waiting for Mattermost 1\.1\.0/]) {
    it(`during ${moment.source.replace(/\\/g, '')}: the next invocation recovers to a healthy deployment and says what it did`, async () => {
      const d = await fresh('team');
      const bg = mmUpgradeBackground(['upgrade', '1.1.0', '--yes'], d.botEnv);
      await bg.waitFor(moment);
      bg.child.kill('SIGKILL');
      await bg.done;
      const r = await mmUpgrade(['status', '--json'], d.botEnv);
      assert.match(r.stderr, /Recovered an interrupted job: upgrade 1\.0\.0 → 1\.1\.0 \(by cli:\S+\): (ROLLED-BACK|SUCCEEDED): interrupted at step switch/);
      const report = JSON.parse(r.stdout) as StatusReport & { recovered: JobResult[] };
      assert.equal(report.recovered.length, 1);
      assert.equal(report.healthy, true, report.problems.join('; '));
      assert.deepEqual(report.drift, [], 'compose file and containers agree');
      assert.equal(report.job, null, 'lock released');
      const version = report.app.version;
      assert.ok(version === '1.0.0' || version === '1.1.0');
      assert.equal(report.recovered[0]!.outcome, version === '1.0.0' ? 'rolled-back' : 'succeeded');
      assert.deepEqual(await readRows(d.appUrl), d.rows);
      const again = await mmUpgrade(['status'], d.botEnv);
      assert.doesNotMatch(again.stderr, /Recovered/, 'recovered once only');
    });
  }
});

describe('one job at a time, and bad input changes nothing', () => {
  it('a second upgrade while one runs gets exit 4 naming the running job', async () => {
    const d = await fresh('team');
    const first = mmUpgradeBackground(['upgrade', '1.1.0', '--yes'], { ...d.botEnv, VERIFY_WINDOW: '5s' });
    await first.waitFor(/\[2\/\d+\]/);
    const second = await mmUpgrade(['upgrade', '1.1.0', '--yes'], d.botEnv);
    assert.equal(second.code, 4, second.stderr);
    assert.match(second.stderr, /another job is running: upgrade 1\.0\.0 → 1\.1\.0 \(by cli:\S+, step \w+, pid \d+/);
    assert.equal((await first.done).code, 0, first.output().stderr);
  });

  it('refuses latest, 1.2, a downgrade, a missing tag, an unknown flag, a PostgreSQL major change, no --yes without a terminal: exit 2, nothing changed', async () => {
    const d = await fresh('team');
    const ids = async () => [(await inspect(d.appContainer)).Id, (await inspect(d.dbContainer)).Id];
    const before = { ids: await ids(), files: composeBytes(d) };
    const cases: Array<[string[], RegExp]> = [
      [['upgrade', 'latest', '--yes'], /"latest" is not a release version: expected X\.Y\.Z/],
      [['upgrade', '1.2', '--yes'], /"1\.2" is not a release version/],
      [['upgrade', '0.9.0', '--yes'], /older than the running 1\.0\.0[\s\S]*mm-upgrade rollback/],
      [['upgrade', '1.0.0', '--yes'], /1\.0\.0 is already running/],
      [['upgrade', '1.9.9', '--yes'], /pica-mattermost:1\.9\.9 does not exist in its registry/],
      [['upgrade', '1.1.0', '--yes', '--frobnicate'], /Unknown option '--frobnicate'/],
      [['upgrade', '1.5.0', '--yes'], /runs PostgreSQL 16 but the data directory is PostgreSQL 15/],
      [['upgrade', '1.1.0'], /confirmation needed[\s\S]*--yes/],
      [['upgrade', '3.0.0', '--yes'], /major-version jump/],
    ];
    for (const [args, message] of cases) {
      const r = await mmUpgrade(args, d.botEnv);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout + r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
    }
    assert.deepEqual(await ids(), before.ids, 'same containers');
    assert.deepEqual(composeBytes(d), before.files, 'same compose bytes');
    const dry = await mmUpgrade(['upgrade', '1.1.0', '--dry-run'], d.botEnv);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Dry run: nothing was changed/);
    assert.deepEqual(await ids(), before.ids);
  });
});

describe('maintenance', () => {
  it('backup, then restore round trip, then reindex', async () => {
    const d = await fresh('team');
    const b = await mmUpgrade(['backup', '--json'], d.botEnv);
    assert.equal(b.code, 0, b.stderr);
    const dump = (JSON.parse(b.stdout) as JobResult).details.backup as string;
    assert.ok(statSync(dump).size > 0);
    await fetch(`${d.appUrl}/api/v4/test/posts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ message: 'written after the dump' }) });
    assert.equal((await readRows(d.appUrl)).length, d.rows.length + 1);
    const noYes = await mmUpgrade(['restore', dump], d.botEnv);
    assert.equal(noYes.code, 2);
    const r = await mmUpgrade(['restore', dump, '--yes'], d.botEnv);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(await readRows(d.appUrl), d.rows, 'back to the dump');
    assert.match(r.stdout, /mattermost_failed_/, 'says where the previous database is kept');
    const missing = await mmUpgrade(['restore', '/nonexistent.dump', '--yes'], d.botEnv);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr + missing.stdout, /\/nonexistent\.dump does not exist/);
    const x = await mmUpgrade(['reindex', '--yes'], d.botEnv);
    assert.equal(x.code, 0, x.stderr + x.stdout);
    assert.match(x.stdout, /^SUCCEEDED reindex mattermost/m);
    assert.match(x.stderr, /REINDEX DATABASE mattermost \(\d+(ms|s)\): done in/);
    assert.equal((await status(d.botEnv)).healthy, true);
  });

  it('a restore cut short is undone before anything starts the app again', async () => {
    const d = await fresh('team');
    await d.compose(['stop', 'mattermost']);
    const psql = (sql: string) => engine.exec(d.dbContainer, ['psql', '-v', 'ON_ERROR_STOP=1', '-U', 'mmuser', '-d', 'postgres', '-c', sql]);
    // What kill -9 in the middle of pg_restore leaves: the real data aside, a partial copy under the real name.
    assert.equal((await psql('ALTER DATABASE mattermost RENAME TO mattermost_failed_20261125_000000')).exitCode, 0);
    assert.equal((await psql('CREATE DATABASE mattermost OWNER mmuser')).exitCode, 0);
    mkdirSync(d.env.STATE_DIR!, { recursive: true });
    writeFileSync(
      join(d.env.STATE_DIR!, 'restore-in-progress.json'),
      JSON.stringify({ container: d.dbContainer, name: 'mattermost', user: 'mmuser', aside: 'mattermost_failed_20261125_000000', dump: '/x.dump', startedAt: '' }),
    );
    const r = await mmUpgrade(['status'], d.botEnv);
    assert.match(r.stderr, /an interrupted restore of \/x\.dump was undone: mattermost is back as it was before it; the partial copy is kept as mattermost_partial_\d{8}T\d{6}/);
    await d.compose(['start', 'mattermost']);
    await waitForApp(d.appUrl, '1.0.0');
    assert.deepEqual(await readRows(d.appUrl), d.rows);
    assert.equal(existsSync(join(d.env.STATE_DIR!, 'restore-in-progress.json')), false);
  });
});
