/**
 * `mm-upgrade build` on the bed's real engine and registries: the fixture upstream checkout
 * (test/fixtures/upstream) built, tagged X.Y.Z and latest, pushed, checked and removed
 * locally; a mismatched MM_VERSION, a failing Dockerfile step, a registry that wants
 * credentials; then the published version upgraded to with `mm-upgrade upgrade`.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobResult } from '../../src/core/events.js';
import { mmUpgrade, mmUpgradeBackground } from '../bed/cli.js';
import { acquireJobLock } from '../../src/state/job-lock.js';
import { startRegistry } from '../bed/daemons.js';
import { readRows } from '../bed/deploy.js';
import { run, waitFor } from '../bed/proc.js';
import { bed, fresh } from './helpers/upgrades.js';
import { startBot } from '../bed/bot.js';
import { MattermostApi } from '../mattermost/client.js';
import { TOKENS, WORLD } from '../mattermost/world.js';
import { actionsOf, botEnv as chatEnv, ChatView, isPlanPost } from './helpers/chat.js';

const FIXTURE = new URL('../fixtures/upstream/', import.meta.url).pathname.replace(/\/$/, '');
const docker = (args: string[], env: Record<string, string> = {}) => run('docker', args, { env: { ...process.env, DOCKER_HOST: bed.dockerHost, ...env } });
let n = 0;
/** Repositories of their own for each test, in `registry`. */
const repos = (registry = bed.registry) => {
  const base = `${registry}/pub${process.pid}x${++n}`;
  return { app: `${base}/pica-mattermost`, db: `${base}/pica-mattermost-db` };
};
const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
const scratch = (prefix: string): string => {
  const dir = mkdtempSync(join(bed.root, prefix));
  roots.push(dir);
  return dir;
};

function botEnv(images: { app: string; db: string }, extra: Record<string, string> = {}): Record<string, string> {
  return { MM_URL: 'http://127.0.0.1:9', DOCKER_HOST: bed.dockerHost, APP_IMAGE: images.app, DB_IMAGE: images.db, STATE_DIR: scratch('state-'), HOME: scratch('home-'), ...extra };
}

/** The registry's own answers (v2 API): tags of a repository, and the digest of a tag. */
async function registryTags(registry: string, repo: string, auth?: string): Promise<string[]> {
  const res = await fetch(`http://${registry}/v2/${repo.slice(registry.length + 1)}/tags/list`, { headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} });
  if (res.status === 404) return [];
  assert.equal(res.status, 200, `tags of ${repo}: HTTP ${res.status}`);
  return ((await res.json()) as { tags: string[] | null }).tags?.sort() ?? [];
}

async function manifest(ref: string): Promise<{ digest: string; config: Record<string, unknown> }> {
  const [registry, ...rest] = ref.split('/');
  const [repo, tag] = rest.join('/').split(':');
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(res.status, 200, `manifest of ${ref}`);
  const body = (await res.json()) as { config: { digest: string } };
  const config = (await (await fetch(`http://${registry}/v2/${repo}/blobs/${body.config.digest}`)).json()) as Record<string, unknown>;
  return { digest: res.headers.get('docker-content-digest')!, config };
}

