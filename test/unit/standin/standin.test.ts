/**
 * The Mattermost API stand-in must refuse what the real server refuses, and send what it
 * sends: checked against the recordings of a real 5.35.4 server (../shared/mattermost-captures)
 * and the rules of the server's handlers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MattermostApi } from '../../mattermost/client.js';
import { goFormEncode } from '../../mattermost/integrations.js';
import { startStandIn, type StandInServer } from '../../mattermost/server.js';
import type { World } from '../../mattermost/standin.js';
import { TOKENS, WORLD } from '../../mattermost/world.js';

/** Copied from ../shared/mattermost-captures/ (recorded from a real 5.35.4 server). */
const CAPTURES = new URL('../../fixtures/mattermost-captures/', import.meta.url).pathname;
const capture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(`${CAPTURES}${name}`, 'utf8')) as Record<string, unknown>;

/** An integration whose answer each test sets; it records what it received. */
class Receiver {
  server!: Server;
  url = '';
  received: Array<{ method: string; url: string; headers: string[]; body: string }> = [];
  answer: { status: number; contentType?: string; body: string } = { status: 200, contentType: 'application/json', body: '{}' };

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        this.received.push({ method: req.method!, url: req.url!, headers: req.rawHeaders, body });
        res.writeHead(this.answer.status, this.answer.contentType ? { 'Content-Type': this.answer.contentType } : {});
        res.end(this.answer.body);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

describe('Mattermost API stand-in', () => {
  let mm: StandInServer;
  let api: MattermostApi;
  let world: World;
  const receiver = new Receiver();
  let channel: string;

  before(async () => {
    await receiver.start();
    mm = await startStandIn({ flavour: '5' });
    api = new MattermostApi(mm.url);
    world = await api.seed(WORLD);
    channel = world.channels.upgrades!.id;
    const created = await api.call<Record<string, unknown>>('POST', '/api/v4/commands', { team_id: world.team.id, trigger: 'upgrade', method: 'P', url: `${receiver.url}/slash`, auto_complete: true }, TOKENS.bot);
    assert.equal(created.status, 201);
  });

  after(async () => {
    await mm.stop();
    receiver.server.close();
  });

  it('demands a Bearer token and answers with Mattermost-shaped errors', async () => {
    const r = await api.call<Record<string, unknown>>('GET', '/api/v4/users/me');
    assert.equal(r.status, 401);
    assert.deepEqual(Object.keys(r.body).sort(), ['detailed_error', 'id', 'message', 'request_id', 'status_code']);
    assert.equal(r.body.id, 'api.context.session_expired.app_error');
    assert.equal(r.body.status_code, 401);
    const me = await api.call<Record<string, unknown>>('GET', '/api/v4/users/me', undefined, TOKENS.bot);
    assert.equal(me.body.is_bot, true);
    assert.equal(me.body.roles, 'system_user');
    const admin = await api.call<Record<string, unknown>>('GET', `/api/v4/users/${world.users['pica-admin']!.id}`, undefined, TOKENS.bot);
    assert.equal(admin.body.roles, 'system_admin system_user');
    assert.equal('is_bot' in admin.body, false, 'is_bot is left out when false');
    const missing = await api.call<Record<string, unknown>>('GET', '/api/v4/nothing/here', undefined, TOKENS.bot);
    assert.deepEqual([missing.status, missing.body.id], [404, 'api.context.404.app_error']);
    const res = await fetch(`${mm.url}/api/v4/users/me`, { headers: { Authorization: `Bearer ${TOKENS.bot}` } });
    assert.equal(res.headers.get('content-type'), 'application/json', 'exactly, as Client4 requires');
  });

  it('sends a slash command exactly as the recorded 5.35 server did: headers in order, form sorted and encoded like Go', async () => {
    const recorded = (capture('slash-command-results.json')['200-in_channel'] as { receiver_captures: Array<{ raw_headers: string[]; body_text: string; form: Record<string, string> }> }).receiver_captures[0]!;
    assert.equal(goFormEncode(recorded.form), recorded.body_text);
    receiver.answer = { status: 200, contentType: 'application/json', body: '{"response_type":"ephemeral","text":"ok"}' };
    const r = await api.execute(TOKENS.admin, channel, '/upgrade 5.36.1');
    assert.equal(r.status, 200);
    const got = receiver.received.at(-1)!;
    const names = (h: string[]): string[] => h.filter((_, i) => i % 2 === 0);
    assert.deepEqual(names(got.headers).filter((n) => n !== 'Connection'), names(recorded.raw_headers));
    assert.deepEqual([...new URLSearchParams(got.body).keys()], Object.keys(recorded.form).sort());
    const fields = Object.fromEntries(new URLSearchParams(got.body));
    assert.equal(fields.command, '/upgrade');
    assert.equal(fields.text, '5.36.1');
    assert.match(fields.response_url!, new RegExp(`^${mm.url}/hooks/commands/[a-z0-9]{26}$`));
    assert.ok(got.headers.includes(`Token ${fields.token}`));
  });

  it('treats a non-200, an empty or a non-JSON body as the server does', async () => {
    const results = capture('slash-command-results.json') as Record<string, { execute_response: { id: string; message: string } }>;
    const cases: Array<[typeof receiver.answer, string]> = [
      [{ status: 404, body: '' }, '404'],
      [{ status: 500, contentType: 'application/json', body: '{"text":"x"}' }, '500'],
      [{ status: 200, contentType: 'application/json', body: 'plain text, not JSON' }, '200-non-json'],
      [{ status: 200, contentType: 'application/json', body: '' }, '200-empty'],
    ];
    for (const [answer, name] of cases) {
      receiver.answer = answer;
      const r = await api.execute(TOKENS.admin, channel, '/upgrade 5.36.1');
      assert.equal(r.status, 500, name);
      assert.equal(r.body.id, results[name]!.execute_response.id, name);
      assert.equal(r.body.message, results[name]!.execute_response.message, name);
    }
    // A body that is not declared as JSON is shown as it is, ephemeral.
    receiver.answer = { status: 200, contentType: 'text/plain', body: '{"response_type":"in_channel","text":"hello"}' };
    const since = Date.now();
    assert.equal((await api.execute(TOKENS.admin, channel, '/upgrade x')).status, 200);
    const eph = (await api.ephemerals(world.users['pica-admin']!.id)).filter((e) => e.create_at >= since);
    assert.equal(eph.at(-1)!.message, '{"response_type":"in_channel","text":"hello"}');
    // in_channel: a post by the person who typed, marked from_webhook.
    receiver.answer = { status: 200, contentType: 'application/json', body: '{"response_type":"in_channel","text":"visible"}' };
    await api.execute(TOKENS.admin, channel, '/upgrade y');
    const post = (await api.posts(channel)).at(-1)!;
    assert.deepEqual([post.user_id, post.message, post.props.from_webhook], [world.users['pica-admin']!.id, 'visible', 'true']);
  });

  it('lets a response_url post at most 5 times', async () => {
    receiver.answer = { status: 200, contentType: 'application/json', body: '{}' };
    await api.execute(TOKENS.admin, channel, '/upgrade z');
    const url = Object.fromEntries(new URLSearchParams(receiver.received.at(-1)!.body)).response_url!;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text: `late ${i}` }) });
      statuses.push(r.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 400]);
  });

  it('keeps posts within the server limits and lets a bot patch its own posts only', async () => {
    const long = await api.call<Record<string, unknown>>('POST', '/api/v4/posts', { channel_id: channel, message: 'x'.repeat(16384) }, TOKENS.bot);
    assert.deepEqual([long.status, long.body.id], [400, 'model.post.is_valid.message_length.app_error']);
    const own = await api.call<Record<string, unknown>>('POST', '/api/v4/posts', { channel_id: channel, message: 'hello' }, TOKENS.bot);
    assert.equal(own.status, 201);
    assert.equal((own.body.props as Record<string, unknown>).from_bot, 'true');
    const patched = await api.call<Record<string, unknown>>('PUT', `/api/v4/posts/${own.body.id}/patch`, { message: 'edited' }, TOKENS.bot);
    assert.equal(patched.status, 200);
    assert.ok((patched.body.edit_at as number) > 0);
    const others = (await api.posts(channel)).find((p) => p.user_id === world.users['pica-admin']!.id)!;
    const refused = await api.call<Record<string, unknown>>('PUT', `/api/v4/posts/${others.id}/patch`, { message: 'no' }, TOKENS.bot);
    const recorded = capture('post-patch.json').patch_admin_post_as_bot as { status: number; json: { id: string; message: string } };
    assert.deepEqual([refused.status, refused.body.id, refused.body.message], [recorded.status, recorded.json.id, recorded.json.message]);
    const notMember = await api.call<Record<string, unknown>>('POST', '/api/v4/posts', { channel_id: 'x'.repeat(26), message: 'hello' }, TOKENS.bot);
    assert.equal(notMember.status, 403);
  });

  it('sends a button click as the server does, and applies the reply the 5.x way', async () => {
    const recorded = capture('button-confirm.json') as { receiver_captures: Array<{ raw_headers: string[]; json: Record<string, unknown> }>; post_after: { props: Record<string, unknown> } };
    const post = await api.call<{ id: string }>(
      'POST',
      '/api/v4/posts',
      { channel_id: channel, message: 'Upgrade?', props: { attachments: [{ actions: [{ id: 'confirm', type: 'button', name: 'Confirm', style: 'primary', integration: { url: `${receiver.url}/action`, context: { action: 'confirm', secret: 'ctx-123' } } }, { id: 'bad-id', name: 'x', integration: { url: `${receiver.url}/action` } }] }] } },
      TOKENS.bot,
    );
    const stored = (await api.posts(channel)).find((p) => p.id === post.body.id)!;
    assert.equal(((stored.props.attachments as Array<{ actions: Array<Record<string, unknown>> }>)[0]!.actions[0]!).integration, undefined, 'integration is stripped from what clients see');
    receiver.answer = { status: 200, contentType: 'application/json', body: '' };
    const empty = await api.click(TOKENS.admin, post.body.id, 'confirm');
    assert.deepEqual([empty.status, empty.body.id], [400, 'api.post.do_action.action_integration.app_error'], 'an empty body is an error on 5.x');
    const sent = receiver.received.at(-1)!;
    const names = (h: string[]): string[] => h.filter((_, i) => i % 2 === 0).filter((n) => n !== 'Connection');
    assert.deepEqual(names(sent.headers), names(recorded.receiver_captures[0]!.raw_headers));
    assert.deepEqual(Object.keys(JSON.parse(sent.body) as object), Object.keys(recorded.receiver_captures[0]!.json));
    assert.equal((await api.click(TOKENS.admin, post.body.id, 'bad-id')).status, 404, 'ids with a dash do not match the route');
    receiver.answer = { status: 500, contentType: 'application/json', body: '{"update":{"message":"x"}}' };
    assert.equal((await api.click(TOKENS.admin, post.body.id, 'confirm')).status, 400);
    receiver.answer = { status: 200, contentType: 'application/json', body: '{"update":{"message":"Confirmed"},"ephemeral_text":"started"}' };
    const ok = await api.click(TOKENS.admin, post.body.id, 'confirm');
    assert.deepEqual([ok.status, ok.body.status], [200, 'OK']);
    const after = (await api.posts(channel)).find((p) => p.id === post.body.id)!;
    assert.equal(after.message, 'Confirmed');
    assert.equal(after.props.attachments, undefined, 'an update without props removes the buttons on 5.x');
    assert.equal(recorded.post_after.props.attachments, null);
    assert.equal((await api.click(TOKENS.admin, post.body.id, 'confirm')).status, 404, 'no button left to click');
    assert.equal((await api.click(TOKENS.alice, 'y'.repeat(26), 'confirm')).status, 403);
  });

  it('refuses to call an internal address unless AllowedUntrustedInternalConnections lets it', async () => {
    await api.settings({ allowedUntrusted: '' });
    const r = await api.execute(TOKENS.admin, channel, '/upgrade 1.0.0');
    assert.deepEqual([r.status, r.body.id], [500, 'api.command.execute_command.failed.app_error']);
    assert.match((await api.calls()).at(-1)!.error!, /address forbidden, you may need to set AllowedUntrustedInternalConnections/);
    await api.settings({ allowedUntrusted: '127.0.0.0/8' });
    const allowed = await api.execute(TOKENS.admin, channel, '/upgrade 1.0.0');
    assert.equal(allowed.status, 200, JSON.stringify([allowed.body, (await api.calls()).at(-1)]));
  });

  it('stops and starts again with its posts', async () => {
    const before = (await api.posts()).length;
    await mm.stop();
    await assert.rejects(fetch(`${mm.url}/api/v4/system/ping`));
    await mm.start();
    assert.equal((await api.posts()).length, before);
  });
});
