/**
 * Secrets: a full flow with recognisable secret values — the bot token, the slash command's
 * token, BOT_SECRET, the registry password (and a wrong one), the database password in the
 * db container's POSTGRES_PASSWORD and the app's data source — then a grep of everything
 * anyone else could read: the output of `serve` (at LOG_LEVEL=debug) and of every CLI run
 * (`--json` included), every post in every channel with every edit, every ephemeral reply and
 * every answer to a slash command or a click, every file under STATE_DIR and BACKUP_DIR, the
 * files the bot wrote beside the compose file, and every process's command line while it ran.
 * A secret may only be in a job journal (0600), inside the container specs it saves for a
 * rollback. Each secret is searched as is, URL- and form-encoded, in base64 and base64url, and
 * by its recognisable prefix alone (a copy cut short).
 *
 * The containers themselves write secrets to their logs while the bot watches them (the app
 * its data source, PostgreSQL a password change typed without its closing quote), as happens in
 * life: the bot quotes error lines in chat and in its results, and must mask them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LOG_ERROR_PATTERNS } from '../../src/config/index.js';
import type { JobResult } from '../../src/core/events.js';
import type { HistoryEntry } from '../../src/state/history.js';
import { startBot, type BotProcess } from '../bed/bot.js';
import { mmUpgrade } from '../bed/cli.js';
import type { Registry } from '../bed/daemons.js';
import { readRows, waitForApp } from '../bed/deploy.js';
import { waitFor, type RunResult } from '../bed/proc.js';
import { MattermostApi } from '../mattermost/client.js';
import { TOKENS, WORLD } from '../mattermost/world.js';
import { actionsOf, botEnv, ChatView, isPlanPost, postAction, postCommand } from '../integration/helpers/chat.js';
import { bed, fresh } from '../integration/helpers/upgrades.js';
import { passwordRegistry, secretsInContainerLogs, setCommandToken, useDbPassword, watchCommandLines } from './helpers/secrets-bed.js';
import { leaksOutsideSpecs, makeSecrets, octal, report, scanTree, SecretScanner, type Leak, type ScannedFile } from './helpers/secrets-scan.js';

const S = makeSecrets();
const scanner = new SecretScanner(Object.values(S));
const REGISTRY_USER = 'publisher';

/** Everything the flow printed or was answered, by where it came from. */
const seen: Array<{ where: string; text: string }> = [];
const keep = (where: string, text: string): void => void seen.push({ where, text });
const keepRun = (what: string, r: RunResult): RunResult => {
  keep(`\`mm-upgrade ${what}\` stdout`, r.stdout);
  keep(`\`mm-upgrade ${what}\` stderr`, r.stderr);
  return r;
};
const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();

