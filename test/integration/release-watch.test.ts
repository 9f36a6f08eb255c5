/**
 * The release watch against the bed's real registry: a repository holding 1.1.0, 2.0.0,
 * 2.1.0-rc1 and latest, watched while 1.0.0 runs, suggests exactly 1.1.0 and 2.0.0 (the latter
 * with the major-version warning), once each across ticks and a restart; a version the team's
 * registry lacks asks for a build first; *Plan upgrade* plans it as `/upgrade 1.1.0` would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBot, type BotProcess } from '../bed/bot.js';
import { mmUpgrade } from '../bed/cli.js';
import { deploy, type Deployment } from '../bed/deploy.js';
import { run, waitFor } from '../bed/proc.js';
import { startRegistry } from '../bed/daemons.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { currentBed } from '../bed/state.js';
import { MattermostApi } from '../mattermost/client.js';
import type { Post } from '../mattermost/model.js';
import { TOKENS, WORLD } from '../mattermost/world.js';
import { actionsOf, botEnv, ChatView, isPlanPost } from './helpers/chat.js';

const bed = currentBed();
const docker = (args: string[]) => run('docker', args, { env: { ...process.env, DOCKER_HOST: bed.dockerHost } });
const WATCHED = `${bed.registry}/watch${process.pid}/mattermost-team-edition`;

async function pushAs(source: string, tags: string[]): Promise<void> {
  await docker(['pull', '--quiet', source]);
  for (const t of tags) {
    await docker(['tag', source, `${WATCHED}:${t}`]);
    await docker(['push', '--quiet', `${WATCHED}:${t}`]);
  }
}

describe('the release watch, on the bed registry', () => {
  let d: Deployment;
  let chat: ChatView;
  let bot: BotProcess;
  let env: Record<string, string>;
  const since = Date.now();
  const suggestions = async (): Promise<Post[]> => (await chat.botPosts('upgrades', true)).filter((p) => p.create_at >= since && /^🆕 /.test(p.message));

  before(async () => {
    await pushAs(`${bed.images.app}:1.1.0`, ['1.1.0', '2.0.0', '2.1.0-rc1', 'latest']);
    d = await deploy('team', { stopDelayMs: 100 });
    const api = new MattermostApi(d.appUrl);
    chat = new ChatView(api, await api.seed(WORLD));
    env = await botEnv(d.env, { BOT_LOCALE: 'en', RELEASE_WATCH_IMAGE: WATCHED, RELEASE_WATCH_CRON: '*/2 * * * * *' });
    env.MM_SLASH_TOKENS = (JSON.parse((await mmUpgrade(['register-command', '--json'], env)).stdout) as { token: string }).token;
    bot = await startBot(env);
  });

  after(async () => {
    await bot?.stop();
    await d?.down();
  });

  it('suggests exactly 1.1.0 and 2.0.0, once each, across ticks and a restart', async () => {
    for (let i = 0; i < 100 && (await suggestions()).length < 2; i++) await sleep(100);
    await sleep(4_500); // two more ticks
    const firstLog = bot.output();
    assert.equal(await bot.stop(), 0);
    bot = await startBot(env);
    await sleep(4_500); // and two after the restart
    const posts = await suggestions();
    assert.deepEqual(posts.map((p) => /^🆕 Mattermost (\S+) is out/.exec(p.message)?.[1]), ['1.1.0', '2.0.0']);
    assert.match(posts[0]!.message, /this server runs 1\.0\.0\)\. What's new: https:\/\/docs\.mattermost\.com\/\S+v1-changelog\.html/);
    assert.doesNotMatch(posts[0]!.message, /major version/);
    assert.match(posts[1]!.message, /A major version: Mattermost advises going through the last ESR first/);
    for (const p of posts) assert.deepEqual(actionsOf(p).map((a) => a.name), ['Plan upgrade']);
    assert.match(firstLog, /release watch: .*watch\d+\/mattermost-team-edition, running 1\.0\.0: suggested 1\.1\.0, 2\.0\.0\n/, 'printed in the log');
    assert.match(bot.output(), /running 1\.0\.0: nothing new/, 'after the restart: nothing new');
  });

  it("a version the team's registry lacks asks for a build first, without a button", async () => {
    await pushAs(`${bed.images.app}:1.1.0`, ['1.9.0']);
    let post: Post | undefined;
    for (let i = 0; i < 100 && !post; i++) {
      post = (await suggestions()).find((p) => p.message.includes('1.9.0'));
      if (!post) await sleep(100);
    }
    assert.ok(post, 'suggested');
    assert.match(post.message, /pica-mattermost:1\.9\.0` is not in your registry yet: build and push it first \(`mm-upgrade build 1\.9\.0`\)/);
    assert.deepEqual(actionsOf(post), []);
  });

  it('Plan upgrade plans it, as /upgrade 1.1.0 would', async () => {
    const suggestion = (await suggestions()).find((p) => /Mattermost 1\.1\.0 is out/.test(p.message))!;
    const clicked = Date.now();
    const r = await chat.api.click(TOKENS.admin, suggestion.id, 'plan');
    assert.equal(r.status, 200);
    const plan = await chat.waitPost('upgrades', clicked, (p) => isPlanPost(p), 30_000, true);
    assert.match(plan.message, /Upgrade plan: Mattermost 1\.0\.0 → \*\*1\.1\.0\*\*/);
    const byAlice = await chat.api.click(TOKENS.alice, suggestion.id, 'plan');
    assert.equal(byAlice.status, 200);
    assert.match((await chat.waitEphemeral('alice', clicked, (e) => e.source === 'action')).message, /@alice, you are not allowed to decide/);
  });

  it('a private registry with htpasswd Basic auth: the right credentials list its tags, wrong ones are named clearly', async () => {
    const root = mkdtempSync(join(bed.root, 'private-registry-'));
    const htpasswd = join(root, 'htpasswd');
    const hash = (await run('python3', ['-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))', 'pr1vate-pass'])).stdout.trim();
    writeFileSync(htpasswd, `watcher:${hash}\n`);
    const registry = await startRegistry(root, { name: 'registry', htpasswd });
    try {
      const config = mkdtempSync(join(root, 'docker-config-'));
      const authed = (args: string[], input?: string) => run('docker', args, { env: { ...process.env, DOCKER_HOST: bed.dockerHost, DOCKER_CONFIG: config }, ...(input ? { input } : {}) });
      await authed(['login', '--username', 'watcher', '--password-stdin', registry.host], 'pr1vate-pass');
      const image = `${registry.host}/mattermost/mattermost-team-edition`;
      await docker(['pull', '--quiet', `${bed.images.app}:1.1.0`]);
      for (const t of ['1.1.0', '1.2.0', 'latest']) {
        await docker(['tag', `${bed.images.app}:1.1.0`, `${image}:${t}`]);
        await authed(['push', '--quiet', `${image}:${t}`]);
      }
      const watch = { RELEASE_WATCH_IMAGE: image, RELEASE_WATCH_CRON: '*/2 * * * * *', STATE_DIR: mkdtempSync(join(root, 'state-')) };
      await bot.stop();
      const wrong = await startBot({ ...env, ...watch, REGISTRY_USER: 'watcher', REGISTRY_PASSWORD: 'not-the-password' });
      try {
        await waitFor('the refusal in the log', async () => (/release watch: could not look for new releases/.test(wrong.output()) ? true : undefined), { timeoutMs: 15_000, intervalMs: 200 });
        assert.match(wrong.output(), /mattermost\/mattermost-team-edition: the registry refused REGISTRY_USER \\?"watcher\\?" and its password/);
        assert.doesNotMatch(wrong.output(), /not-the-password/, 'the password is never written');
      } finally {
        await wrong.stop();
      }
      const right = await startBot({ ...env, ...watch, REGISTRY_USER: 'watcher', REGISTRY_PASSWORD: 'pr1vate-pass' });
      try {
        await waitFor('the suggestions', async () => (/running 1\.0\.0: suggested 1\.1\.0, 1\.2\.0\n/.test(right.output()) ? true : undefined), { timeoutMs: 15_000, intervalMs: 200 });
      } finally {
        await right.stop();
      }
    } finally {
      await registry.stop();
      bot = await startBot(env);
    }
  });
});
