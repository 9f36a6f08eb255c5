/**
 * The webhook server's contract with Mattermost, path by path: HTTP 200 with exactly
 * `Content-Type: application/json` and a JSON body everywhere (refusals included), except the
 * 401 for a slash request without the command's token; nothing reaches the service unchecked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createChatApp } from '../../../src/chat/http/app.js';
import type { ActionRequest, SlashRequest } from '../../../src/chat/deps.js';
import { readConfig } from '../../../src/config/index.js';
import { messagesFor } from '../../../src/i18n/index.js';

const TOKEN = 'slashtok00000000000000000a';

describe('webhook server', () => {
  let server: Server;
  let url = '';
  const slash: SlashRequest[] = [];
  const actions: ActionRequest[] = [];
  let fail = false;
  const logged: string[] = [];

  before(async () => {
    const config = readConfig({ MM_URL: 'http://127.0.0.1:1', MM_SLASH_TOKENS: `other-token-1234, ${TOKEN}`, BOT_LOCALE: 'en' });
    const log = { error: (m: string, meta?: object) => void logged.push(`${m} ${JSON.stringify(meta)}`), warn: (m: string, meta?: object) => void logged.push(`${m} ${JSON.stringify(meta)}`), info: () => undefined, debug: () => undefined };
    const service = {
      isStopping: false,
      command: async (r: SlashRequest) => {
        if (fail) throw new Error('boom: /var/lib/secret');
        slash.push(r);
        return { response_type: 'ephemeral' as const, text: `got ${r.text}` };
      },
      action: async (r: ActionRequest) => {
        if (fail) throw new Error('boom');
        actions.push(r);
        return { ephemeral_text: 'clicked' };
      },
    };
    server = createServer(createChatApp({ service, config, messages: messagesFor('en'), log }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => server.close());

  const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();
  const fields = { channel_id: 'c'.repeat(26), channel_name: 'upgrades', command: '/upgrade', team_domain: 'picasoft', team_id: 't'.repeat(26), text: '1.1.0', user_id: 'u'.repeat(26), user_name: 'pica-admin', response_url: 'http://x/hooks/commands/abc', trigger_id: 'x' };

  async function call(path: string, init: RequestInit): Promise<{ status: number; type: string | null; json: Record<string, unknown> }> {
    const res = await fetch(`${url}${path}`, init);
    const type = res.headers.get('content-type');
    const text = await res.text();
    return { status: res.status, type, json: JSON.parse(text) as Record<string, unknown> };
  }
  const post = (path: string, body: string, headers: Record<string, string>) => call(path, { method: 'POST', body, headers });

  it('answers /healthz', async () => {
    const r = await call('/healthz', {});
    assert.deepEqual([r.status, r.type, r.json], [200, 'application/json', { status: 'ok' }]);
  });

  it('takes the token from Authorization: Token, or from the form, as Mattermost sends them', async () => {
    const a = await post('/mattermost/command', form({ ...fields, token: TOKEN }), { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Token ${TOKEN}` });
    assert.deepEqual([a.status, a.type, a.json], [200, 'application/json', { response_type: 'ephemeral', text: 'got 1.1.0' }]);
    const b = await post('/mattermost/command', form({ ...fields, token: TOKEN, text: 'status' }), { 'Content-Type': 'application/x-www-form-urlencoded' });
    assert.equal(b.status, 200);
    const get = await call(`/mattermost/command?${form({ ...fields, token: TOKEN, text: 'help' })}`, { headers: { Authorization: `Token ${TOKEN}` } });
    assert.equal(get.status, 200, 'a command configured as GET works too');
    assert.deepEqual(slash.map((s) => s.text), ['1.1.0', 'status', 'help']);
    assert.deepEqual(slash[0], { userId: 'u'.repeat(26), userName: 'pica-admin', channelId: 'c'.repeat(26), teamId: 't'.repeat(26), command: '/upgrade', text: '1.1.0', responseUrl: 'http://x/hooks/commands/abc' });
  });

  it('refuses a slash request without a listed token with 401, and runs nothing', async () => {
    const before = slash.length;
    for (const [body, headers] of [
      [form({ ...fields, token: 'nope' }), {}],
      [form(fields), {}],
      [form({ ...fields, token: TOKEN }), { Authorization: 'Token wrong' }],
      [form({ ...fields, token: TOKEN.slice(0, -1) }), {}],
    ] as Array<[string, Record<string, string>]>) {
      const r = await post('/mattermost/command', body, { 'Content-Type': 'application/x-www-form-urlencoded', ...headers });
      assert.deepEqual([r.status, r.type], [401, 'application/json']);
      assert.match(String(r.json.text), /does not carry a token/);
      assert.doesNotMatch(JSON.stringify(r.json), new RegExp(TOKEN));
    }
    assert.equal(slash.length, before);
  });

  it('refuses an oversized body, a wrong content type, a malformed body: HTTP 200, JSON, saying why', async () => {
    const before = [slash.length, actions.length];
    const cases: Array<[string, string, Record<string, string>, RegExp, string]> = [
      ['/mattermost/command', form({ ...fields, token: TOKEN, text: 'x'.repeat(70_000) }), { 'Content-Type': 'application/x-www-form-urlencoded' }, /too large/, 'text'],
      ['/mattermost/command', JSON.stringify({ ...fields, token: TOKEN }), { 'Content-Type': 'application/json', Authorization: `Token ${TOKEN}` }, /expected `application\/x-www-form-urlencoded`, got `application\/json`/, 'text'],
      ['/mattermost/command', form({ token: TOKEN }), { 'Content-Type': 'application/x-www-form-urlencoded' }, /lacks the fields/, 'text'],
      ['/mattermost/action', JSON.stringify({ user_id: 'u', context: { pad: 'x'.repeat(70_000) } }), { 'Content-Type': 'application/json' }, /too large/, 'ephemeral_text'],
      ['/mattermost/action', form({ user_id: 'u' }), { 'Content-Type': 'application/x-www-form-urlencoded' }, /expected `application\/json`/, 'ephemeral_text'],
      ['/mattermost/action', '{"user_id": "u", ', { 'Content-Type': 'application/json' }, /not valid JSON/, 'ephemeral_text'],
      ['/mattermost/action', '[1,2]', { 'Content-Type': 'application/json' }, /not valid JSON/, 'ephemeral_text'],
      ['/mattermost/action', '{}', { 'Content-Type': 'application/json' }, /not valid JSON/, 'ephemeral_text'],
    ];
    for (const [path, body, headers, message, key] of cases) {
      const r = await post(path, body, headers);
      assert.deepEqual([r.status, r.type], [200, 'application/json'], `${path} ${headers['Content-Type']}`);
      assert.match(String(r.json[key]), message);
    }
    // Without a Content-Length (chunked), the limit holds while reading.
    const chunked = await call('/mattermost/command', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Token ${TOKEN}` },
      body: new Blob([form({ ...fields, text: 'x'.repeat(70_000) })]).stream(),
      duplex: 'half',
    } as RequestInit);
    assert.deepEqual([chunked.status, chunked.type], [200, 'application/json']);
    assert.match(String(chunked.json.text), /too large/);
    assert.deepEqual([slash.length, actions.length], before);
  });

  it('passes a click on with its context; a failure inside is a JSON 200, never a stack trace', async () => {
    const r = await post('/mattermost/action', JSON.stringify({ user_id: 'u1', channel_id: 'c1', post_id: 'p1', type: 'button', data_source: '', context: { job: 'j' } }), { 'Content-Type': 'application/json' });
    assert.deepEqual([r.status, r.json], [200, { ephemeral_text: 'clicked' }]);
    assert.deepEqual(actions.at(-1), { userId: 'u1', channelId: 'c1', postId: 'p1', context: { job: 'j' } });
    fail = true;
    try {
      const a = await post('/mattermost/action', JSON.stringify({ user_id: 'u1', context: {} }), { 'Content-Type': 'application/json' });
      const c = await post('/mattermost/command', form({ ...fields, token: TOKEN }), { 'Content-Type': 'application/x-www-form-urlencoded' });
      for (const x of [a, c]) {
        assert.deepEqual([x.status, x.type], [200, 'application/json']);
        assert.doesNotMatch(JSON.stringify(x.json), /boom|secret|at .*\.ts/);
      }
    } finally {
      fail = false;
    }
  });

  it('answers anything else with a JSON 404', async () => {
    const r = await call('/mattermost/other', { method: 'POST' });
    assert.deepEqual([r.status, r.type], [404, 'application/json']);
    const g = await call('/mattermost/action', {});
    assert.equal(g.status, 404);
  });
});
