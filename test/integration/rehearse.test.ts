/**
 * `mm-upgrade rehearse` on the bed's real engine: the target started on a scratch copy of the
 * database while production serves; good, slow-migrating, crashing and never-ready targets;
 * nothing left behind (also after kill -9); production untouched (container IDs, compose
 * bytes, a ping every 100 ms); the rehearsal as a step of `upgrade` with REHEARSAL=auto.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { JobResult } from '../../src/core/events.js';
import { mmUpgrade, mmUpgradeBackground } from '../bed/cli.js';
import { deploy, readRows, type Deployment } from '../bed/deploy.js';
import { startDockerd, unmountUnder } from '../bed/daemons.js';
import { run, waitFor } from '../bed/proc.js';
import { MattermostApi } from '../mattermost/client.js';
import { TOKENS, WORLD } from '../mattermost/world.js';
import { bed, fresh } from './helpers/upgrades.js';
import { startBot } from '../bed/bot.js';
import { actionsOf, botEnv as chatEnv, ChatView, isPlanPost } from './helpers/chat.js';

const docker = (args: string[]) => run('docker', args, { env: { ...process.env, DOCKER_HOST: bed.dockerHost } });
const LABEL = 'org.mattermost-upgrade-bot.rehearsal';

/** What exists on the engine: every container, volume and network (names), and the rehearsal's own. */
async function inventory(): Promise<{ containers: string[]; volumes: string[]; networks: string[]; labelled: string[] }> {
  const lines = async (args: string[]) => (await docker(args)).stdout.split('\n').filter(Boolean).sort();
  return {
    containers: await lines(['ps', '-a', '--format', '{{.ID}} {{.Names}}']),
    volumes: await lines(['volume', 'ls', '-q']),
    networks: await lines(['network', 'ls', '--format', '{{.Name}}']),
    labelled: [
      ...(await lines(['ps', '-aq', '--filter', `label=${LABEL}`])),
      ...(await lines(['volume', 'ls', '-q', '--filter', `label=${LABEL}`])),
      ...(await lines(['network', 'ls', '-q', '--filter', `label=${LABEL}`])),
    ],
  };
}

/** Production as it is: container IDs, compose bytes. */
async function production(d: Deployment): Promise<{ ids: string[]; compose: string[] }> {
  const ids = (await docker(['inspect', '--format', '{{.Id}}', d.appContainer, d.dbContainer])).stdout.trim().split('\n');
  return { ids, compose: [...d.composeFiles, join(d.dir, '.env')].map((f) => readFileSync(f, 'utf8')) };
}

