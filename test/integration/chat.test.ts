/**
 * Chat on the real bed: the app containers serve the Mattermost API stand-in (posts in the
 * deployment's PostgreSQL), so chat really goes down while the app is switched. The bot runs
 * as `mm-upgrade serve` in its own process; people type commands and click buttons through
 * the stand-in's own slash-command and button machinery.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signContext } from '../../src/chat/verify.js';
import type { HistoryEntry } from '../../src/state/history.js';
import { startBot, type BotProcess } from '../bed/bot.js';
import { mmUpgrade } from '../bed/cli.js';
import { deploy, readRows, waitForApp, type Deployment } from '../bed/deploy.js';
import { waitFor } from '../bed/proc.js';
import { MattermostApi } from '../mattermost/client.js';
import type { Post } from '../mattermost/model.js';
import { ENGLISH, FRENCH, prose, TOKENS, WORLD } from '../mattermost/world.js';
import { actionsOf, botEnv, ChatView, isPlanPost, outboxCount, pingOk, postAction, postCommand, SECRET, watchOutbox } from './helpers/chat.js';

const history = (stateDir: string): HistoryEntry[] =>
  existsSync(join(stateDir, 'history.jsonl'))
    ? readFileSync(join(stateDir, 'history.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as HistoryEntry)
    : [];
const lockHeld = (stateDir: string): boolean => existsSync(join(stateDir, 'job.lock'));
const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();

describe('chat on the team-built layout, in French', () => {
  let d: Deployment;
  let chat: ChatView;
  let bot: BotProcess;
  let env: Record<string, string>;
  let slashToken: string;
  let stateDir: string;

  before(async () => {
    d = await deploy('team', { stopDelayMs: 300 });
    const api = new MattermostApi(d.appUrl);
    chat = new ChatView(api, await api.seed(WORLD));
    env = await botEnv(d.env, { BOT_LOCALE: 'fr' });
    stateDir = env.STATE_DIR!;
  });

  after(async () => {
    await bot?.stop();
    await d?.down();
  });

  it('registers /upgrade in the team, and a second run changes nothing', async () => {
    const first = await mmUpgrade(['register-command', '--json'], env);
    assert.equal(first.code, 0, first.stderr);
    const created = JSON.parse(first.stdout) as { action: string; token: string; url: string };
    assert.equal(created.action, 'created');
    assert.equal(created.url, `${env.BOT_PUBLIC_URL}/mattermost/command`);
    const second = await mmUpgrade(['register-command', '--json'], env);
    assert.deepEqual({ ...(JSON.parse(second.stdout) as object), action: 'x' }, { ...created, action: 'x' });
    assert.equal((JSON.parse(second.stdout) as { action: string }).action, 'unchanged');
    const list = await chat.api.call<Array<Record<string, unknown>>>('GET', `/api/v4/commands?team_id=${chat.world.team.id}&custom_only=true`, undefined, TOKENS.admin);
    assert.equal(list.body.length, 1);
    assert.equal(list.body[0]!.method, 'P');
    assert.equal(list.body[0]!.auto_complete, true);
    assert.match(String(list.body[0]!.auto_complete_hint), /X\.Y\.Z/);
    const text = await mmUpgrade(['register-command'], { ...env, MM_BOT_TOKEN: TOKENS.alice });
    assert.equal(text.code, 2, 'a token without the permission is refused with exit code 2');
    assert.match(text.stderr, /lacks the permission to manage slash commands/);
    assert.doesNotMatch(text.stderr + text.stdout, new RegExp(TOKENS.alice));
    slashToken = created.token;
    bot = await startBot({ ...env, MM_SLASH_TOKENS: slashToken });
    const health = await fetch(`${bot.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
  });

  it('refuses what it must, each time saying why, and starts no job', async () => {
    const jobsBefore = history(stateDir).length;
    const since = Date.now();
    const fields = { channel_id: chat.channel('upgrades'), channel_name: 'upgrades', command: '/upgrade', team_domain: 'picasoft', team_id: chat.world.team.id, text: '1.1.0', user_id: chat.world.users['pica-admin']!.id, user_name: 'pica-admin' };
    // Slash requests without the command's token: 401, nothing runs.
    for (const headers of [{ Authorization: 'Token wrong-token-0000000000', 'Content-Type': 'application/x-www-form-urlencoded' }, { 'Content-Type': 'application/x-www-form-urlencoded' }] as Array<Record<string, string>>) {
      const r = await postCommand(bot.url, form({ ...fields, token: 'also-wrong' }), headers);
      assert.equal(r.status, 401);
      assert.equal(r.contentType, 'application/json');
      assert.match(String(r.json.text), /jeton/);
    }
    const auth = { Authorization: `Token ${slashToken}` };
    const big = await postCommand(bot.url, form({ ...fields, text: 'x'.repeat(100_000) }), { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' });
    assert.deepEqual([big.status, big.contentType], [200, 'application/json']);
    assert.match(String(big.json.text), /trop volumineuse/);
    const json = await postCommand(bot.url, JSON.stringify(fields), { ...auth, 'Content-Type': 'application/json' });
    assert.deepEqual([json.status, json.contentType], [200, 'application/json']);
    assert.match(String(json.json.text), /application\/x-www-form-urlencoded/);
    const actionBig = await postAction(bot.url, { user_id: 'x', context: { pad: 'y'.repeat(100_000) } });
    assert.deepEqual([actionBig.status, actionBig.contentType], [200, 'application/json']);
    assert.match(String(actionBig.json.ephemeral_text), /trop volumineuse/);
    const actionForm = await postAction(bot.url, form({ user_id: 'x' }) as unknown as Record<string, unknown>, { 'Content-Type': 'application/x-www-form-urlencoded' });
    assert.deepEqual([actionForm.status, actionForm.contentType], [200, 'application/json']);
    assert.match(String(actionForm.json.ephemeral_text), /application\/json/);

    // Through Mattermost, as people type them.
    const latest = await chat.type(TOKENS.admin, 'latest');
    assert.equal(latest.status, 200);
    assert.match(latest.text, /`latest` est refusé.*`\/upgrade 10\.11\.4`/);
    const short = await chat.type(TOKENS.admin, '1.2');
    assert.match(short.text, /`1\.2` n'est pas un numéro de version.*`\/upgrade 1\.2\.0`/);
    const notAllowed = await chat.type(TOKENS.alice, '1.1.0');
    assert.match(notAllowed.text, /@alice, tu n'as pas le droit/);
    const downgrade = await chat.type(TOKENS.admin, '0.9.0');
    assert.match(downgrade.text, /Je prépare le plan/);
    const late = await chat.waitEphemeral('pica-admin', since, (e) => e.source === 'response_url');
    assert.match(late.message, /0\.9\.0 est plus ancienne que la 1\.0\.0/);

    // A plan, then clicks that must not count.
    const asked = Date.now();
    await chat.type(TOKENS.admin, '1.1.0');
    const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
    const [confirm] = actionsOf(plan);
    const byAlice = await chat.api.click(TOKENS.alice, plan.id, 'confirm');
    assert.equal(byAlice.status, 200);
    assert.match((await chat.waitEphemeral('alice', asked, (e) => e.source === 'action')).message, /@alice, tu n'as pas le droit de décider/);
    const context = confirm!.integration!.context as { job: string; action: 'confirm'; exp: number; nonce: string; sig: string };
    const click = { user_id: chat.world.users['pica-admin']!.id, user_name: 'pica-admin', channel_id: plan.channel_id, channel_name: 'upgrades', team_id: chat.world.team.id, team_domain: 'picasoft', post_id: plan.id, trigger_id: 'x', type: 'button', data_source: '' };
    const forged = await postAction(bot.url, { ...click, context: { ...context, action: 'confirm', exp: context.exp + 3_600_000 } });
    assert.match(String(forged.json.ephemeral_text), /pas valide/);
    const expired = await postAction(bot.url, { ...click, context: signContext(SECRET, { job: context.job, action: 'confirm', exp: Date.now() - 1_000, nonce: context.nonce }) });
    assert.match(String(expired.json.ephemeral_text), /a expiré/);
    assert.match(String((expired.json.update as { message: string }).message), /⌛ Expiré/);
    assert.deepEqual((expired.json.update as { props: object }).props, { from_bot: 'true' }, 'no buttons; the bot badge stays');
    // The update above went to this test, not to Mattermost: the post still has its buttons, and a click says it expired.
    assert.equal((await chat.api.click(TOKENS.admin, plan.id, 'confirm')).status, 200);
    assert.match((await chat.waitEphemeral('pica-admin', Date.now() - 2_000, (e) => e.source === 'action' && /a expiré/.test(e.message))).message, /Retape `\/upgrade 1\.1\.0`/);

    await new Promise((r) => setTimeout(r, 500));
    assert.equal(history(stateDir).length, jobsBefore, 'no job ran');
    assert.equal(lockHeld(stateDir), false);
    await waitForApp(d.appUrl, '1.0.0', 1_000);
  });

  it('/upgrade 1.1.0: plan, confirmation, live progress held while chat is down, result and announcement', async () => {
    const asked = Date.now();
    const ack = await chat.type(TOKENS.admin, '1.1.0');
    assert.equal(ack.status, 200);
    assert.ok(ack.ms < 1_000, `acknowledged in ${ack.ms} ms`);
    assert.equal(ack.body.response_type, 'ephemeral');
    assert.match(ack.text, /Je prépare le plan pour la mise à jour en 1\.1\.0/);
    const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
    assert.match(plan.message, /Plan de mise à jour : Mattermost 1\.0\.0 → \*\*1\.1\.0\*\*/);
    assert.match(plan.message, /pica-mattermost:1\.0\.0` → `.*pica-mattermost:1\.1\.0`/);
    assert.match(plan.message, /pica-mattermost-db:1\.0\.0` → `.*pica-mattermost-db:1\.1\.0`/);
    assert.match(plan.message, /Redémarrages.*-app`, puis `.*-db` \(PostgreSQL arrêté avec 60 s/);
    assert.match(plan.message, /Dernière sauvegarde/);
    assert.match(plan.message, /Coupure prévue/);
    assert.match(plan.message, /https:\/\/docs\.mattermost\.com\/product-overview\/mattermost-v1-changelog\.html/);
    const [confirm, rehearse, cancel] = actionsOf(plan);
    assert.deepEqual(
      [confirm!.id, confirm!.name, confirm!.style, rehearse!.id, rehearse!.name, cancel!.id, cancel!.name],
      ['confirm', 'Mettre à jour', 'primary', 'rehearse', "Répéter d'abord", 'cancel', 'Annuler'],
    );
    assert.equal(confirm!.integration!.url, `${env.BOT_PUBLIC_URL}/mattermost/action`);

    const watch = watchOutbox(d.appUrl, stateDir);
    const clicked = await chat.api.click(TOKENS.admin, plan.id, 'confirm');
    assert.equal(clicked.status, 200);
    assert.equal(clicked.body.status, 'OK');
    const decided = (await chat.api.posts(chat.channel('upgrades'))).find((p) => p.id === plan.id)!;
    assert.equal(actionsOf(decided).length, 0, 'the buttons are gone');
    assert.match(decided.message, /✅ Confirmé par @pica-admin à \d\d:\d\d/);
    assert.ok(decided.edit_at > 0);

    // While it runs: a second request names the running job; the old click is refused.
    await waitFor('the job lock', async () => (lockHeld(stateDir) ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    const second = await chat.type(TOKENS.admin, '1.1.0');
    assert.match(second.text, /Une autre tâche est en cours : \*\*Mise à jour 1\.0\.0 → 1\.1\.0\*\*, lancée par @pica-admin à \d\d:\d\d, actuellement à l'étape \*/);
    const replay = await postAction(bot.url, { user_id: chat.world.users['pica-admin']!.id, channel_id: plan.channel_id, post_id: plan.id, type: 'button', data_source: '', context: confirm!.integration!.context });
    assert.match(String(replay.json.ephemeral_text), /déjà décidé : confirmé par @pica-admin à \d\d:\d\d/);

    const result = await chat.waitPost('upgrades', asked, (p) => /^#### ✅ Mise à jour terminée : Mattermost 1\.1\.0 est en service/.test(p.message), 120_000);
    const seen = await watch.stop();
    assert.ok(seen.sawDown, 'Mattermost was down during the switch');
    assert.ok(seen.maxHeldWhileDown > 0, 'the outbox held messages while chat was down');
    const announce = await chat.waitPost('town-square', asked, (p) => /mis à jour/.test(p.message), 30_000);
    assert.equal(announce.message, 'Mattermost a été mis à jour en 1.1.0 — nouveautés : https://docs.mattermost.com/product-overview/mattermost-v1-changelog.html');
    await waitFor('an empty outbox', async () => (outboxCount(stateDir) === 0 ? true : undefined), { timeoutMs: 30_000 });

    const progress = (await chat.botPosts('upgrades')).find((p) => p.create_at >= asked && /^#### Mise à jour (en cours|terminée)/.test(p.message))!;
    assert.ok(progress, 'one progress post');
    assert.ok(progress.create_at < result.create_at && result.create_at <= announce.create_at, 'progress, result, announcement: in order');
    assert.match(progress.message, /^#### Mise à jour terminée : 1\.0\.0 → 1\.1\.0/);
    for (const step of ['Vérifier la demande', 'Sauvegarder la base', 'Télécharger les nouvelles images', 'Basculer sur les nouvelles images', 'Surveiller la nouvelle version']) assert.match(progress.message, new RegExp(`✅ ${step}`));
    assert.doesNotMatch(progress.message, /⏳|❌/);
    assert.match(progress.message, /Coupure : \d/);
    const versions = await chat.api.versions(progress.id);
    assert.ok(versions.length >= 3, `patched in place (${versions.length} versions)`);
    assert.ok(versions.some((v) => v.message.includes('⏳')), 'a version showed a step running');
    assert.deepEqual(versions.map((v) => v.at), [...versions.map((v) => v.at)].sort((a, b) => a - b));
    assert.match(result.message, /\| Coupure \| \d/);
    assert.match(result.message, /\| Journaux \| (aucune ligne d'erreur|\d+ lignes? d'erreur)/);
    assert.match(result.message, /\| Sauvegarde \| `mattermost-1\.0\.0-\d{8}T\d{6}Z\.dump` \|/);
    await waitForApp(d.appUrl, '1.1.0', 5_000);
    assert.deepEqual(await readRows(d.appUrl), d.rows);
  });

  it('a failing version is rolled back by itself, and the result quotes its log lines', async () => {
    const asked = Date.now();
    await chat.type(TOKENS.admin, '1.2.0');
    const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
    assert.equal((await chat.api.click(TOKENS.admin, plan.id, 'confirm')).status, 200);
    const result = await chat.waitPost('upgrades', asked, (p) => /^#### ↩️/.test(p.message), 120_000);
    assert.match(result.message, /Mise à jour en échec, tout a été remis comme avant : Mattermost 1\.1\.0 est en service/);
    assert.match(result.message, /\| Étape en échec \| Basculer sur les nouvelles images/);
    assert.match(result.message, /\*\*Lignes des journaux\*\*\n```\n[\s\S]*Failed to apply database migrations[\s\S]*```/);
    assert.match(result.message, /\*\*Remis en place\*\*/);
    const announcements = (await chat.botPosts('town-square')).filter((p) => p.create_at >= asked);
    assert.equal(announcements.length, 0, 'a failure is not announced to the team');
    await waitForApp(d.appUrl, '1.1.0', 30_000);
    assert.deepEqual(await readRows(d.appUrl), d.rows);
  });

  it('/upgrade rollback goes back to 1.0.0 after a confirmation, and says so to the team', async () => {
    const asked = Date.now();
    const ack = await chat.type(TOKENS.admin, 'rollback');
    assert.match(ack.text, /Je prépare le plan pour le retour arrière/);
    const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
    assert.match(plan.message, /Plan de retour arrière : Mattermost 1\.1\.0 → \*\*1\.0\.0\*\*/);
    assert.equal(actionsOf(plan)[0]!.name, 'Revenir en arrière');
    assert.equal((await chat.api.click(TOKENS.admin, plan.id, 'confirm')).status, 200);
    await chat.waitPost('upgrades', asked, (p) => /Retour arrière terminé : Mattermost 1\.0\.0 est en service/.test(p.message), 120_000);
    const announce = await chat.waitPost('town-square', asked, () => true, 30_000);
    assert.equal(announce.message, 'Mattermost est revenu en version 1.0.0 après un retour arrière.');
    await waitForApp(d.appUrl, '1.0.0', 5_000);
    assert.deepEqual(await readRows(d.appUrl), d.rows);
    const h = history(stateDir);
    assert.deepEqual(h.slice(-3).map((x) => [x.kind, x.outcome, x.owner]), [['upgrade', 'succeeded', 'chat:pica-admin'], ['upgrade', 'rolled-back', 'chat:pica-admin'], ['rollback', 'succeeded', 'chat:pica-admin']]);
  });

  it('/upgrade cancel takes the buttons off a waiting plan', async () => {
    const asked = Date.now();
    await chat.type(TOKENS.admin, 'backup');
    const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
    assert.match(plan.message, /Plan de sauvegarde/);
    const cancelled = await chat.type(TOKENS.admin, 'cancel');
    assert.match(cancelled.text, /Annulé : \*\*Sauvegarde\*\*/);
    await waitFor('the plan without buttons', async () => {
      const p = (await chat.api.posts(chat.channel('upgrades'))).find((x) => x.id === plan.id)!;
      return p.props.attachments === undefined && /✖️ Annulé par @pica-admin/.test(p.message) ? true : undefined;
    });
    assert.match((await chat.type(TOKENS.admin, 'cancel')).text, /aucune confirmation en attente/);
  });

  it('status answers at once, in a table', async () => {
    const r = await chat.type(TOKENS.alice, 'status');
    assert.equal(r.status, 200);
    assert.match(r.text, /\| Service \| Conteneur \| État \| Santé \| Tourne en \| Épinglé \| Version \|/);
    assert.match(r.text, /\| mattermost \| `.*-app` \| en marche \| (sain|démarre) \| `1\.0\.0` \| `1\.0\.0` \| 1\.0\.0 \|/);
    assert.match(r.text, /\| Bilan \| ✅ en bonne santé \|/);
  });

  it('wrote nothing in English to chat', async () => {
    const posts: Post[] = [...(await chat.botPosts('upgrades')), ...(await chat.botPosts('town-square'))];
    const ephemerals = await chat.api.ephemerals();
    const texts = [...posts.map((p) => p.message), ...ephemerals.map((e) => e.message)];
    assert.ok(texts.length > 20);
    for (const text of texts) assert.doesNotMatch(prose(text), ENGLISH, text);
  });

  it('answered every call Mattermost made with HTTP 200 and a JSON body', async () => {
    const calls = await chat.api.calls();
    assert.ok(calls.filter((c) => c.kind === 'slash').length >= 10 && calls.filter((c) => c.kind === 'action').length >= 5);
    for (const c of calls) {
      assert.deepEqual([c.kind, c.status, c.responseHeaders?.['content-type']], [c.kind, 200, 'application/json'], `${c.kind} ${c.url}`);
      assert.equal(typeof JSON.parse(c.responseBody!), 'object');
    }
  });
});

describe("chat on Mattermost's own layout, in English, against a current server", () => {
  let d: Deployment;
  let chat: ChatView;
  let bot: BotProcess;
  let env: Record<string, string>;
  let stateDir: string;

  before(async () => {
    // The app takes 9 s to stop (APP_STOP_TIMEOUT is 10 s): the bot, stopped in the middle of
    // the switch, is gone (within 8 s) before Mattermost is back.
    d = await deploy('mattermost', { stopDelayMs: 9_000 });
    const api = new MattermostApi(d.appUrl);
    chat = new ChatView(api, await api.seed(WORLD));
    await api.settings({ flavour: 'current' });
    env = await botEnv(d.env, { BOT_LOCALE: 'en' });
    stateDir = env.STATE_DIR!;
    const reg = await mmUpgrade(['register-command', '--json'], env);
    assert.equal(reg.code, 0, reg.stderr);
    env.MM_SLASH_TOKENS = (JSON.parse(reg.stdout) as { token: string }).token;
    bot = await startBot(env);
  });

  after(async () => {
    await bot?.stop();
    await d?.down();
  });

  it('answers a refusal found while planning through the response_url, sent to MM_URL and not to the public SiteURL', async () => {
    const since = Date.now();
    const r = await chat.type(TOKENS.admin, '0.9.0');
    assert.match(r.text, /Preparing the plan for the upgrade to 0\.9\.0/);
    const late = await chat.waitEphemeral('pica-admin', since, (e) => e.source === 'response_url');
    assert.match(late.message, /0\.9\.0 is older than the running 1\.0\.0/);
    const call = (await chat.api.calls()).filter((c) => c.kind === 'slash').at(-1)!;
    assert.match(call.requestBody, /response_url=https%3A%2F%2Fmm\.example\.com%2Fhooks%2Fcommands%2F/);
    assert.match(call.requestBody, /&root_id=&/, 'a current server sends root_id');
  });

  it('a bot stopped in the middle of a switch keeps its chat messages, and delivers them when it starts again', async () => {
    const asked = Date.now();
    await chat.type(TOKENS.admin, '1.1.0');
    const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
    assert.match(plan.message, /`.*postgres:15`, versioned on its own: unchanged, keeps running/);
    assert.equal((await chat.api.click(TOKENS.admin, plan.id, 'confirm')).status, 200);
    await waitFor('Mattermost down with messages held', async () => (!(await pingOk(d.appUrl)) && outboxCount(stateDir) > 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 20 });
    const stoppedAt = Date.now();
    assert.equal(await bot.stop('SIGTERM'), 0, bot.output());
    assert.ok(Date.now() - stoppedAt < 10_000, 'stopped within the 10 s docker gives a container');
    const held = outboxCount(stateDir);
    assert.ok(held > 0, 'messages are still held after the bot stopped');
    assert.match(bot.output(), /serve: stopped .*jobInterrupted=true/);

    bot = await startBot(env);
    const result = await chat.waitPost('upgrades', asked, (p) => /interrupted/.test(p.message) && /^#### (✅|↩️)/.test(p.message), 120_000);
    assert.match(result.message, /The bot found a job that had been interrupted: \*\*Upgrade 1\.0\.0 → 1\.1\.0\*\* \(started by @pica-admin\)\./);
    assert.match(result.message, /\| Interrupted during \| Switch to the new images \(downtime\) \|/);
    await waitFor('an empty outbox', async () => (outboxCount(stateDir) === 0 ? true : undefined), { timeoutMs: 30_000 });
    const progress = (await chat.botPosts('upgrades')).filter((p) => p.create_at >= asked && /^#### Upgrade (in progress|finished|failed):/.test(p.message));
    assert.equal(progress.length, 1, 'the interrupted job kept its one progress post');
    assert.match(progress[0]!.message, /^#### Upgrade (finished|failed): 1\.0\.0 → 1\.1\.0/);
    assert.match(progress[0]!.message, /⚠️ Switch to the new images \(downtime\) — _interrupted_/);
    const version = /^#### ✅/.test(result.message) ? '1.1.0' : '1.0.0';
    await waitForApp(d.appUrl, version, 30_000);
    assert.deepEqual(await readRows(d.appUrl), d.rows);
    assert.equal(history(stateDir).at(-1)!.owner, 'chat:pica-admin');
  });

  it('an upgrade from the command line shows in the admin channel and is announced, through the same outbox', async () => {
    await bot.stop('SIGTERM');
    const running = (await chat.api.call<{ Version: string }>('GET', '/api/v4/config/client?format=old')).body.Version;
    const args = running === '1.0.0' ? ['upgrade', '1.1.0', '--yes'] : ['rollback', '--yes'];
    const target = running === '1.0.0' ? '1.1.0' : '1.0.0';
    const asked = Date.now();
    const r = await mmUpgrade(args, { ...env, USER: 'ana' });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /could not be delivered/);
    const progress = await chat.waitPost('upgrades', asked, (p) => /^#### (Upgrade|Rollback) finished/.test(p.message), 5_000);
    assert.match(progress.message, /Started by ana \(command line on the host\)\./);
    await chat.waitPost('upgrades', asked, (p) => new RegExp(`complete: Mattermost ${target.replace(/\./g, '\\.')} is serving`).test(p.message), 5_000);
    await chat.waitPost('town-square', asked, (p) => (running === '1.0.0' ? /^Mattermost has been updated to 1\.1\.0 — what's new: https:\/\// : /^Mattermost is back on version 1\.0\.0 after a rollback\.$/).test(p.message), 5_000);
    assert.equal(outboxCount(stateDir), 0);
  });

  it('wrote nothing in French to chat', async () => {
    const texts = [...(await chat.botPosts('upgrades')), ...(await chat.botPosts('town-square'))].map((p) => p.message);
    texts.push(...(await chat.api.ephemerals()).map((e) => e.message));
    assert.ok(texts.length > 5);
    for (const text of texts) assert.doesNotMatch(prose(text), FRENCH, text);
  });
});
