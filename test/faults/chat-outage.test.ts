/**
 * Fault suite: the Mattermost API unreachable for the whole job. A reverse proxy in front of
 * Mattermost lets the health checks through (ping, client config) and cuts every other API
 * call, from before the job until after it: the job still upgrades, its messages wait in the
 * outbox, and once the API answers again they are delivered, each once, in their order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JobResult } from '../../src/core/events.js';
import { startBot } from '../bed/bot.js';
import { mmUpgrade } from '../bed/cli.js';
import { waitFor } from '../bed/proc.js';
import { MattermostApi } from '../mattermost/client.js';
import { WORLD } from '../mattermost/world.js';
import { botEnv, ChatView, outboxCount } from '../integration/helpers/chat.js';
import { fingerprint, recordCase, withDeployment } from './helpers/faults.js';

const HEALTH = /^\/api\/v4\/(system\/ping|config\/client)(\?|$)/;

/** A loopback proxy to `target`; while `cut`, only the health checks pass, other requests lose their connection. */
async function proxy(target: string): Promise<{ url: string; cut: boolean; cutRequests: number; close(): Promise<void> }> {
  const t = new URL(target);
  const state = { cut: true, cutRequests: 0 };
  const server = createServer((req, res) => {
    if (state.cut && !HEALTH.test(req.url ?? '')) {
      state.cutRequests++;
      req.socket.destroy();
      return;
    }
    const up = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    get cut() {
      return state.cut;
    },
    set cut(v: boolean) {
      state.cut = v;
    },
    get cutRequests() {
      return state.cutRequests;
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

describe('the Mattermost API unreachable for the whole job', () => {
  it('the upgrade from the host goes through; its messages wait in the outbox and are delivered later, once each, in order', () => withDeployment(async (d) => {
    const api = new MattermostApi(d.appUrl);
    const chat = new ChatView(api, await api.seed(WORLD));
    const before = await fingerprint(d);
    const p = await proxy(d.appUrl);
    try {
      const env = await botEnv({ ...d.env, MM_URL: p.url });
      const asked = Date.now();
      const r = await mmUpgrade(['upgrade', '1.1.0', '--yes', '--json'], { ...env, USER: 'ana' });
      const result = JSON.parse(r.stdout) as JobResult;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(result.outcome, 'succeeded');
      assert.match(r.stderr, /chat messages could not be delivered yet \(Mattermost does not answer\)/);
      assert.ok(p.cutRequests > 0, 'the bot did try the API');
      const held = outboxCount(env.STATE_DIR!);
      assert.ok(held >= 3, `${held} messages held`);
      assert.deepEqual(await chat.botPosts('upgrades'), [], 'nothing reached chat during the job');

      // The API answers again; the bot's server delivers what waits.
      p.cut = false;
      const bot = await startBot({ ...env, MM_SLASH_TOKENS: 'outageslashtoken000000000' });
      try {
        await waitFor('an empty outbox', async () => (outboxCount(env.STATE_DIR!) === 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 100 });
      } finally {
        await bot.stop();
      }
      const posts = (await chat.botPosts('upgrades')).filter((x) => x.create_at >= asked).sort((a, b) => a.create_at - b.create_at);
      const progress = posts.filter((x) => /^#### Upgrade finished/.test(x.message));
      const results = posts.filter((x) => /complete: Mattermost 1\.1\.0 is serving/.test(x.message));
      const announcements = (await chat.botPosts('town-square')).filter((x) => x.create_at >= asked && /^Mattermost has been updated to 1\.1\.0/.test(x.message));
      assert.equal(progress.length, 1, 'the progress message once, with its final state');
      assert.equal(results.length, 1, 'the result once');
      assert.equal(announcements.length, 1, 'the announcement once');
      assert.match(progress[0]!.message, /Started by ana \(command line on the host\)\./);
      assert.ok(progress[0]!.create_at <= results[0]!.create_at && results[0]!.create_at <= announcements[0]!.create_at, 'in the order they were written');
      assert.deepEqual(await fingerprint(d), before);
      recordCase({ group: 'Mattermost API', fault: 'unreachable for the whole job (health checks only)', outcome: `succeeded; ${held} messages delivered later, in order`, serving: '1.1.0', rows: 'intact' });
    } finally {
      await p.close();
    }
  }));
});
