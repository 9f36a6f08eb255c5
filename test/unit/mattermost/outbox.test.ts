/**
 * The outbox against the Mattermost stand-in: in order, patches coalesced, held while the
 * server is down and delivered by the next process, refusals set aside, late slash replies.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineEvent, JobInfo } from '../../../src/core/events.js';
import { buildChatNotifier, buildContext } from '../../../src/main.js';
import { createChatApi } from '../../../src/mattermost/client.js';
import { Outbox } from '../../../src/mattermost/outbox.js';
import { MattermostApi } from '../../mattermost/client.js';
import { startStandIn, type StandInServer } from '../../mattermost/server.js';
import type { World } from '../../mattermost/standin.js';
import { TOKENS, WORLD } from '../../mattermost/world.js';

const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined };

describe('outbox', () => {
  let mm: StandInServer;
  let api: MattermostApi;
  let world: World;
  const outbox = (stateDir: string): Outbox => new Outbox({ stateDir, api: createChatApi(mm.url, TOKENS.bot, { timeoutMs: 2_000 }), team: 'picasoft', log: quiet });

  before(async () => {
    mm = await startStandIn();
    api = new MattermostApi(mm.url);
    world = await api.seed({ ...WORLD, channels: [...WORLD.channels, { name: 'private-ops', display_name: 'ops', members: ['pica-admin'] }] });
  });
  after(() => mm.stop());

  it('delivers in order, a patch after its post, several patches of a post as the newest one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const o = outbox(dir);
    const channel = { id: world.channels.upgrades!.id };
    await o.enqueue({ kind: 'create', key: 'a', channel, message: 'a0' });
    await o.enqueue({ kind: 'patch', key: 'a', message: 'a1' });
    await o.enqueue({ kind: 'create', key: 'b', channel: { name: 'town-square' }, message: 'b0' });
    await o.enqueue({ kind: 'patch', key: 'b', message: 'b1' });
    await o.enqueue({ kind: 'patch', key: 'a', message: 'a2' });
    assert.equal(await o.pending(), 5);
    const r = await o.flush();
    assert.deepEqual(r, { delivered: 2, pending: 0 });
    const posts = (await api.posts()).filter((p) => ['a2', 'b1'].includes(p.message));
    assert.deepEqual(posts.map((p) => [p.message, p.channel_id]), [['a2', channel.id], ['b1', world.channels['town-square']!.id]]);
    await o.enqueue({ kind: 'patch', key: 'a', message: 'a3' });
    await o.enqueue({ kind: 'patch', key: 'a', message: 'a4' });
    assert.deepEqual(await o.flush(), { delivered: 1, pending: 0 });
    const versions = await api.versions(posts[0]!.id);
    assert.deepEqual(versions.map((v) => [v.by, v.message]), [['create', 'a2'], ['patch', 'a4']], 'one create, one coalesced patch');
    assert.equal(await o.knows('a'), true);
    assert.equal(await o.knows('zzz'), false);
  });

  it('holds what Mattermost cannot take while it is down; the next process delivers it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const first = outbox(dir);
    await mm.stop();
    try {
      await first.enqueue({ kind: 'create', key: 'progress:j1', channel: { id: world.channels.upgrades!.id }, message: 'started' });
      await first.enqueue({ kind: 'patch', key: 'progress:j1', message: 'switching' });
      await first.enqueue({ kind: 'create', key: 'result:j1', channel: { id: world.channels.upgrades!.id }, message: 'done' });
      const r = await first.flush();
      assert.equal(r.pending, 3);
      assert.match(r.error ?? '', /ECONNREFUSED|fetch failed/);
    } finally {
      await mm.start();
    }
    const second = outbox(dir);
    assert.equal(await second.drain(Date.now() + 5_000), 0);
    const mine = (await api.posts(world.channels.upgrades!.id)).filter((p) => ['switching', 'done'].includes(p.message));
    assert.deepEqual(mine.map((p) => p.message), ['switching', 'done']);
  });

  it('cuts a message longer than Mattermost takes, rather than losing it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const o = outbox(dir);
    await o.enqueue({ kind: 'create', key: 'long', channel: { id: world.channels.upgrades!.id }, message: `${'é'.repeat(20_000)}` });
    assert.deepEqual(await o.flush(), { delivered: 1, pending: 0 });
    const post = (await api.posts(world.channels.upgrades!.id)).at(-1)!;
    assert.equal([...post.message].length, 16_383);
    assert.ok(post.message.endsWith('\n…'));
  });

  it('never posts a message twice when it cannot write down that it was posted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
    mkdirSync(join(dir, 'outbox', 'posts.json'), { recursive: true });
    const o = outbox(dir);
    await o.enqueue({ kind: 'create', key: 'once', channel: { id: world.channels.upgrades!.id }, message: 'only once' });
    await o.flush();
    await o.enqueue({ kind: 'patch', key: 'once', message: 'only once, edited' });
    await o.flush();
    await o.flush();
    const mine = (await api.posts(world.channels.upgrades!.id)).filter((p) => p.message.startsWith('only once'));
    assert.deepEqual(mine.map((p) => p.message), ['only once, edited'], 'one post, edited by this process');
  });

  it('sets aside what Mattermost refuses for good, and goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const o = outbox(dir);
    await o.enqueue({ kind: 'create', key: 'x', channel: { id: world.channels['private-ops']!.id }, message: 'bot not a member' });
    await o.enqueue({ kind: 'create', key: 'y', channel: { name: 'no-such-channel' }, message: 'nowhere' });
    await o.enqueue({ kind: 'create', key: 'z', channel: { id: world.channels.upgrades!.id }, message: 'fine' });
    assert.deepEqual(await o.flush(), { delivered: 1, pending: 0 });
    assert.equal(readdirSync(join(dir, 'outbox', 'refused')).length, 2);
  });

  it('answers a slash command late through its response_url, unless it expired', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const o = outbox(dir);
    const receiver = await api.call<{ id: string }>('POST', '/api/v4/commands', { team_id: world.team.id, trigger: 'late', method: 'P', url: `${mm.url}/nowhere`, auto_complete: false }, TOKENS.bot);
    assert.equal(receiver.status, 201);
    await api.execute(TOKENS.admin, world.channels.upgrades!.id, '/late now');
    const call = (await api.calls()).at(-1)!;
    const path = new URL(Object.fromEntries(new URLSearchParams(call.requestBody)).response_url!).pathname;
    const since = Date.now();
    await o.enqueue({ kind: 'respond', key: 'r1', path, body: { response_type: 'ephemeral', text: 'too late' }, expiresAt: Date.now() - 1 });
    await o.enqueue({ kind: 'respond', key: 'r2', path, body: { response_type: 'ephemeral', text: 'in time' }, expiresAt: Date.now() + 60_000 });
    assert.deepEqual(await o.flush(), { delivered: 2, pending: 0 });
    const eph = (await api.ephemerals(world.users['pica-admin']!.id)).filter((e) => e.create_at >= since);
    assert.deepEqual(eph.map((e) => e.message), ['in time']);
  });

  it('lets the CLI leave what it could not deliver to the next run', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'cli-chat-'));
    const ctx = buildContext('cli', { env: { MM_URL: mm.url, MM_BOT_TOKEN: TOKENS.bot, MM_TEAM: 'picasoft', MM_ADMIN_CHANNEL: 'upgrades', STATE_DIR: stateDir, LOG_LEVEL: 'error', DOCKER_HOST: 'unix:///nonexistent.sock' } });
    await mm.stop();
    let left: number;
    try {
      const notifier = buildChatNotifier(ctx)!;
      const job: JobInfo = { id: 'j-cli', kind: 'upgrade', owner: 'cli:ana', startedAt: new Date().toISOString(), title: 'upgrade 1.0.0 → 1.1.0', subject: { from: '1.0.0', to: '1.1.0' } };
      const events: EngineEvent[] = [
        { type: 'job-started', job, steps: [{ id: 'validate', title: 'Check the request' }], plan: [] },
        { type: 'step-started', job, step: { id: 'validate', title: 'Check the request' }, index: 0, total: 1 },
        { type: 'step-done', job, step: { id: 'validate', title: 'Check the request' }, durationMs: 5 },
        { type: 'job-finished', result: { job, outcome: 'succeeded', summary: '', details: { from: '1.0.0', to: '1.1.0', changelog: 'https://example.invalid/v1' }, warnings: [], manualSteps: [], finishedAt: new Date().toISOString(), durationMs: 10 } },
      ];
      for (const e of events) notifier.sink(e);
      const done = await notifier.finish(300);
      assert.equal(done.wrote, true);
      left = done.left;
    } finally {
      await mm.start();
    }
    assert.ok(left > 0, 'nothing could be delivered while Mattermost was down');
    const next = new Outbox({ stateDir, api: createChatApi(mm.url, TOKENS.bot), team: 'picasoft', log: quiet });
    assert.equal(await next.drain(Date.now() + 5_000), 0);
    const texts = (await api.posts()).map((p) => p.message);
    assert.ok(texts.some((t) => /^#### Upgrade finished: 1\.0\.0 → 1\.1\.0\nStarted by ana \(command line on the host\)\./.test(t)));
    assert.ok(texts.includes("Mattermost has been updated to 1.1.0 — what's new: https://example.invalid/v1"));
    assert.equal(existsSync(join(stateDir, 'outbox', 'refused')), false);
  });
});
