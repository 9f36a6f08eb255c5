/**
 * Scheduled upgrades on the bed, through the stand-in's own slash-command and button
 * machinery: `/upgrade 1.1.0 at …` two minutes ahead, confirmed, the bot restarted in between,
 * the warning to the team at ANNOUNCE_BEFORE, the upgrade at its time, its result; a cancel.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nextWindowStart, parseWindow } from '../../src/schedule/window.js';
import { wallText, wallTime } from '../../src/schedule/zoned.js';
import { startBot, type BotProcess } from '../bed/bot.js';
import { mmUpgrade } from '../bed/cli.js';
import { deploy, readRows, waitForApp, type Deployment } from '../bed/deploy.js';
import { MattermostApi } from '../mattermost/client.js';
import { TOKENS, WORLD } from '../mattermost/world.js';
import { actionsOf, botEnv, ChatView, isPlanPost } from './helpers/chat.js';

const TZ = 'Europe/Paris';

describe('scheduled upgrades, in English', () => {
  let d: Deployment;
  let chat: ChatView;
  let bot: BotProcess;
  let env: Record<string, string>;

  before(async () => {
    d = await deploy('team', { stopDelayMs: 200 });
    const api = new MattermostApi(d.appUrl);
    chat = new ChatView(api, await api.seed(WORLD));
    env = await botEnv(d.env, { TZ, ANNOUNCE_BEFORE: '1m', BOT_LOCALE: 'en' });
    const registered = await mmUpgrade(['register-command', '--json'], env);
    env.MM_SLASH_TOKENS = (JSON.parse(registered.stdout) as { token: string }).token;
    bot = await startBot(env);
  });

  after(async () => {
    await bot?.stop();
    await d?.down();
  });

  it('refuses a time it cannot read, a past one, and one outside the window, saying what to type', async () => {
    assert.match((await chat.type(TOKENS.admin, '1.1.0 at 7pm')).text, /`at 7pm` is not a time I can read\. Type `\/upgrade 1\.1\.0 at 22:30`/);
    assert.match((await chat.type(TOKENS.admin, '1.1.0 at 2020-01-01 10:00')).text, /`2020-01-01 10:00` has already passed/);
    assert.match((await chat.type(TOKENS.admin, '1.1.0 at 2027-02-30 10:00')).text, /is not a date that exists/);
    await bot.stop();
    const narrow = await startBot({ ...env, MAINTENANCE_WINDOW: '03:00-04:00' });
    try {
      const since = Date.now();
      await chat.type(TOKENS.admin, '1.1.0 at 2030-01-15 12:00');
      const late = await chat.waitEphemeral('pica-admin', since, (e) => e.source === 'response_url');
      assert.match(late.message, /2030-01-15 12:00 is outside the maintenance window 03:00-04:00 \(Europe\/Paris\)\. Pick a time inside it, for example the next window start: `at 2030-01-16 03:00`/);
    } finally {
      await narrow.stop();
      bot = await startBot(env);
    }
  });

  it('/upgrade 1.1.0 at HH:MM two minutes ahead: confirmed, survives a restart, announced, run at its time, reported', async () => {
    const asked = Date.now();
    // Two to three minutes ahead, on a whole minute, as a person would type it.
    const at = Math.ceil((asked + 2 * 60_000) / 60_000) * 60_000;
    const when = wallText(at, TZ);
    await chat.type(TOKENS.admin, `1.1.0 at ${when.slice(11)}`);
    const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
    assert.match(plan.message, /\| Starts at \| \d\d\/\d\d\/\d{4},? \d\d:\d\d \|/);
    assert.match(actionsOf(plan)[0]!.name, /^Schedule for /);
    assert.equal((await chat.api.click(TOKENS.admin, plan.id, 'confirm')).status, 200);
    const decided = (await chat.api.posts(chat.channel('upgrades'))).find((p) => p.id === plan.id)!;
    assert.match(decided.message, /📅 Scheduled by @pica-admin at \d\d:\d\d: it starts at/);
    const stored = JSON.parse(readFileSync(join(env.STATE_DIR!, 'schedules.json'), 'utf8')) as Array<{ target: string; at: string }>;
    assert.deepEqual(stored.map((s) => [s.target, s.at]), [['1.1.0', new Date(at).toISOString()]]);
    const status = await mmUpgrade(['status'], env);
    assert.match(status.stdout, /^Scheduled +upgrade to 1\.1\.0 at /m, 'mm-upgrade status shows it');
    assert.match((await chat.type(TOKENS.admin, 'status')).text, /\| Scheduled \| upgrade to 1\.1\.0 at /);

    // The bot restarts before the warning.
    assert.equal(await bot.stop(), 0);
    bot = await startBot(env);

    const warning = await chat.waitPost('town-square', asked, (p) => /⏰ Mattermost will be upgraded to 1\.1\.0 at /.test(p.message), 150_000);
    assert.ok(warning.create_at >= at - 60_000 - 2_000 && warning.create_at < at, `warned ANNOUNCE_BEFORE ahead (${(at - warning.create_at) / 1000} s before)`);
    assert.match(warning.message, /Expect a few minutes of unavailability\./);
    await waitForApp(d.appUrl, '1.0.0', 1_000);
    const starting = await chat.waitPost('town-square', asked, (p) => /⏳ The upgrade of Mattermost to 1\.1\.0 starts now/.test(p.message), 150_000);
    assert.ok(starting.create_at >= at, 'not before its time');
    const result = await chat.waitPost('upgrades', asked, (p) => /^#### ✅ Upgrade complete: Mattermost 1\.1\.0 is serving/.test(p.message), 180_000);
    assert.ok(result.create_at > at);
    await chat.waitPost('town-square', asked, (p) => /Mattermost has been updated to 1\.1\.0/.test(p.message), 30_000);
    await waitForApp(d.appUrl, '1.1.0', 10_000);
    assert.deepEqual(await readRows(d.appUrl), d.rows);
    const history = readFileSync(join(env.STATE_DIR!, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { owner: string; to: string });
    assert.deepEqual([history.at(-1)!.owner, history.at(-1)!.to], ['chat:pica-admin', '1.1.0']);
    assert.deepEqual(JSON.parse(readFileSync(join(env.STATE_DIR!, 'schedules.json'), 'utf8')), []);
  });

  it('/upgrade cancel cancels the next scheduled upgrade, and says who did', async () => {
    const asked = Date.now();
    await chat.type(TOKENS.admin, '1.5.0 at 2030-01-15 12:00');
    const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
    await chat.api.click(TOKENS.admin, plan.id, 'confirm');
    const cancel = await chat.type(TOKENS.admin, 'cancel');
    assert.match(cancel.text, /Cancelled: the upgrade to 1\.5\.0 scheduled for /);
    await chat.waitPost('upgrades', asked, (p) => /✖️ The upgrade to 1\.5\.0 scheduled for .* was cancelled by @pica-admin/.test(p.message), 30_000);
    assert.deepEqual(JSON.parse(readFileSync(join(env.STATE_DIR!, 'schedules.json'), 'utf8')), []);
    assert.match((await chat.type(TOKENS.admin, 'cancel')).text, /no pending confirmation to cancel, and no scheduled upgrade/);
  });

  it('outside the window: "Schedule in the window" schedules its next start; "Upgrade now anyway" runs it, and the history records who', async () => {
    await bot.stop();
    const h = wallTime(Date.now(), TZ).hour;
    const pad = (n: number) => String(n % 24).padStart(2, '0');
    const window = `${pad(h + 2)}:00-${pad(h + 3)}:00`;
    bot = await startBot({ ...env, MAINTENANCE_WINDOW: window });
    try {
      const asked = Date.now();
      await chat.type(TOKENS.admin, '1.2.0');
      const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
      assert.match(plan.message, new RegExp(`It is outside the maintenance window ${window} \\(Europe/Paris\\)\\. \\*Schedule in the window\\* starts it at`));
      assert.deepEqual(actionsOf(plan).map((a) => [a.id, a.style]), [['schedule', 'primary'], ['confirm', 'danger'], ['rehearse', 'default'], ['cancel', 'default']]);
      assert.match(actionsOf(plan)[0]!.name, /^Schedule in the window \(/);
      assert.equal(actionsOf(plan)[1]!.name, 'Upgrade now anyway');
      await chat.api.click(TOKENS.admin, plan.id, 'schedule');
      const expected = nextWindowStart(parseWindow(window)!, asked, TZ);
      const stored = JSON.parse(readFileSync(join(env.STATE_DIR!, 'schedules.json'), 'utf8')) as Array<{ target: string; at: string }>;
      assert.deepEqual(stored.map((x) => [x.target, x.at]), [['1.2.0', new Date(expected).toISOString()]], 'scheduled at the next window start');
      assert.match((await chat.type(TOKENS.admin, 'cancel')).text, /Cancelled: the upgrade to 1\.2\.0/);

      const again = Date.now();
      await chat.type(TOKENS.admin, '1.2.0');
      const plan2 = await chat.waitPost('upgrades', again, (p) => isPlanPost(p), 30_000, true);
      await chat.api.click(TOKENS.admin, plan2.id, 'confirm');
      const decided = (await chat.api.posts(chat.channel('upgrades'))).find((p) => p.id === plan2.id)!;
      assert.match(decided.message, /⚠️ Started outside the maintenance window by @pica-admin at \d\d:\d\d/);
      await chat.waitPost('upgrades', again, (p) => /^#### ↩️/.test(p.message), 120_000); // 1.2.0 crashes: rolled back
      const last = readFileSync(join(env.STATE_DIR!, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { owner: string; to: string; override?: string }).at(-1)!;
      assert.deepEqual([last.owner, last.to, last.override], ['chat:pica-admin', '1.2.0', 'outside the maintenance window, by @pica-admin']);
    } finally {
      await bot.stop();
      bot = await startBot(env);
    }
  });

  it('BACKUP_CRON takes verified dumps through the backup job; a missing dump is warned about once', async () => {
    await bot.stop();
    const { readdirSync, rmSync } = await import('node:fs');
    rmSync(env.BACKUP_DIR!, { recursive: true, force: true });
    // Warned at the first start already (no dump then either): forget it, to see it said again once.
    assert.ok(readdirSync(env.STATE_DIR!).includes('backup-age-warning.json'), 'the first start remembered its warning');
    rmSync(join(env.STATE_DIR!, 'backup-age-warning.json'));
    const since = Date.now();
    bot = await startBot({ ...env, BACKUP_CRON: '*/5 * * * * *' });
    try {
      const warning = await chat.waitPost('upgrades', since, (p) => /There is no database dump at all/.test(p.message), 30_000);
      assert.ok(warning);
      const result = await chat.waitPost('upgrades', since, (p) => /^#### ✅ Backup complete/.test(p.message), 60_000);
      assert.match(result.message, /\| Backup \| `mattermost-[\d.]+-\d{8}T\d{6}Z\.dump` \|/);
      assert.ok(readdirSync(env.BACKUP_DIR!).some((f) => f.endsWith('.dump')));
      const warnings = (await chat.botPosts('upgrades')).filter((p) => p.create_at >= since && /no database dump at all/.test(p.message));
      assert.equal(warnings.length, 1, 'said once');
    } finally {
      await bot.stop();
      bot = await startBot(env);
    }
  });
});
