/**
 * `serve` as a whole, in this process, against the Mattermost stand-in: it registers the
 * command at start when told to and accepts its token, answers /healthz, and stops cleanly.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildContext } from '../../../src/main.js';
import { serve } from '../../../src/serve.js';
import { freePort, waitFor } from '../../bed/proc.js';
import { MattermostApi } from '../../mattermost/client.js';
import { startStandIn } from '../../mattermost/server.js';
import { TOKENS, WORLD } from '../../mattermost/world.js';

describe('serve', () => {
  it('registers /upgrade at start with MM_REGISTER_COMMAND=true, takes its token, and stops on request', async () => {
    const mm = await startStandIn();
    try {
      const api = new MattermostApi(mm.url);
      const world = await api.seed(WORLD);
      const port = await freePort();
      const ctx = buildContext('serve', {
        env: { MM_URL: mm.url, MM_BOT_TOKEN: TOKENS.bot, MM_TEAM: 'picasoft', BOT_SECRET: 'z'.repeat(40), PORT: String(port), BOT_PUBLIC_URL: `http://127.0.0.1:${port}`, MM_REGISTER_COMMAND: 'true', STATE_DIR: mkdtempSync(join(tmpdir(), 'serve-')), LOG_LEVEL: 'error', DOCKER_HOST: 'unix:///nonexistent.sock' },
      });
      let stop: (reason: string) => void = () => undefined;
      let address = '';
      const running = serve(ctx, { stopWhen: new Promise<string>((resolve) => (stop = resolve)), onListening: (a) => (address = a) });
      await waitFor('/healthz', async () => ((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200 ? true : undefined), { intervalMs: 10 });
      assert.equal(address, `127.0.0.1:${port}`, 'a loopback BOT_PUBLIC_URL: listens on loopback only');
      const command = await waitFor('the registered command', async () => (await api.call<Array<{ url: string }>>('GET', `/api/v4/commands?team_id=${world.team.id}&custom_only=true`, undefined, TOKENS.bot)).body[0]);
      assert.equal(command.url, `http://127.0.0.1:${port}/mattermost/command`);
      const r = await api.execute(TOKENS.alice, world.channels.upgrades!.id, '/upgrade help');
      assert.equal(r.status, 200, 'the new token is accepted');
      assert.match(String(r.body.text), /upgrades this Mattermost safely/);
      stop('test');
      assert.equal(await running, 0);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'no longer listening');
    } finally {
      await mm.stop();
    }
  });
});