/** Pings production every 100 ms until stopped: how many pings, how many failed. */
function pingLoop(url: string): { stop(): Promise<{ pings: number; failures: number }> } {
  let running = true;
  let pings = 0;
  let failures = 0;
  const loop = (async () => {
    while (running) {
      const ok = await fetch(`${url}/api/v4/system/ping`, { signal: AbortSignal.timeout(2_000) })
        .then((r) => r.status === 200)
        .catch(() => false);
      pings++;
      if (!ok) failures++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { pings, failures };
    },
  };
}

async function seeded(d: Deployment): Promise<void> {
  const api = new MattermostApi(d.appUrl);
  await api.seed(WORLD);
}

describe('mm-upgrade rehearse', () => {
  it('rehearse 1.1.0: exits 0 with the figures, production served throughout, nothing left over', async () => {
    const d = await fresh('team');
    await seeded(d);
    const before = await inventory();
    const prod = await production(d);
    const pings = pingLoop(d.appUrl);
    const r = await mmUpgrade(['rehearse', '1.1.0', '--json'], { ...d.botEnv, MM_BOT_TOKEN: TOKENS.bot, REHEARSAL_TIMEOUT: '60' });
    const { pings: n, failures } = await pings.stop();
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as JobResult;
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.job.kind, 'rehearse');
    const det = result.details as Record<string, unknown>;
    assert.equal(det.schemaBefore, '1.0.0');
    assert.equal(det.schemaAfter, '1.1.0');
    for (const k of ['restoreMs', 'startupMs']) assert.equal(typeof det[k], 'number', k);
    // The isolation settings, read back from the rehearsal server itself (limited and logged-in client config).
    assert.deepEqual(
      (det.isolation as string[]).map((x) => x.split('=')[0]).sort(),
      ['EnableDiagnostics', 'EnableMarketplace', 'RunJobs', 'SendEmailNotifications', 'SendPushNotifications', 'SiteURL'],
    );
    assert.match(r.stderr, /Rehearse on a copy of the database/);
    assert.match(r.stderr, /restoring the dump into the copy/);

    assert.ok(n >= 20, `only ${n} pings`);
    assert.equal(failures, 0, 'production answered every ping');
    assert.deepEqual(await production(d), prod, 'same containers, same compose files');
    const after = await inventory();
    assert.deepEqual(after.labelled, [], 'nothing of the rehearsal is left');
    assert.deepEqual(after.containers, before.containers);
    assert.deepEqual(after.volumes, before.volumes);
    assert.deepEqual(after.networks, before.networks);
    assert.deepEqual(await readRows(d.appUrl), d.rows);
    const history = readFileSync(join(d.botEnv.STATE_DIR!, 'history.jsonl'), 'utf8');
    assert.match(history, /"kind":"rehearse"/);
  });

  it('a release whose migration takes a known time: the migration time is measured', async () => {
    const d = await fresh('team');
    const r = await mmUpgrade(['rehearse', '1.6.0', '--json'], { ...d.botEnv, REHEARSAL_TIMEOUT: '60' });
    assert.equal(r.code, 0, r.stderr);
    const det = (JSON.parse(r.stdout) as JobResult).details as Record<string, number | string>;
    assert.ok(Number(det.migrationMs) >= 2_000, `migration ${det.migrationMs} ms`);
    assert.ok(Number(det.migrationMs) < 30_000, `migration ${det.migrationMs} ms`);
    assert.equal(det.schemaAfter, '1.6.0');
    assert.match(r.stdout, /"rehearse"/);
  });

  it('a target that crashes on start is caught with its log lines, production untouched, nothing left', async () => {
    const d = await fresh('team');
    const prod = await production(d);
    const r = await mmUpgrade(['rehearse', '1.2.0', '--json'], { ...d.botEnv, REHEARSAL_TIMEOUT: '60' });
    assert.equal(r.code, 1, r.stderr);
    const result = JSON.parse(r.stdout) as JobResult;
    assert.equal(result.outcome, 'rolled-back');
    assert.match(result.reason!, /exited with code 1/);
    assert.ok((result.details.logLines as string[]).some((l) => /Failed to apply database migrations/.test(l)), JSON.stringify(result.details));
    assert.deepEqual(await production(d), prod);
    assert.deepEqual((await inventory()).labelled, []);
  });

  it('a target that never becomes ready is stopped at REHEARSAL_TIMEOUT with what it said', async () => {
    const d = await fresh('team');
    const r = await mmUpgrade(['rehearse', '1.3.0', '--json'], { ...d.botEnv, REHEARSAL_TIMEOUT: '8' });
    assert.equal(r.code, 1, r.stderr);
    const result = JSON.parse(r.stdout) as JobResult;
    assert.match(result.reason!, /did not report its version on the copy within 8s/);
    assert.deepEqual((await inventory()).labelled, []);
  });

  it('killed -9 in the middle: the next start removes the copy', async () => {
    const d = await fresh('team');
    const prod = await production(d);
    const job = mmUpgradeBackground(['rehearse', '1.6.0'], { ...d.botEnv, REHEARSAL_TIMEOUT: '60' });
    await job.waitFor(/starting Mattermost 1\.6\.0 on the copy/, 120_000);
    job.child.kill('SIGKILL');
    await job.done;
    assert.notDeepEqual((await inventory()).labelled, [], 'the copy was there when the bot died');
    const s = await mmUpgrade(['status', '--json'], d.botEnv);
    assert.match(s.stderr, /Recovered an interrupted job: rehearse 1\.0\.0 → 1\.6\.0 .*ROLLED-BACK/);
    await waitFor('the copy removed', async () => ((await inventory()).labelled.length === 0 ? true : undefined), { timeoutMs: 20_000, intervalMs: 200 });
    assert.deepEqual(await production(d), prod);
  });

  it('upgrade with REHEARSAL=auto rehearses a minor jump, not a patch', async () => {
    const d = await fresh('team');
    const minor = await mmUpgrade(['upgrade', '1.1.0', '--yes', '--json'], { ...d.botEnv, REHEARSAL: 'auto' });
    assert.equal(minor.code, 0, minor.stderr);
    assert.match(minor.stderr, /✓ Rehearse on a copy of the database .*: 1\.1\.0 started on a copy of the database/);
    assert.match((JSON.parse(minor.stdout) as JobResult).details.rehearsal as string, /production untouched/);
    const patch = await mmUpgrade(['upgrade', '1.1.1', '--yes', '--json'], { ...d.botEnv, REHEARSAL: 'auto' });
    assert.equal(patch.code, 0, patch.stderr);
    assert.match(patch.stderr, /Rehearse on a copy of the database.*skipped.*REHEARSAL=auto: a patch release/);
    assert.deepEqual((await inventory()).labelled, []);
  });

  it('upgrade to a broken release with REHEARSAL=always stops before any downtime, with the target\'s log lines', async () => {
    const d = await fresh('team');
    const prod = await production(d);
    const r = await mmUpgrade(['upgrade', '1.2.0', '--yes', '--json'], { ...d.botEnv, REHEARSAL: 'always' });
    assert.equal(r.code, 1, r.stderr);
    const result = JSON.parse(r.stdout) as JobResult;
    assert.match(result.summary, /failed at Rehearse on a copy of the database/);
    assert.ok((result.details.logLines as string[]).some((l) => /Failed to apply database migrations/.test(l)));
    assert.deepEqual(await production(d), prod, 'production never stopped');
  });
});

