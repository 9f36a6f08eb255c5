/**
 * After the bot recreated containers, the next routine `docker-compose up -d` (1.29.2, the
 * real one) must change nothing: the recreated containers carry compose's own config hash.
 * Pending changes in the compose file stay pending and are said; without a compose command
 * the old behaviour and a warning.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobResult } from '../../src/core/events.js';
import type { StatusReport } from '../../src/status/collect.js';
import { mmUpgrade, mmUpgradeBackground } from '../bed/cli.js';
import { readRows, waitForApp, type Deployment } from '../bed/deploy.js';
import { bed, engine, fresh } from './helpers/upgrades.js';

const HASH = 'com.docker.compose.config-hash';

const containerOf = async (name: string) => (await engine.inspectContainer(name))!;
const ids = async (d: Deployment): Promise<string[]> => [(await containerOf(d.appContainer)).Id, (await containerOf(d.dbContainer)).Id];

/** What docker-compose itself computes now, and what the containers carry. */
async function hashesAndLabels(d: Deployment): Promise<{ compose: Record<string, string>; labels: Record<string, string> }> {
  const r = await d.compose(['config', '--hash=*']);
  const compose = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/) as [string, string]));
  const labels = {
    [d.appService]: (await containerOf(d.appContainer)).Config.Labels[HASH]!,
    [d.dbService]: (await containerOf(d.dbContainer)).Config.Labels[HASH]!,
  };
  return { compose, labels };
}

/** `docker-compose up -d` as a sysadmin runs it; the container IDs before and after. */
async function upD(d: Deployment): Promise<{ before: string[]; after: string[]; stderr: string }> {
  const before = await ids(d);
  const r = await d.compose(['up', '-d']);
  return { before, after: await ids(d), stderr: r.stderr };
}

async function assertQuietUpD(d: Deployment, when: string): Promise<void> {
  const { compose, labels } = await hashesAndLabels(d);
  assert.deepEqual(labels, compose, `${when}: the labels are compose's own hashes`);
  const up = await upD(d);
  assert.deepEqual(up.after, up.before, `${when}: docker-compose up -d recreated nothing\n${up.stderr}`);
  assert.doesNotMatch(up.stderr, /Recreating/);
}

async function status(env: Record<string, string>): Promise<StatusReport> {
  return JSON.parse((await mmUpgrade(['status', '--json'], env)).stdout) as StatusReport;
}