describe('secrets: a full flow, then a grep of everything others can read', () => {
  let d: Awaited<ReturnType<typeof fresh>>;
  let chat: ChatView;
  let env: Record<string, string>;
  let bot: BotProcess | undefined;
  let registry: Registry | undefined;
  let scratch: string;
  let commandLines: ReturnType<typeof watchCommandLines>;
  let commandLineLeaks: Leak[] | undefined;

  before(async () => {
    commandLines = watchCommandLines(scanner);
    scratch = mkdtempSync(join(bed.root, 'secrets-'));
    d = await fresh('team');
    await useDbPassword(d, S.dbPassword.value);
    const api = new MattermostApi(d.appUrl);
    const users = WORLD.users.map((u) => (u.username === 'upgrade-bot' ? { ...u, token: S.botToken.value } : u));
    chat = new ChatView(api, await api.seed({ ...WORLD, users }));
    env = await botEnv(d.env, {
      BOT_LOCALE: 'en',
      LOG_LEVEL: 'debug',
      MM_BOT_TOKEN: S.botToken.value,
      BOT_SECRET: S.botSecret.value,
      // The bed's registry wants none, the engine passes them all the same (pulls, tag checks).
      REGISTRY_USER,
      REGISTRY_PASSWORD: S.registryPassword.value,
      VERIFY_WINDOW: '5s',
      HEALTH_TIMEOUT: '40',
      // An admin who also counts PostgreSQL's ERROR lines.
      LOG_ERROR_PATTERNS: JSON.stringify([...DEFAULT_LOG_ERROR_PATTERNS, String.raw`\bERROR:\s`]),
      RELEASE_WATCH_CRON: '',
      DOCKER_CONFIG: join(scratch, 'docker-config'),
    });
    const reg = keepRun('register-command --json', await mmUpgrade(['register-command', '--json'], env));
    assert.equal(reg.code, 0, reg.stderr);
    await setCommandToken(d, S.dbPassword.value, S.slashToken.value);
    env.MM_SLASH_TOKENS = S.slashToken.value;
    bot = await startBot(env);
  });

  after(async () => {
    await bot?.stop();
    await registry?.stop();
    commandLineLeaks ??= await commandLines?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('answers requests at its door without echoing a token or a secret', async () => {
    const fields = { channel_id: chat.channel('upgrades'), channel_name: 'upgrades', command: '/upgrade', team_domain: 'picasoft', team_id: chat.world.team.id, text: 'status', user_id: chat.world.users['pica-admin']!.id, user_name: 'pica-admin' };
    const formType = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const answers = [
      // The right token in a JSON body (refused: not a form), one too big, a wrong token.
      await postCommand(bot!.url, JSON.stringify({ ...fields, token: S.slashToken.value }), { Authorization: `Token ${S.slashToken.value}`, 'Content-Type': 'application/json' }),
      await postCommand(bot!.url, form({ ...fields, token: S.slashToken.value, text: `x${'y'.repeat(70_000)}` }), { Authorization: `Token ${S.slashToken.value}`, ...formType }),
      await postCommand(bot!.url, form({ ...fields, token: `${S.slashToken.value}x` }), { Authorization: `Token ${S.slashToken.value}x`, ...formType }),
      // A click whose context is forged, and one with no context.
      await postAction(bot!.url, { user_id: fields.user_id, post_id: 'x', context: { job: 'x', action: 'confirm', exp: Date.now() + 60_000, nonce: 'n', sig: 'forged' } }),
      await postAction(bot!.url, { user_id: fields.user_id, post_id: 'x' }),
    ];
    answers.forEach((a, i) => keep(`the bot's answer to request ${i + 1} at its door`, JSON.stringify(a)));
    for (const a of answers) assert.equal(a.contentType, 'application/json');
    assert.equal(answers[2]!.status, 401);
  });

  it('/upgrade 1.1.0, Upgrade now: succeeds, and quotes the error lines the containers logged with secrets in them', async () => {
    const asked = Date.now();
    const ack = await chat.type(TOKENS.admin, '1.1.0');
    keep('the reply to /upgrade 1.1.0', JSON.stringify(ack.body));
    const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
    assert.equal(actionsOf(plan)[0]!.id, 'confirm');
    const click = await chat.api.click(TOKENS.admin, plan.id, 'confirm');
    keep('the answer to the click on Upgrade now', JSON.stringify(click.body));
    assert.equal(click.status, 200);
    const markers = await secretsInContainerLogs(d, '1.1.0', { dbPassword: S.dbPassword.value, botToken: S.botToken.value, slashToken: S.slashToken.value });
    const result = await chat.waitPost('upgrades', asked, (p) => /Upgrade complete: Mattermost 1\.1\.0 is serving/.test(p.message), 120_000);
    // The lines did reach the result: what is checked below is the bot's masking, not luck.
    for (const m of markers) assert.ok(result.message.includes(m), `the result quotes "${m}":\n${result.message}`);
    await chat.waitPost('town-square', asked, (p) => /updated to 1\.1\.0/.test(p.message), 30_000);
    assert.deepEqual(await readRows(d.appUrl), d.rows);
  });

  it('/upgrade 1.2.0, Upgrade now: fails at start, rolled back, its log lines quoted', async () => {
    const asked = Date.now();
    keep('the reply to /upgrade 1.2.0', JSON.stringify((await chat.type(TOKENS.admin, '1.2.0')).body));
    const plan = await chat.waitPost('upgrades', asked, (p) => isPlanPost(p), 30_000, true);
    keep('the answer to the click on Upgrade now (1.2.0)', JSON.stringify((await chat.api.click(TOKENS.admin, plan.id, 'confirm')).body));
    const result = await chat.waitPost('upgrades', asked, (p) => /^#### ↩️/.test(p.message), 120_000);
    assert.match(result.message, /rolled back: Mattermost 1\.1\.0 is serving/);
    assert.match(result.message, /Failed to apply database migrations/);
    await waitForApp(d.appUrl, '1.1.0', 30_000);
  });

  it('/upgrade status and /upgrade help answer only to the asker', async () => {
    const since = Date.now();
    const status = await chat.type(TOKENS.admin, 'status');
    keep('the reply to /upgrade status', JSON.stringify(status.body));
    // A slow status comes a moment later through the command's response_url.
    const table = /\| Overall \|/.test(status.text) ? status.text : (await chat.waitEphemeral('pica-admin', since, (e) => e.source === 'response_url' && /\| Overall \|/.test(e.message))).message;
    assert.match(table, /\| Overall \|/);
    keep('the reply to /upgrade help', JSON.stringify((await chat.type(TOKENS.alice, 'help')).body));
    const code = await bot!.stop('SIGTERM');
    keep('serve (stdout and stderr)', bot!.output());
    bot = undefined;
    assert.equal(code, 0);
  });

  it('the command line: status, backup, upgrade (secrets in the logs again), rehearse a crashing version, all --json', async () => {
    const status = keepRun('status --json', await mmUpgrade(['status', '--json'], env));
    // 3 while the app's health check still says "starting" after the rollback: the output is what counts here.
    assert.ok([0, 3].includes(status.code), status.stderr);
    JSON.parse(status.stdout);
    const backup = keepRun('backup --json', await mmUpgrade(['backup', '--json'], env));
    assert.equal(backup.code, 0, backup.stderr);
    const [upgrade, markers] = await Promise.all([
      mmUpgrade(['upgrade', '1.1.1', '--yes', '--json'], env),
      secretsInContainerLogs(d, '1.1.1', { dbPassword: S.dbPassword.value, botToken: S.botToken.value, slashToken: S.slashToken.value }),
    ]);
    keepRun('upgrade 1.1.1 --yes --json', upgrade);
    assert.equal(upgrade.code, 0, upgrade.stderr);
    const lines = ((JSON.parse(upgrade.stdout) as JobResult).details.logLines as string[] | undefined) ?? [];
    for (const m of markers) assert.ok(lines.some((l) => l.includes(m)), `the result quotes "${m}":\n${lines.join('\n')}`);
    const rehearse = keepRun('rehearse 1.2.0 --json', await mmUpgrade(['rehearse', '1.2.0', '--json'], env));
    assert.equal(rehearse.code, 1, rehearse.stderr);
    assert.match(rehearse.stdout, /Failed to apply database migrations/);
  });

  it('build --push --json against a registry that wants a password: a wrong one is refused naming the user only; the right one publishes', async () => {
    registry = await passwordRegistry(scratch, REGISTRY_USER, S.registryPassword.value);
    const repo = `${registry.host}/secrets${process.pid}`;
    const context = new URL('../fixtures/upstream/', import.meta.url).pathname;
    const buildEnv = { ...env, APP_IMAGE: `${repo}/pica-mattermost`, DB_IMAGE: `${repo}/pica-mattermost-db` };
    const wrong = keepRun('build 1.2.3 --push --json (wrong password)', await mmUpgrade(['build', '1.2.3', '--context', context, '--push', '--json'], { ...buildEnv, REGISTRY_PASSWORD: S.wrongRegistryPassword.value }));
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stdout + wrong.stderr, new RegExp(`REGISTRY_USER \\(${REGISTRY_USER}\\)`));
    const right = keepRun('build 1.2.3 --push --json', await mmUpgrade(['build', '1.2.3', '--context', context, '--push', '--json'], buildEnv));
    assert.equal(right.code, 0, right.stderr);
    assert.equal((JSON.parse(right.stdout) as JobResult).outcome, 'succeeded');
    commandLineLeaks = await commandLines.stop();
  });

  it('no secret in the output of serve and of the command line, nor in an answer to Mattermost', () => {
    assert.ok(seen.length >= 20, `${seen.length} outputs kept`);
    const leaks = seen.flatMap((s) => scanner.scan(s.text, s.where));
    assert.equal(leaks.length, 0, `secrets in outputs:\n${report(leaks)}`);
  });

  it('no secret in chat: posts of every channel (every edit, the buttons as the server keeps them), ephemerals, answers to Mattermost', async () => {
    const api = chat.api;
    // Read back until the stand-in answers with its list (a busy machine may make it fail once).
    const all = <T>(what: string, get: () => Promise<T[]>): Promise<T[]> =>
      waitFor(`the stand-in's ${what}`, async () => {
        const r = await get();
        if (!Array.isArray(r)) throw new Error(`not a list: ${JSON.stringify(r).slice(0, 300)}`);
        return r;
      }, { timeoutMs: 30_000, intervalMs: 500 });
    const texts: Array<{ where: string; text: string }> = [
      ...(await all('posts', () => api.posts(undefined, true))).map((p) => ({ where: `post ${p.id} in ${Object.values(chat.world.channels).find((c) => c.id === p.channel_id)?.name ?? p.channel_id}`, text: `${p.message}\n${JSON.stringify(p.props)}` })),
      ...(await all('post versions', () => api.versions())).map((v) => ({ where: `version of post ${v.post_id} (${v.by})`, text: `${v.message}\n${JSON.stringify(v.props)}` })),
      ...(await all('ephemerals', () => api.ephemerals())).map((e) => ({ where: `ephemeral ${e.id} (${e.source})`, text: `${e.message}\n${JSON.stringify(e.props)}` })),
      // What the bot answered each call; a click's request too (its context is the bot's). A slash
      // request carries the command's token: Mattermost sends it, that is where it must be.
      ...(await all('calls', () => api.calls())).flatMap((c) => [
        { where: `the bot's answer to a ${c.kind} call`, text: `${JSON.stringify(c.responseHeaders ?? {})}\n${c.responseBody ?? ''}` },
        ...(c.kind === 'action' ? [{ where: 'a click sent to the bot', text: c.requestBody }] : []),
      ]),
    ];
    assert.ok(texts.length >= 20, `${texts.length} chat texts`);
    const leaks = texts.flatMap((t) => scanner.scan(t.text, t.where));
    assert.equal(leaks.length, 0, `secrets in chat:\n${report(leaks)}`);
  });

  it('no secret in the files under STATE_DIR and BACKUP_DIR, nor beside the compose file, except inside the container specs of the 0600 journals; dumps 0600', (t) => {
    const files: ScannedFile[] = [
      ...scanTree(scanner, env.STATE_DIR!, 'STATE_DIR'),
      // A dump is the database itself (the stand-in's posts, its users' tokens): its mode is what protects it.
      ...scanTree(scanner, env.BACKUP_DIR!, 'BACKUP_DIR', (name) => name.endsWith('.dump')),
      // What the bot wrote beside the compose file (its .bak); the team's own .env holds the password by design.
      ...scanTree(scanner, d.dir, 'compose folder', (name) => name.includes('/')).filter((f) => !f.name.includes('/') && f.name !== '.env'),
    ];
    const dumps = files.filter((f) => f.name.endsWith('.dump'));
    assert.ok(dumps.length >= 2, 'dumps were taken');
    for (const f of dumps) assert.equal(octal(f.mode), '0600', `${f.path} is ${octal(f.mode)}`);

    const jobs = readFileSync(join(env.STATE_DIR!, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as HistoryEntry);
    t.diagnostic(`jobs: ${jobs.map((j) => `${j.title} ${j.outcome} in ${((Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000).toFixed(1)} s`).join('; ')}`);
    const holding = files.filter((f) => f.leaks.length > 0);
    t.diagnostic(`files that hold a secret: ${holding.map((f) => `${f.name} ${octal(f.mode)} (${[...new Set(f.leaks.map((l) => l.secret))].join(', ')})`).join('; ') || 'none'}`);
    t.diagnostic(`files readable by others: ${files.filter((f) => f.mode & 0o004).map((f) => `${f.name} ${octal(f.mode)}`).join('; ') || 'none'}`);
    // jobs/ holds the journals and the copies of the compose files a job saved (a compose file
    // or its .env may hold passwords, as Mattermost's own .env does): its owner's only.
    const open = files.filter((f) => f.path.startsWith(join(env.STATE_DIR!, 'jobs') + '/') && (f.mode & 0o077) !== 0);
    assert.equal(open.length, 0, `files in STATE_DIR/jobs readable beyond their owner: ${open.map((f) => `${f.name} ${octal(f.mode)}`).join(', ')}`);
    const misplaced = holding.filter((f) => !(f.path.startsWith(join(env.STATE_DIR!, 'jobs') + '/') && f.name.endsWith('.jsonl')));
    assert.equal(misplaced.length, 0, `secrets outside the job journals:\n${report(misplaced.flatMap((f) => f.leaks))}\nmodes: ${misplaced.map((f) => `${f.name} ${octal(f.mode)}`).join(', ')}`);
    for (const f of holding) assert.equal(octal(f.mode), '0600', `${f.name} holds a secret and is ${octal(f.mode)}`);
    const outside = holding.flatMap((f) => leaksOutsideSpecs(scanner, f));
    assert.equal(outside.length, 0, `secrets in journals outside the container specs:\n${report(outside)}`);
    // The specs do hold the database password (the db container's env): the scan sees into journals.
    assert.ok(holding.some((f) => f.leaks.some((l) => l.secret === S.dbPassword.name)), 'a journal keeps the db container spec, POSTGRES_PASSWORD included');
  });

  it('no secret on any command line while all this ran (what `ps` shows every user)', async () => {
    commandLineLeaks ??= await commandLines.stop();
    assert.equal(commandLineLeaks.length, 0, `secrets in command lines:\n${report(commandLineLeaks)}`);
  });
});
