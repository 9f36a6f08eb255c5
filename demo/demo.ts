/**
 * `npm run demo`: the whole flow on the real test bed, for a newcomer without any Mattermost.
 * A private Docker engine, a registry and the bed images; a team's deployment of Mattermost
 * 1.0.0 (a stand-in that speaks Mattermost's API, its posts kept in the deployment's
 * PostgreSQL); `mm-upgrade serve` beside it. Then, as a person would in chat: `/upgrade 1.1.0`,
 * a click on "Upgrade now", the progress message as it is edited, the result and the
 * announcement; a version that fails and its automatic rollback; `/upgrade status`. Everything
 * is torn down at the end. Exit 0 only when everything went as shown.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startBot, type BotProcess } from '../test/bed/bot.js';
import { mmUpgrade } from '../test/bed/cli.js';
import { deploy, readRows, waitForApp, type Deployment } from '../test/bed/deploy.js';
import { bedEnvironment, bedSession, tearDownOnSignals } from '../test/bed/lifecycle.js';
import { hasBed } from '../test/bed/state.js';
import { actionsOf, botEnv, ChatView, isPlanPost, outboxCount } from '../test/integration/helpers/chat.js';
import { MattermostApi } from '../test/mattermost/client.js';
import type { Post } from '../test/mattermost/model.js';
import { TOKENS, WORLD } from '../test/mattermost/world.js';
import { bubble, Spinner } from './terminal.js';

const out = (text = ''): void => void process.stdout.write(`${text}\n`);
const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 8);

class DemoFailed extends Error {}

function check(ok: boolean, what: string): void {
  if (!ok) throw new DemoFailed(what);
  out(`  ✔ ${what}`);
}

/**
 * What the people in the channels see: every post and every edit of it (the stand-in keeps
 * each version), and the replies only the admin sees, printed in order as they arrive.
 */
class ChatFeed {
  private readonly seen = new Set<string>();
  private down = false;
  /** Edits of messages printed so far (the progress message is edited as the steps run). */
  edits = 0;

  constructor(private readonly chat: ChatView) {}

  async poll(): Promise<Post[] | undefined> {
    const { api } = this.chat;
    let answer;
    try {
      answer = await Promise.all([api.versions(), api.posts(undefined, true), api.ephemerals(this.chat.world.users['pica-admin']!.id)]);
    } catch {
      if (!this.down) out('  … Mattermost is down while it is switched: the bot keeps its messages in its outbox and sends them when chat is back');
      this.down = true;
      return undefined;
    }
    if (this.down) out('  … chat is back');
    this.down = false;
    const [versions, posts, ephemerals] = answer;
    const channelName = new Map(Object.values(this.chat.world.channels).map((c) => [c.id, c.name]));
    const postById = new Map(posts.map((p) => [p.id, p]));
    const items = [
      ...versions.filter((v) => !this.seen.has(v.id)).map((v) => ({ id: v.id, at: v.at, print: () => {
        const post = postById.get(v.post_id);
        const where = `~${channelName.get(post?.channel_id ?? '') ?? '?'}`;
        if (v.by === 'patch') this.edits++;
        const header = v.by === 'create' ? `upgrade-bot in ${where}, ${clock(v.at)}` : v.by === 'action' ? `upgrade-bot's message in ${where} after the click, ${clock(v.at)}` : `upgrade-bot edits its message in ${where}, ${clock(v.at)}`;
        const buttons = actionsOf({ props: v.props } as unknown as Post).map((a) => a.name);
        out(bubble(header, v.message, buttons));
      } })),
      ...ephemerals.filter((e) => !this.seen.has(e.id)).map((e) => ({ id: e.id, at: e.create_at, print: () => out(bubble(`upgrade-bot, only visible to @pica-admin, ${clock(e.create_at)}`, e.message)) })),
    ].sort((a, b) => a.at - b.at);
    for (const item of items) {
      this.seen.add(item.id);
      item.print();
    }
    return posts;
  }

  /** Polls and prints until `done` is true of the posts (and the bot has nothing left to send). */
  async until(what: string, done: (posts: Post[]) => boolean, stateDir: string, timeoutMs = 180_000): Promise<Post[]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const posts = await this.poll();
      if (posts && done(posts) && outboxCount(stateDir) === 0) return posts;
      await sleep(150);
    }
    throw new DemoFailed(`${what} did not show in chat within ${Math.round(timeoutMs / 1000)} s`);
  }

  /** Marks everything there now as seen (what setting up wrote). */
  async skipToNow(): Promise<void> {
    const { api } = this.chat;
    for (const v of await api.versions()) this.seen.add(v.id);
    for (const e of await api.ephemerals()) this.seen.add(e.id);
  }
}

