/**
 * Chat's conversation without Docker: the real webhook server, service, pending store,
 * outbox, reporter and job runner, driven through the Mattermost stand-in's own slash-command
 * and button machinery; only the planner and the job's steps are stand-ins for the engine.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Authorizer } from '../../../src/chat/authorize.js';
import { createChatApp } from '../../../src/chat/http/app.js';
import { PendingStore } from '../../../src/chat/pending.js';
import type { Planner } from '../../../src/chat/planner.js';
import { ChatService } from '../../../src/chat/service.js';
import { BadInputError } from '../../../src/common/errors.js';
import { readConfig, type Config } from '../../../src/config/index.js';
import { JobRunner } from '../../../src/core/plan/runner.js';
import type { JobDefinition } from '../../../src/core/plan/step.js';
import type { EngineDeps } from '../../../src/core/upgrade/deps.js';
import type { UpgradeState } from '../../../src/core/upgrade/state.js';
import { messagesFor } from '../../../src/i18n/index.js';
import { createChatApi } from '../../../src/mattermost/client.js';
import { Outbox } from '../../../src/mattermost/outbox.js';
import { ChatReporterHub, createChatReporter } from '../../../src/mattermost/reporter.js';
import { acquireJobLock, releaseJobLock, updateJobLock } from '../../../src/state/job-lock.js';
import { MattermostApi } from '../../mattermost/client.js';
import { startStandIn, type StandInServer } from '../../mattermost/server.js';
import type { World } from '../../mattermost/standin.js';
import { TOKENS, WORLD } from '../../mattermost/world.js';
import { waitFor } from '../../bed/proc.js';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

function fakeState(target: string): UpgradeState {
  const move = (role: 'app' | 'db', repo: string) => ({ role, service: role === 'app' ? 'mattermost' : 'mattermost-db', container: `pica-${role}`, repository: repo, fromTag: '1.0.0', toTag: target, fromRef: `${repo}:1.0.0`, toRef: `${repo}:${target}`, fromImageId: 'sha256:a', toImageId: undefined, moves: true, recreate: false, spec: undefined });
  return { kind: 'upgrade', from: '1.0.0', target, force: false, restoreDump: undefined, files: { files: [], envFile: '' } as unknown as UpgradeState['files'], project: 'pica', app: move('app', 'reg/pica-mattermost'), db: move('db', 'reg/pica-mattermost-db'), backup: undefined, appStoppedAt: undefined, healthyAt: undefined, logLines: [], changelog: `https://example.invalid/changelog/${target}`, removedImages: [], savedFiles: [] };
}

describe('chat conversation (engine stood in)', () => {
  let mm: StandInServer;
  let api: MattermostApi;
  let world: World;
  let server: Server;
  let service: ChatService;
  let config: Config;
  let stateDir: string;
  let clock = Date.now();
  let releasePlanning: (() => void) | undefined;
  let stepGate: Promise<void> = Promise.resolve();

  const planner: Planner = {
    plan: async (request, requestedBy) => {
      if (releasePlanning) await new Promise<void>((resolve) => (releasePlanning = resolve));
      if (request.target === '0.9.0') throw new BadInputError('0.9.0 is older', undefined, { key: 'upgrade.older', params: { target: '0.9.0', from: '1.0.0' } });
      return { kind: request.kind, ...(request.target ? { state: fakeState(request.target) } : {}), newestBackup: undefined, history: [], requestedBy, now: clock };
    },
    job: async (request, owner) =>
      ({
        kind: 'upgrade',
        owner,
        title: `upgrade 1.0.0 → ${request.target}`,
        subject: { from: '1.0.0', to: request.target },
        plan: [],
        state: {},
        steps: [
          { id: 'validate', title: 'Check the request', run: async () => undefined },
          {
            id: 'switch',
            title: 'Switch',
            run: async (ctx) => {
              for (let i = 0; i < 30; i++) ctx.progress('pulling', { current: i, total: 30, unit: 'bytes' });
              await stepGate;
            },
          },
        ],
        succeeded: () => ({ summary: 'ok', details: { from: '1.0.0', to: request.target, changelog: `https://example.invalid/changelog/${request.target}`, downtimeMs: 1234 } }),
      }) as JobDefinition<unknown>,
  };

  before(async () => {
    mm = await startStandIn();
    api = new MattermostApi(mm.url);
    world = await api.seed({ ...WORLD, channels: [...WORLD.channels, { name: 'no-bot-here', display_name: 'No bot', members: ['pica-admin'] }] });
    stateDir = mkdtempSync(join(tmpdir(), 'chat-service-'));
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const created = await api.call<{ token: string }>('POST', '/api/v4/commands', { team_id: world.team.id, trigger: 'upgrade', method: 'P', url: `http://127.0.0.1:${port}/mattermost/command`, auto_complete: true }, TOKENS.bot);
    config = readConfig(
      { MM_URL: mm.url, MM_BOT_TOKEN: TOKENS.bot, MM_SLASH_TOKENS: created.body.token, MM_TEAM: 'picasoft', BOT_SECRET: 's'.repeat(40), PORT: String(port), BOT_PUBLIC_URL: `http://127.0.0.1:${port}`, MM_ADMIN_CHANNEL: 'upgrades', STATE_DIR: stateDir, CONFIRM_TTL: '10m', TZ: 'UTC' },
      { purpose: 'serve' },
    );
    const chatApi = createChatApi(mm.url, TOKENS.bot);
    const messages = messagesFor('en');
    const outbox = new Outbox({ stateDir, api: chatApi, team: 'picasoft', log: quiet });
    const hub = new ChatReporterHub((job) => createChatReporter({ outbox, messages, timeZone: 'UTC', channel: job.replyTo ? { id: job.replyTo.channelId } : { name: 'upgrades' }, announceChannel: { name: 'town-square' }, throttleMs: 200 }));
    const runner = new JobRunner({ stateDir, undoHandlers: {}, emit: hub.sink });
    service = new ChatService({
      config,
      messages,
      api: chatApi,
      outbox,
      runner,
      engine: {} as EngineDeps,
      pending: new PendingStore(stateDir),
      authorizer: new Authorizer(chatApi, config.mattermost.allowedUsers),
      planner,
      status: async () => {
        throw new Error('no docker here');
      },
      log: quiet,
      now: () => clock,
    });
    server.on('request', createChatApp({ service, config, messages, log: quiet }));
    outbox.start();
  });

  after(async () => {
    server.close();
    await mm.stop();
  });

  const type = async (token: string, text: string): Promise<string> => {
    const r = await api.execute(token, world.channels.upgrades!.id, `/upgrade ${text}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return String(r.body.text);
  };
  const botPosts = async () => (await api.posts(world.channels.upgrades!.id, true)).filter((p) => p.user_id === world.users['upgrade-bot']!.id);
  const plans = async () => (await botPosts()).filter((p) => Array.isArray(p.props.attachments) && (p.props.attachments as unknown[]).length > 0);

  it('/upgrade build without BUILD_CONTEXT says what to set, or to build on the host; a missing version says what to type', async () => {
    assert.match(await type(TOKENS.admin, 'build 1.2.3'), /`\/upgrade build` needs `BUILD_CONTEXT` \(the upstream checkout on the host\).*`mm-upgrade build X\.Y\.Z --context <dir> --push`/);
    assert.match(await type(TOKENS.admin, 'build'), /Which version\? Type `\/upgrade build X\.Y\.Z` with the exact version/);
    assert.match(await type(TOKENS.admin, 'build v10.11'), /`v10\.11` is not a release number\. Type `\/upgrade build X\.Y\.Z` with the exact version, for example `\/upgrade build 10\.11\.0`/);
    assert.equal((await plans()).length, 0);
  });

  it('says a plan is on its way, refuses a second request meanwhile, then posts the plan with its signed buttons (an upgrade may be rehearsed first)', async () => {
    let released = false;
    releasePlanning = () => (released = true);
    assert.match(await type(TOKENS.admin, '1.1.0'), /^Preparing the plan for the upgrade to 1\.1\.0/);
    assert.match(await type(TOKENS.admin, '1.1.0'), /A plan is being prepared for @pica-admin/);
    assert.equal(released, false);
    const release = releasePlanning;
    releasePlanning = undefined;
    release();
    const plan = await waitFor('the plan', async () => (await plans())[0]);
    assert.match(plan.message, /^#### Upgrade plan: Mattermost 1\.0\.0 → \*\*1\.1\.0\*\*\nAsked by @pica-admin\./);
    const actions = (plan.props.attachments as Array<{ actions: Array<{ id: string; integration: { url: string; context: Record<string, unknown> } }> }>)[0]!.actions;
    assert.deepEqual(actions.map((a) => a.id), ['confirm', 'rehearse', 'cancel']);
    assert.deepEqual(Object.keys(actions[0]!.integration.context).sort(), ['action', 'exp', 'job', 'nonce', 'sig']);
    assert.equal(actions[0]!.integration.context.exp, clock + 600_000);
    assert.match(await type(TOKENS.admin, 'backup'), /A confirmation is already waiting: \*\*Upgrade 1\.0\.0 → 1\.1\.0\*\*, asked by @pica-admin/);
  });

  it('names a job the command line is running, with its owner and step', async () => {
    const lock = await acquireJobLock(stateDir, { jobId: 'cli-job', kind: 'restore', owner: 'cli:ana', title: 'restore /srv/backups/mattermost-1.0.0-20261125T030012Z.dump', startedAt: new Date(Date.UTC(2026, 10, 25, 3, 0)).toISOString() });
    assert.ok(lock.acquired);
    await updateJobLock(stateDir, lock.lock, 'stop-app');
    try {
      assert.equal(await type(TOKENS.admin, '1.1.0'), 'Another job is running: **Restore `mattermost-1.0.0-20261125T030012Z.dump`**, started by ana (command line on the host) at 03:00, now at step *Stop Mattermost*. Wait for it to finish (`/upgrade status` shows it).');
      const plan = (await plans())[0]!;
      assert.equal((await api.click(TOKENS.admin, plan.id, 'confirm')).status, 200);
      const eph = (await api.ephemerals(world.users['pica-admin']!.id)).at(-1)!;
      assert.match(eph.message, /^Another job is running: \*\*Restore/);
      assert.equal((await plans()).length, 1, 'the buttons stay for later');
    } finally {
      await releaseJobLock(stateDir, 'cli-job');
    }
  });

  it('runs the job on a click, reports it in one post patched at most every 200 ms, then the result and the announcement', async () => {
    let release: () => void = () => undefined;
    stepGate = new Promise<void>((r) => (release = r));
    const plan = (await plans())[0]!;
    assert.equal((await api.click(TOKENS.alice, plan.id, 'confirm')).status, 200);
    assert.match((await api.ephemerals(world.users.alice!.id)).at(-1)!.message, /@alice, you are not allowed to decide on this/);
    const t0 = Date.now();
    assert.equal((await api.click(TOKENS.admin, plan.id, 'confirm')).status, 200);
    const progress = await waitFor('the progress post', async () => (await botPosts()).find((p) => p.message.startsWith('#### Upgrade in progress')));
    await new Promise((r) => setTimeout(r, 500));
    release();
    await waitFor('the result', async () => (await botPosts()).find((p) => p.message.startsWith('#### ✅ Upgrade complete: Mattermost 1.1.0 is serving')));
    const elapsed = Date.now() - t0;
    const versions = await api.versions(progress.id);
    assert.ok(versions.length >= 2, 'patched in place');
    assert.ok(versions.length <= Math.ceil(elapsed / 200) + 2, `${versions.length} versions in ${elapsed} ms: throttled`);
    assert.match(versions.at(-1)!.message, /^#### Upgrade finished: 1\.0\.0 → 1\.1\.0\nStarted by @pica-admin\.\n\n✅ Check the request\n✅ Switch/);
    const announce = await waitFor('the announcement', async () => (await api.posts(world.channels['town-square']!.id)).find((p) => p.user_id === world.users['upgrade-bot']!.id));
    assert.equal(announce.message, "Mattermost has been updated to 1.1.0 — what's new: https://example.invalid/changelog/1.1.0");
    assert.equal((await api.click(TOKENS.admin, plan.id, 'confirm')).status, 404, 'the buttons are gone');
  });

  it('answers a refusal found while planning to the person who asked only', async () => {
    const since = Date.now();
    assert.match(await type(TOKENS.admin, '0.9.0'), /Preparing the plan/);
    const late = await waitFor('the late answer', async () => (await api.ephemerals(world.users['pica-admin']!.id)).find((e) => e.create_at >= since && e.source === 'response_url'));
    assert.match(late.message, /^0\.9\.0 is older than the running 1\.0\.0/);
  });

  it('takes the buttons off a plan nobody decided on once it expires', async () => {
    await type(TOKENS.admin, 'backup');
    const plan = await waitFor('the backup plan', async () => (await plans()).find((p) => /Backup plan/.test(p.message)));
    clock += 11 * 60_000;
    await service.decisions.sweep();
    await waitFor('the plan without buttons', async () => {
      const p = (await api.posts(world.channels.upgrades!.id)).find((x) => x.id === plan.id)!;
      return /⌛ Expired at \d\d:\d\d\. Nothing was changed\./.test(p.message) && p.props.attachments === undefined ? true : undefined;
    });
    assert.match(await type(TOKENS.admin, 'cancel'), /There is no pending confirmation to cancel/);
  });

  it('tells the person who asked when the plan cannot be posted in their channel', async () => {
    const since = Date.now();
    const r = await api.execute(TOKENS.admin, world.channels['no-bot-here']!.id, '/upgrade 1.1.0');
    assert.match(String(r.body.text), /Preparing the plan/);
    const late = await waitFor('the late answer', async () => (await api.ephemerals(world.users['pica-admin']!.id)).find((e) => e.create_at >= since && e.source === 'response_url'));
    assert.match(late.message, /I could not post the plan in this channel: Mattermost refused it\. Add the bot to the channel/);
    assert.match(await type(TOKENS.admin, 'cancel'), /There is no pending confirmation to cancel/, 'nothing waits for a plan nobody can see');
  });

  it('takes no command once it is stopping', async () => {
    await service.stop(100);
    assert.match(await type(TOKENS.admin, '1.1.0'), /The bot is restarting/);
    assert.match(await type(TOKENS.alice, 'help'), /upgrades this Mattermost safely/, 'help still answers');
  });
});

describe('who may run and confirm', () => {
  it('is the UPGRADE_ALLOWED_USERS list when set, else system admins; usernames come from Mattermost', async () => {
    const mm = await startStandIn();
    try {
      const world = await new MattermostApi(mm.url).seed(WORLD);
      const api = createChatApi(mm.url, TOKENS.bot);
      const admins = new Authorizer(api, []);
      const listed = new Authorizer(api, ['ops-volunteer']);
      const ids = (name: string) => world.users[name]!.id;
      assert.deepEqual(await admins.check(ids('pica-admin')), { allowed: true, username: 'pica-admin' });
      assert.deepEqual(await admins.check(ids('ops-volunteer')), { allowed: false, username: 'ops-volunteer' });
      assert.deepEqual(await listed.check(ids('ops-volunteer')), { allowed: true, username: 'ops-volunteer' });
      assert.deepEqual(await listed.check(ids('pica-admin')), { allowed: false, username: 'pica-admin' });
      await assert.rejects(admins.check('x'.repeat(26)));
      // Only a user id is looked up: not another API path that would name the bot itself or someone else.
      const asAdmin = new Authorizer(createChatApi(mm.url, TOKENS.admin), []);
      for (const id of ['me', `../users/${ids('pica-admin')}`, `${ids('alice')}/../${ids('pica-admin')}`, `${ids('pica-admin')}?x=1`, `${ids('alice')}/`, '']) {
        await assert.rejects(asAdmin.check(id), /not a Mattermost user id/, id);
      }
    } finally {
      await mm.stop();
    }
  });
});