describe("compose's own config hash on the recreated containers", () => {
  it('upgrade, then `docker-compose up -d` recreates nothing; the same after a retag-only upgrade and after a rollback', async () => {
    const d = await fresh('team');
    const r = await mmUpgrade(['upgrade', '1.1.0', '--yes'], d.botEnv);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the recreated containers get the config hash docker-compose 1\.29\.2 computes: the next `docker compose up -d` changes nothing/, 'the plan says so');
    assert.match(r.stdout, /^On up -d: +nothing to recreate \(the config hash is docker-compose 1\.29\.2's own\)$/m);
    const s = await status(d.botEnv);
    assert.deepEqual(s.composeWouldRecreate, []);
    assert.match(s.composeCheck.checkedWith ?? '', /^docker-compose 1\.29\.2$/);
    await assertQuietUpD(d, 'after the upgrade');

    // 1.1.0 → 2.0.0 moves the db tag onto the same image: compose hashes the tag, so the db is
    // recreated now, in the planned downtime, rather than by the next `up -d`.
    const dbMid = await containerOf(d.dbContainer);
    const r2 = await mmUpgrade(['upgrade', '2.0.0', '--yes', '--force'], d.botEnv);
    assert.equal(r2.code, 0, r2.stderr);
    const dbAfter = await containerOf(d.dbContainer);
    assert.notEqual(dbAfter.Id, dbMid.Id, 'the db container was recreated');
    assert.equal(dbAfter.Image, dbMid.Image, 'on the same image');
    assert.match(r2.stderr, /mattermost-db is recreated too/);
    await assertQuietUpD(d, 'after the retag');

    const r3 = await mmUpgrade(['rollback', '--yes'], d.botEnv);
    assert.equal(r3.code, 0, r3.stderr);
    await assertQuietUpD(d, 'after the rollback');
    assert.deepEqual((await status(d.botEnv)).composeWouldRecreate, [], 'no false alarm');
    assert.deepEqual(await readRows(d.appUrl), d.rows);
  });

  it("Mattermost's own layout: the app gets compose's hash, the postgres container left running keeps its labels", async () => {
    const d = await fresh('mattermost');
    const dbBefore = await containerOf(d.dbContainer);
    const r = await mmUpgrade(['upgrade', '1.1.0', '--yes'], d.botEnv);
    assert.equal(r.code, 0, r.stderr);
    const dbAfter = await containerOf(d.dbContainer);
    assert.equal(dbAfter.Id, dbBefore.Id);
    assert.deepEqual(dbAfter.Config.Labels, dbBefore.Config.Labels, 'the db labels are untouched');
    await assertQuietUpD(d, 'after the upgrade');
  });

  it('a failed upgrade rolled back by itself, and a crash recovery, leave nothing for `up -d` either (also when the db only changed its tag)', async () => {
    const d = await fresh('team');
    const r = await mmUpgrade(['upgrade', '1.2.0', '--yes'], { ...d.botEnv, HEALTH_TIMEOUT: '8' });
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual((await status(d.botEnv)).composeWouldRecreate, [], 'the original labels are back: no false alarm');
    await assertQuietUpD(d, 'after the automatic rollback');

    // From 1.1.0, 1.2.0 moves the db tag onto the same image: the db is recreated for compose's
    // sake, and the rollback must put the 1.1.0 tag (and its hash) back too.
    assert.equal((await mmUpgrade(['upgrade', '1.1.0', '--yes'], d.botEnv)).code, 0);
    const retag = await mmUpgrade(['upgrade', '1.2.0', '--yes'], { ...d.botEnv, HEALTH_TIMEOUT: '8' });
    assert.equal(retag.code, 1, retag.stderr);
    assert.equal((await containerOf(d.dbContainer)).Config.Image, `${bed.images.db}:1.1.0`, 'the db runs its 1.1.0 tag again');
    await assertQuietUpD(d, 'after the rollback of a retag');

    const bg = mmUpgradeBackground(['upgrade', '2.0.0', '--yes', '--force'], d.botEnv);
    await bg.waitFor(/waiting for Mattermost 2\.0\.0/);
    bg.child.kill('SIGKILL');
    await bg.done;
    const rec = await status(d.botEnv);
    assert.equal(rec.healthy, true, rec.problems.join('; '));
    assert.deepEqual(rec.composeWouldRecreate, []);
    await assertQuietUpD(d, `after the crash recovery (${rec.app.version})`);
    assert.deepEqual(await readRows(d.appUrl), d.rows);
  });

  it('an env var added to the app before the upgrade: said, the label kept stale, applied by the next `up -d`', async () => {
    const d = await fresh('team');
    const file = d.composeFiles[0]!;
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^( +)MM_TEST_STOP_DELAY_MS: .*\n/m, (line, indent: string) => `${line}${indent}MM_PENDING_SETTING: "applied-later"\n`));
    const oldLabels = (await hashesAndLabels(d)).labels;

    const dry = await mmUpgrade(['upgrade', '1.1.0', '--dry-run'], d.botEnv);
    assert.match(dry.stdout, /`docker compose up -d` will apply pending changes to mattermost: a restart/);
    const r = await mmUpgrade(['upgrade', '1.1.0', '--yes', '--json'], d.botEnv);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as JobResult;
    assert.deepEqual((result.details.upD as { pending: string[] }).pending, ['mattermost']);

    const app = await containerOf(d.appContainer);
    assert.equal(app.Config.Labels[HASH], oldLabels[d.appService], 'the app keeps its stale label');
    assert.ok(!app.Config.Env.some((e) => e.startsWith('MM_PENDING_SETTING=')), 'the change was not applied by the bot');
    const { compose, labels } = await hashesAndLabels(d);
    assert.equal(labels[d.dbService], compose[d.dbService], "the db gets compose's hash");
    const s = await status(d.botEnv);
    assert.deepEqual(s.composeWouldRecreate.map((x) => x.container), [d.appContainer]);
    assert.match(s.composeWouldRecreate[0]!.reason, /not applied yet/);

    const up = await upD(d);
    assert.notEqual(up.after[0], up.before[0], 'up -d recreates the app');
    assert.equal(up.after[1], up.before[1], 'and leaves the db alone');
    assert.ok((await containerOf(d.appContainer)).Config.Env.includes('MM_PENDING_SETTING=applied-later'));
    await waitForApp(d.appUrl, '1.1.0');
    await assertQuietUpD(d, 'once the change is applied');
    assert.deepEqual(await readRows(d.appUrl), d.rows);
  });

  it('with no compose command on PATH: the old behaviour, said once in the plan and in the result', async () => {
    const d = await fresh('team');
    const noCompose = { ...d.botEnv, PATH: mkdtempSync(join(tmpdir(), 'no-compose-')) };
    const before = (await hashesAndLabels(d)).labels;
    const r = await mmUpgrade(['upgrade', '1.1.0', '--yes'], noCompose);
    assert.equal(r.code, 0, r.stderr);
    const plan = /the next `docker compose up -d` will restart the containers recreated here once: no compose command to compute its config hash \(no docker-compose 1\.x on PATH/;
    assert.equal((r.stderr + r.stdout).split('\n').filter((l) => plan.test(l)).length, 1, 'once in the plan');
    assert.match(r.stdout, /^On up -d: +the next `docker compose up -d` will restart mattermost, mattermost-db once/m);
    assert.deepEqual((await hashesAndLabels(d)).labels, before, 'the labels are the old ones, as before');

    const guess = await status(noCompose);
    assert.deepEqual(guess.composeWouldRecreate.map((x) => x.container).sort(), [d.appContainer, d.dbContainer].sort());
    assert.equal(guess.composeCheck.checkedWith, null);
    assert.match(guess.composeCheck.guessBecause ?? '', /no docker-compose 1\.x on PATH/);
    const checked = await status(d.botEnv);
    assert.deepEqual(checked.composeWouldRecreate.map((x) => x.container).sort(), guess.composeWouldRecreate.map((x) => x.container).sort(), 'compose agrees with the guess');

    const up = await upD(d);
    assert.match(up.stderr, /Recreating/);
    assert.notEqual(up.after[0], up.before[0]);
    assert.notEqual(up.after[1], up.before[1]);
    await waitForApp(d.appUrl, '1.1.0');
    await assertQuietUpD(d, 'the second time');
    assert.deepEqual(await readRows(d.appUrl), d.rows);
  });
});