async function main(): Promise<number> {
  out('mm-upgrade demo: a Mattermost deployment on Docker, upgraded from chat, then a failing version rolled back.');
  out('Everything runs on this machine, on loopback, and is removed at the end.');
  out();
  // Inside the test suite, the bed the runner started is used as it is (and left to it).
  const given = hasBed();
  const spinner = new Spinner(`[1/5] ${given ? 'Using the test bed already running' : 'Preparing a private Docker engine, a registry and the images (about a minute the first time)'}`);
  let teardownLog: (line: string) => void = (line) => spinner.update(line);
  const session = bedSession((line) => teardownLog(line));
  if (!given) tearDownOnSignals(session, (line) => out(line));
  let d: Deployment | undefined;
  let bot: BotProcess | undefined;
  try {
    if (!given) {
      const bed = await session.start().catch((err: unknown) => {
        spinner.fail();
        throw err;
      });
      Object.assign(process.env, bedEnvironment(bed));
    }
    spinner.done('ready');
    teardownLog = (line) => out(`  ${line}`);

    out('[2/5] Deploying Mattermost 1.0.0 the way a team does: docker-compose, its own app and PostgreSQL images');
    d = await deploy('team', { stopDelayMs: 300 });
    out(`  ✔ ${d.appContainer} and ${d.dbContainer} run; ${d.rows.length} messages written to the database, to check that none is lost`);

    out('[3/5] Starting the bot (mm-upgrade serve) and creating the /upgrade command in the team');
    const api = new MattermostApi(d.appUrl);
    const chat = new ChatView(api, await api.seed(WORLD));
    const env = await botEnv(d.env, { TZ: process.env.TZ ?? 'UTC', VERIFY_WINDOW: '3s' });
    const registered = await mmUpgrade(['register-command', '--json'], env);
    if (registered.code !== 0) throw new DemoFailed(`register-command failed: ${registered.stderr}`);
    bot = await startBot({ ...env, MM_SLASH_TOKENS: (JSON.parse(registered.stdout) as { token: string }).token });
    out(`  ✔ the bot answers at ${bot.url}; Mattermost will call it there`);
    const feed = new ChatFeed(chat);
    await feed.skipToNow();
    const stateDir = env.STATE_DIR!;

    const ask = async (text: string): Promise<Post> => {
      const since = Date.now();
      out();
      out(`@pica-admin types in ~upgrades:  /upgrade ${text}`);
      const r = await chat.type(TOKENS.admin, text);
      if (r.status !== 200) throw new DemoFailed(`Mattermost answered HTTP ${r.status} to /upgrade ${text}`);
      const posts = await feed.until('the plan', (ps) => ps.some((p) => p.create_at >= since && isPlanPost(p)), stateDir, 60_000);
      return posts.find((p) => p.create_at >= since && isPlanPost(p))!;
    };
    const click = async (plan: Post): Promise<void> => {
      out();
      out(`@pica-admin clicks "${actionsOf(plan)[0]!.name}"`);
      const r = await api.click(TOKENS.admin, plan.id, 'confirm');
      if (r.status !== 200) throw new DemoFailed(`the click got HTTP ${r.status}`);
    };

    out();
    out('[4/5] The upgrade, from chat');
    const plan = await ask('1.1.0');
    const clicked = Date.now();
    const editsBefore = feed.edits;
    await click(plan);
    await feed.until(
      'the announcement of 1.1.0',
      (ps) => ps.some((p) => p.create_at >= clicked && /^#### ✅ /.test(p.message)) && ps.some((p) => p.create_at >= clicked && /updated to 1\.1\.0/.test(p.message)),
      stateDir,
    );
    out();
    await waitForApp(d.appUrl, '1.1.0', 10_000);
    check(feed.edits - editsBefore >= 3, `the progress message was edited in place as the steps ran (${feed.edits - editsBefore} edits shown)`);
    check(true, 'Mattermost 1.1.0 is serving');
    check(JSON.stringify(await readRows(d.appUrl)) === JSON.stringify(d.rows), `the ${d.rows.length} messages written before are all there`);

    out();
    out('[5/5] A version whose database migration fails: 1.2.0 crashes at start, and the bot rolls back by itself');
    const bad = await ask('1.2.0');
    const clickedBad = Date.now();
    await click(bad);
    await feed.until('the rollback of 1.2.0', (ps) => ps.some((p) => p.create_at >= clickedBad && /^#### ↩️ /.test(p.message)), stateDir);
    out();
    await waitForApp(d.appUrl, '1.1.0', 10_000);
    check(true, 'Mattermost 1.1.0 is serving again');
    check(JSON.stringify(await readRows(d.appUrl)) === JSON.stringify(d.rows), 'no message was lost');

    const statusSince = Date.now();
    out();
    out('@pica-admin types in ~upgrades:  /upgrade status');
    await chat.type(TOKENS.admin, 'status');
    const eph = await (async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        await feed.poll();
        const found = (await chat.ephemeralsOf('pica-admin', statusSince)).find((e) => /\| Overall \|/.test(e.message));
        if (found) return found;
        await sleep(150);
      }
      throw new DemoFailed('/upgrade status did not answer within 30 s');
    })();
    out();
    check(/✅ healthy/.test(eph.message), 'the status says healthy');
    check(/would change nothing/.test(eph.message), 'and that a later `docker compose up -d` would change nothing');
    out();
    out('Everything went as shown.');
    return 0;
  } catch (err) {
    out();
    out(`✘ ${err instanceof DemoFailed ? err.message : ((err as Error).stack ?? String(err))}`);
    if (bot) out(`\nThe bot's output:\n${bot.output().split('\n').slice(-30).join('\n')}`);
    return 1;
  } finally {
    out();
    out(`Tearing down: the bot, the deployment${given ? '' : ', the Docker engine and the registry'}…`);
    await bot?.stop().catch(() => undefined);
    await d?.down().catch(() => undefined);
    if (!given) await session.teardown();
    else out('  done');
  }
}

process.exitCode = await main();