async function localRefs(): Promise<string[]> {
  return (await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n').filter(Boolean);
}

/** A copy of the fixture checkout whose archives hold the bed's real Mattermost stand-in and PostgreSQL (as the upstream downloads them). */
async function runnableCheckout(): Promise<string> {
  const dir = join(scratch('upstream-'), 'upstream');
  cpSync(FIXTURE, dir, { recursive: true });
  for (const [image, file] of [[`${bed.images.app}:1.1.0`, 'app/mattermost.tar'], [`${bed.images.db}:1.1.0`, 'db/postgres.tar']] as const) {
    await docker(['pull', '--quiet', image]);
    const id = (await docker(['create', image])).stdout.trim();
    await docker(['export', '--output', join(dir, file), id]);
    await docker(['rm', id]);
  }
  return dir;
}

describe('mm-upgrade build', () => {
  it('build 1.2.3 --context test/fixtures/upstream --push: 1.2.3 and latest of both images in the registry, same digests, no local copy', async () => {
    const images = repos();
    const big = join(FIXTURE, 'app', 'big.bin');
    writeFileSync(big, Buffer.alloc(32 * 1024 * 1024, 1));
    let r;
    try {
      r = await mmUpgrade(['build', '1.2.3', '--context', FIXTURE, '--push', '--json'], botEnv(images));
    } finally {
      rmSync(big, { force: true });
    }
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as JobResult;
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.job.kind, 'build');

    const refs = result.details.references as Array<{ ref: string; digest: string }>;
    assert.deepEqual(refs.map((x) => x.ref), [`${images.app}:1.2.3`, `${images.app}:latest`, `${images.db}:1.2.3`, `${images.db}:latest`]);
    for (const repo of [images.app, images.db]) {
      assert.deepEqual(await registryTags(bed.registry, repo), ['1.2.3', 'latest']);
      const [v, latest] = [await manifest(`${repo}:1.2.3`), await manifest(`${repo}:latest`)];
      assert.equal(v.digest, latest.digest, `${repo}: latest is 1.2.3`);
      assert.equal(refs.find((x) => x.ref === `${repo}:1.2.3`)!.digest, v.digest, 'the digest reported is the registry\'s');
    }
    // edition=team and MM_VERSION reached the app image; the .dockerignored 32 MB file did not reach the context.
    const app = (await manifest(`${images.app}:1.2.3`)).config as { config: { Labels: Record<string, string>; Env: string[] } };
    assert.equal(app.config.Labels['org.mattermost.edition'], 'team');
    assert.equal(app.config.Labels['org.opencontainers.image.version'], '1.2.3');
    const built = result.details.images as Array<{ role: string; contextBytes: number }>;
    assert.ok(built.find((i) => i.role === 'app')!.contextBytes < 200_000, `context ${built.find((i) => i.role === 'app')!.contextBytes} bytes: big.bin was sent`);

    const local = await localRefs();
    assert.deepEqual(local.filter((x) => x.startsWith(images.app) || x.startsWith(images.db)), [], 'no local copy');
    // Progress went to stderr: the build steps, the pushes, the removal.
    assert.match(r.stderr, /Step \d+\/\d+ : ADD mattermost\.tar \//);
    assert.match(r.stderr, /Push the latest tags/);
  });

  it('refuses a checkout that builds another version, naming it, and builds nothing; --set-version patches it and says so', async () => {
    const images = repos();
    const r = await mmUpgrade(['build', '1.2.4', '--context', FIXTURE, '--push'], botEnv(images));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /app\/Dockerfile builds Mattermost 1\.2\.3 \(line 7\), not 1\.2\.4: nothing was built/);
    assert.match(r.stderr, /--set-version/);
    assert.deepEqual(await registryTags(bed.registry, images.app), []);
    assert.equal((await localRefs()).filter((x) => x.includes(images.app.split('/')[1]!)).length, 0);
    assert.match(readFileSync(join(FIXTURE, 'app', 'Dockerfile'), 'utf8'), /^ENV MM_VERSION=1\.2\.3$/m, 'the fixture is untouched');

    const copy = join(scratch('setver-'), 'upstream');
    cpSync(FIXTURE, copy, { recursive: true });
    const s = await mmUpgrade(['build', '1.2.4', '--context', copy, '--set-version'], botEnv(images));
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /Changed by --set-version:\n {2}@@ line 7 @@\n {2}-ENV MM_VERSION=1\.2\.3\n {2}\+ENV MM_VERSION=1\.2\.4/);
    assert.match(readFileSync(join(copy, 'app', 'Dockerfile'), 'utf8'), /^ENV MM_VERSION=1\.2\.4$/m);
    // Without --push the images stay local, tagged.
    const local = await localRefs();
    for (const ref of [`${images.app}:1.2.4`, `${images.app}:latest`, `${images.db}:1.2.4`, `${images.db}:latest`]) assert.ok(local.includes(ref), ref);
    await docker(['rmi', `${images.app}:1.2.4`, `${images.app}:latest`, `${images.db}:1.2.4`, `${images.db}:latest`]);
  });

  it('a Dockerfile that fails at a step: that step is quoted, nothing is pushed, the image already built is removed (exit 2)', async () => {
    const images = repos();
    const copy = join(scratch('failing-'), 'upstream');
    cpSync(FIXTURE, copy, { recursive: true });
    appendFileSync(join(copy, 'db', 'Dockerfile'), 'COPY init-missing.sql /docker-entrypoint-initdb.d/\n');
    const r = await mmUpgrade(['build', '1.2.3', '--context', copy, '--push', '--json'], botEnv(images));
    assert.equal(r.code, 2, r.stderr);
    const result = JSON.parse(r.stdout) as JobResult;
    assert.equal(result.outcome, 'refused');
    assert.match(result.reason!, /Build the db image failed: Step \d+\/\d+ : COPY init-missing\.sql \/docker-entrypoint-initdb\.d\/ failed: COPY failed: .*init-missing\.sql/);
    assert.match(r.stderr, /COPY init-missing\.sql/);
    assert.deepEqual(await registryTags(bed.registry, images.app), []);
    assert.deepEqual(await registryTags(bed.registry, images.db), []);
    assert.deepEqual((await localRefs()).filter((x) => x.startsWith(images.app) || x.startsWith(images.db)), [], 'the app image built before is removed');
  });

  it('a push that fails half-way: exit 3, what the registry holds now, the commands that finish it; no latest before its version', async () => {
    const images = { app: repos().app, db: '127.0.0.1:9/nowhere/pica-mattermost-db' };
    const r = await mmUpgrade(['build', '1.2.3', '--context', FIXTURE, '--push', '--json'], botEnv(images));
    assert.equal(r.code, 3, r.stderr);
    const result = JSON.parse(r.stdout) as JobResult;
    assert.equal(result.outcome, 'human-needed');
    assert.match(result.reason!, new RegExp(`the registry now holds ${images.app}:1\\.2\\.3 \\(sha256:[0-9a-f]{64}\\), but not ${images.db}:1\\.2\\.3, ${images.app}:latest, ${images.db}:latest`));
    assert.deepEqual(result.manualSteps.slice(0, 3), [`docker push ${images.db}:1.2.3`, `docker push ${images.app}:latest`, `docker push ${images.db}:latest`]);
    assert.match(result.hint!, /mm-upgrade build 1\.2\.3 --context .* --push` again/);
    assert.deepEqual(await registryTags(bed.registry, images.app), ['1.2.3'], 'latest is not pushed before every version tag is');
    // The local images stay, so that the commands above can finish the job.
    const local = await localRefs();
    for (const ref of [`${images.app}:1.2.3`, `${images.db}:latest`]) assert.ok(local.includes(ref), ref);
    await docker(['rmi', `${images.app}:1.2.3`, `${images.app}:latest`, `${images.db}:1.2.3`, `${images.db}:latest`]);
  });

  it('takes the single-job lock: refused with exit 4 while another job runs, naming it', async () => {
    const env = botEnv(repos());
    const held = await acquireJobLock(env.STATE_DIR!, { jobId: 'j-upgrade', kind: 'upgrade', owner: 'chat:pica-admin', title: 'upgrade 1.0.0 → 1.1.0', startedAt: new Date().toISOString() });
    assert.ok(held.acquired);
    const r = await mmUpgrade(['build', '1.2.3', '--context', FIXTURE, '--push'], env);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /another job is running: upgrade 1\.0\.0 → 1\.1\.0 \(by chat:pica-admin/);
  });

  it('killed (-9) in the middle of a build: the next start takes it up and removes what it had made', async () => {
    const images = repos();
    const checkout = await runnableCheckout();
    const env = botEnv(images);
    const job = mmUpgradeBackground(['build', '1.2.3', '--context', checkout, '--push'], env);
    await job.waitFor(/Step \d+\/\d+ : ADD postgres\.tar/, 120_000);
    job.child.kill('SIGKILL');
    await job.done;
    const s = await mmUpgrade(['status', '--json'], env);
    assert.match(s.stderr, /Recovered an interrupted job: build 1\.2\.3 and push \(by cli:[^)]+\): ROLLED-BACK: interrupted at step build-db; recovered by rolling back/);
    assert.equal(existsSync(join(env.STATE_DIR!, 'job.lock')), false);
    // The builder stops with its client; whatever it had tagged is gone.
    await waitFor('no local tag of the interrupted build', async () => ((await localRefs()).some((x) => x.startsWith(images.app) || x.startsWith(images.db)) ? undefined : true), { timeoutMs: 10_000, intervalMs: 200 });
    assert.deepEqual(await registryTags(bed.registry, images.app), []);
  });

  it('a registry that wants credentials: wrong ones are refused clearly (nothing published, password never shown); right ones, from `docker login`, publish', async () => {
    const root = scratch('auth-registry-');
    const password = 'pu8lish-Secret';
    const hash = (await run('python3', ['-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))', password])).stdout.trim();
    writeFileSync(join(root, 'htpasswd'), `publisher:${hash}\n`);
    const registry = await startRegistry(root, { name: 'registry', htpasswd: join(root, 'htpasswd') });
    try {
      const images = repos(registry.host);
      const wrong = await mmUpgrade(['build', '1.2.3', '--context', FIXTURE, '--push'], botEnv(images, { REGISTRY_USER: 'publisher', REGISTRY_PASSWORD: 'not-the-password' }));
      assert.equal(wrong.code, 2, wrong.stderr);
      const out = wrong.stdout + wrong.stderr;
      assert.match(out, /push .*pica-mattermost:1\.2\.3 failed: .*(unauthorized|authentication required)/i);
      assert.match(out, /The registry refused the credentials used: REGISTRY_USER \(publisher\)/);
      assert.doesNotMatch(out, /not-the-password/);
      assert.deepEqual(await registryTags(registry.host, images.app, `publisher:${password}`), []);
      assert.deepEqual((await localRefs()).filter((x) => x.startsWith(images.app) || x.startsWith(images.db)), []);

      // No REGISTRY_USER: the credentials `docker login` wrote in the user's Docker config.
      const dockerConfig = scratch('docker-config-');
      await run('docker', ['login', '--username', 'publisher', '--password-stdin', registry.host], { env: { ...process.env, DOCKER_HOST: bed.dockerHost, DOCKER_CONFIG: dockerConfig }, input: password });
      const right = await mmUpgrade(['build', '1.2.3', '--context', FIXTURE, '--push'], botEnv(images, { DOCKER_CONFIG: dockerConfig }));
      assert.equal(right.code, 0, right.stderr);
      assert.doesNotMatch(right.stdout + right.stderr, new RegExp(password));
      for (const repo of [images.app, images.db]) assert.deepEqual(await registryTags(registry.host, repo, `publisher:${password}`), ['1.2.3', 'latest']);
    } finally {
      await registry.stop();
    }
  });

  it('the published version is then upgradable: mm-upgrade upgrade 1.2.3 --yes moves a team deployment onto it, rows intact', async () => {
    const images = repos();
    const checkout = await runnableCheckout();
    const b = await mmUpgrade(['build', '1.2.3', '--context', checkout, '--push'], botEnv(images));
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /SUCCEEDED build 1\.2\.3 and push: 1\.2\.3 published/);

    const d = await fresh('team');
    const u = await mmUpgrade(['upgrade', '1.2.3', '--yes', '--json'], { ...d.botEnv, APP_IMAGE: images.app, DB_IMAGE: images.db });
    assert.equal(u.code, 0, u.stderr);
    const result = JSON.parse(u.stdout) as JobResult;
    assert.equal(result.outcome, 'succeeded');
    const app = (await docker(['inspect', '--format', '{{.Config.Image}}', d.appContainer])).stdout.trim();
    const db = (await docker(['inspect', '--format', '{{.Config.Image}}', d.dbContainer])).stdout.trim();
    assert.equal(app, `${images.app}:1.2.3`);
    assert.equal(db, `${images.db}:1.2.3`);
    assert.deepEqual(await readRows(d.appUrl), d.rows);
    const res = await fetch(`${d.appUrl}/api/v4/system/ping`);
    assert.equal(res.headers.get('x-version-id')?.split('.').slice(0, 3).join('.'), '1.2.3');
  });
});

describe('/upgrade build in chat', () => {
  it('asked and confirmed in chat: the plan, the builder\'s step in the progress post, the result with the digests and a *Plan upgrade to 1.2.3* button that plans it', async () => {
    const images = repos();
    const checkout = await runnableCheckout();
    const d = await fresh('team');
    const api = new MattermostApi(d.appUrl);
    const chat = new ChatView(api, await api.seed(WORLD));
    const env = await chatEnv({ ...d.env, APP_IMAGE: images.app, DB_IMAGE: images.db, BUILD_CONTEXT: checkout }, { BOT_LOCALE: 'en' });
    env.MM_SLASH_TOKENS = (JSON.parse((await mmUpgrade(['register-command', '--json'], env)).stdout) as { token: string }).token;
    const bot = await startBot(env);
    try {
      const since = Date.now();
      const typed = await chat.type(TOKENS.admin, 'build 1.2.3');
      assert.match(typed.text, /Preparing the plan for building and publishing 1\.2\.3/);
      const plan = await chat.waitPost('upgrades', since, (p) => isPlanPost(p), 30_000, true);
      assert.match(plan.message, /Build plan: the images of Mattermost \*\*1\.2\.3\*\*/);
      assert.ok(plan.message.includes(`\`${images.app}:1.2.3\` (and \`latest\`) from \`app/Dockerfile\``), plan.message);
      assert.match(plan.message, /`edition=team`/);
      assert.match(plan.message, /\| Not built \| `web` \(not used\) \|/);
      assert.deepEqual(actionsOf(plan).map((a) => a.name), ['Build and push now', 'Cancel']);

      const clicked = Date.now();
      assert.equal((await chat.api.click(TOKENS.admin, plan.id, 'confirm')).status, 200);
      const result = await chat.waitPost('upgrades', clicked, (p) => /^#### ✅ Images of Mattermost 1\.2\.3 built and published/.test(p.message), 120_000, true);
      for (const repo of [images.app, images.db]) {
        const digest = (await manifest(`${repo}:1.2.3`)).digest;
        assert.ok(result.message.includes(`\`${repo}:1.2.3\` \`${digest.slice(0, 19)}…\``), result.message);
      }
      assert.match(result.message, /Local images \| 4 tags removed, no local copy left/);
      assert.deepEqual(actionsOf(result).map((a) => a.name), ['Plan upgrade to 1.2.3']);
      // The progress post showed the builder's current instruction while it ran.
      const progress = (await chat.botPosts('upgrades', true)).find((p) => p.create_at >= clicked && /^#### Build (in progress|finished): 1\.2\.3/.test(p.message))!;
      const versions = (await api.versions(progress.id)).map((v) => v.message);
      assert.ok(versions.some((v) => /⏳ Build the app image — `Step \d+\/\d+ : /.test(v)), versions.join('\n---\n'));
      assert.deepEqual(await registryTags(bed.registry, images.app), ['1.2.3', 'latest']);

      const planClick = Date.now();
      assert.equal((await chat.api.click(TOKENS.admin, result.id, 'plan')).status, 200);
      const upgradePlan = await chat.waitPost('upgrades', planClick, (p) => isPlanPost(p), 30_000, true);
      assert.match(upgradePlan.message, /Upgrade plan: Mattermost 1\.0\.0 → \*\*1\.2\.3\*\*/);
    } finally {
      await bot.stop();
    }
  });
});