describe('rehearsals in chat', () => {
  it('*Rehearse first* under an upgrade plan, /upgrade rehearse for a broken release, and the next plan expects the measured migration', async () => {
    const d = await fresh('team');
    const api = new MattermostApi(d.appUrl);
    const chat = new ChatView(api, await api.seed(WORLD));
    const env = await chatEnv({ ...d.env, REHEARSAL_TIMEOUT: '60' }, { BOT_LOCALE: 'en' });
    env.MM_SLASH_TOKENS = (JSON.parse((await mmUpgrade(['register-command', '--json'], env)).stdout) as { token: string }).token;
    const prod = await production(d);
    const bot = await startBot(env);
    try {
      let since = Date.now();
      await chat.type(TOKENS.admin, '1.6.0');
      const plan = await chat.waitPost('upgrades', since, isPlanPost, 30_000, true);
      assert.deepEqual(actionsOf(plan).map((a) => a.name), ['Upgrade now', 'Rehearse first', 'Cancel']);
      since = Date.now();
      assert.equal((await chat.api.click(TOKENS.admin, plan.id, 'rehearse')).status, 200);
      const passed = await chat.waitPost('upgrades', since, (p) => /^#### ✅ Rehearsal passed: Mattermost 1\.6\.0 started on a copy of the database/.test(p.message), 120_000, true);
      assert.match(passed.message, /\| On the copy \| started in .*, migration \d+(\.\d+)? ?s, dump restored in /);
      assert.match(passed.message, /\| Schema version \| 1\.0\.0 → 1\.6\.0 \|/);
      assert.match(passed.message, /`SiteURL=http:\/\/127\.0\.0\.1:\d+`/);
      assert.deepEqual(actionsOf(passed).map((a) => a.name), ['Plan upgrade to 1.6.0']);
      const decided = (await chat.botPosts('upgrades', true)).find((p) => p.id === plan.id)!;
      assert.match(decided.message, /🧪 Rehearsal started by @pica-admin/);
      assert.deepEqual(actionsOf(decided), [], 'the plan lost its buttons');

      since = Date.now();
      assert.equal((await chat.api.click(TOKENS.admin, passed.id, 'plan')).status, 200);
      const again = await chat.waitPost('upgrades', since, isPlanPost, 30_000, true);
      assert.match(again.message, /\| Expected downtime \| about .*\(a rehearsal of this version measured a migration of \d/);
      assert.equal((await chat.api.click(TOKENS.admin, again.id, 'cancel')).status, 200);

      since = Date.now();
      await chat.type(TOKENS.admin, 'rehearse 1.2.0');
      const rplan = await chat.waitPost('upgrades', since, isPlanPost, 30_000, true);
      assert.match(rplan.message, /Rehearsal plan: Mattermost 1\.0\.0 → \*\*1\.2\.0\*\* on a copy of the database/);
      assert.match(rplan.message, /\| Expected downtime \| none: production keeps serving, untouched \|/);
      assert.deepEqual(actionsOf(rplan).map((a) => a.name), ['Rehearse now', 'Cancel']);
      since = Date.now();
      assert.equal((await chat.api.click(TOKENS.admin, rplan.id, 'confirm')).status, 200);
      const failed = await chat.waitPost('upgrades', since, (p) => /^#### ❌ Rehearsal failed: Mattermost 1\.2\.0 did not start on the copy/.test(p.message), 120_000, true);
      assert.match(failed.message, /Failed to apply database migrations/);
      assert.deepEqual(await production(d), prod, 'production untouched');
      assert.deepEqual((await inventory()).labelled, []);
    } finally {
      if (process.env.SHOW_CHAT) for (const p of await chat.botPosts('upgrades', true)) console.log('POST>', p.message.slice(0, 600));
      if (process.env.SHOW_CHAT) console.log(bot.output().slice(-3000));
      await bot.stop();
    }
  });
});

describe('the size guard', () => {
  it('refuses a rehearsal when the filesystem of Docker\'s data root cannot hold a copy, and leaves nothing', async () => {
    // An engine of its own whose data root is a 700 MB tmpfs: the images fill half of it.
    const root = mkdtempSync(join(bed.root, 'tiny-root-'));
    const data = join(root, 'docker', 'data');
    mkdirSync(data, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=700m', 'tmpfs', data]);
    let dockerd: Awaited<ReturnType<typeof startDockerd>> | undefined;
    let d: Deployment | undefined;
    try {
      dockerd = await startDockerd(root);
      d = await deploy('team', { dockerHost: dockerd.dockerHost, stopDelayMs: 100 });
      const prod = (await run('docker', ['inspect', '--format', '{{.Id}}', d.appContainer, d.dbContainer], { env: { ...process.env, DOCKER_HOST: dockerd.dockerHost } })).stdout;
      const r = await mmUpgrade(['rehearse', '1.1.0', '--json'], { ...d.env, REHEARSAL_TIMEOUT: '30' });
      assert.equal(r.code, 2, r.stderr);
      const result = JSON.parse(r.stdout) as JobResult;
      assert.equal(result.outcome, 'refused');
      assert.match(result.reason!, /not enough free space for a rehearsal where Docker keeps volumes: \d+(\.\d+)? MB free, the database is .* and a copy needs .* with its margin/);
      assert.match(result.hint!, /REHEARSAL=never/);
      const left = (await run('docker', ['ps', '-aq', '--filter', `label=${LABEL}`], { env: { ...process.env, DOCKER_HOST: dockerd.dockerHost } })).stdout.trim();
      const volumes = (await run('docker', ['volume', 'ls', '-q', '--filter', `label=${LABEL}`], { env: { ...process.env, DOCKER_HOST: dockerd.dockerHost } })).stdout.trim();
      assert.equal(left + volumes, '', 'nothing of the rehearsal is left');
      assert.equal((await run('docker', ['inspect', '--format', '{{.Id}}', d.appContainer, d.dbContainer], { env: { ...process.env, DOCKER_HOST: dockerd.dockerHost } })).stdout, prod);
    } finally {
      await d?.down().catch(() => undefined);
      await dockerd?.stop();
      await unmountUnder(root);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
