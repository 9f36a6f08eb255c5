/**
 * The bed's images, exercised with real containers: the PostgreSQL image initialises and answers
 * docker exec pg_isready / psql / pg_dump; the Mattermost stand-in serves its API against it,
 * waits for a database that is not there yet, and its crash variant dies with an error line.
 *
 * Uses the bed's dockerd and registry when BED_DOCKER_HOST and BED_REGISTRY are set (building the
 * images only if the registry lacks them); otherwise starts its own pair in a temp dir.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerd, startRegistry, type Dockerd, type Registry } from '../bed/daemons.js';
import { bedImageNames, bedImageTags, buildAndPushImages, type BedImages } from '../bed/images.js';
import { freePort, httpGet, run, waitFor } from '../bed/proc.js';

const DOCKER = '/usr/bin/docker';
const id = randomBytes(3).toString('hex');
const log = (line: string): void => void process.stderr.write(`[bed-images] ${line}\n`);

let workDir = '';
let dockerEnv: NodeJS.ProcessEnv = {};
let images: BedImages;
let builtHere = false;
let ownDaemons: { dockerd: Dockerd; registry: Registry } | undefined;
const containers: string[] = [];
const localBefore = new Set<string>();
const pulled = new Set<string>();

function docker(args: string[], opts: { allowFailure?: boolean } = {}) {
  return run(DOCKER, args, { env: dockerEnv, ...opts });
}

/** docker with raw bytes out (and optionally in): pg_dump -Fc output is binary. */
function dockerBytes(args: string[], input?: Buffer): Promise<{ code: number; out: Buffer; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, { env: dockerEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out: Buffer.concat(out), err }));
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

function name(what: string): string {
  const n = `bedimg-${what}-${id}`;
  containers.push(n);
  return n;
}

/** docker run -d --network host; remembers the image so that after() can remove what it pulled. */
async function runDetached(container: string, image: string, args: string[]): Promise<void> {
  pulled.add(image);
  await docker(['run', '-d', '--name', container, '--network', 'host', ...args, image]);
}

async function imageId(ref: string): Promise<string> {
  pulled.add(ref);
  await docker(['pull', '--quiet', ref]);
  return (await docker(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim();
}

async function logsOf(container: string): Promise<string> {
  const r = await docker(['logs', container], { allowFailure: true });
  return r.stdout + r.stderr;
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

function httpPostJson(url: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(url, {
      method: 'POST',
      timeout: 5_000,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

async function registryTags(repo: string): Promise<string[]> {
  const path = repo.slice(images.registry.length + 1);
  const r = await httpGet(`http://${images.registry}/v2/${path}/tags/list`);
  if (r.status !== 200) return [];
  return ((JSON.parse(r.body) as { tags?: string[] | null }).tags ?? []).slice().sort();
}

async function missingTags(): Promise<string[]> {
  const missing: string[] = [];
  for (const [repo, tags] of Object.entries(bedImageTags(images))) {
    const present = new Set(await registryTags(repo));
    missing.push(...tags.filter((t) => !present.has(t)).map((t) => `${repo}:${t}`));
  }
  return missing;
}

before(
  async () => {
    workDir = mkdtempSync(join(tmpdir(), 'bed-images-test-'));
    let dockerHost = process.env.BED_DOCKER_HOST;
    let registryHost = process.env.BED_REGISTRY;
    if (!dockerHost || !registryHost) {
      const registry = await startRegistry(workDir);
      const dockerd = await startDockerd(workDir).catch(async (err: unknown) => {
        await registry.stop();
        throw err;
      });
      ownDaemons = { dockerd, registry };
      dockerHost = dockerd.dockerHost;
      registryHost = registry.host;
      log(`own dockerd (pid ${dockerd.pid}) and registry ${registry.host} under ${workDir}`);
    }
    dockerEnv = { ...process.env, DOCKER_HOST: dockerHost, DOCKER_CONFIG: join(workDir, 'docker-config-test') };
    images = bedImageNames(registryHost);

    const missing = await missingTags();
    if (missing.length > 0) {
      const t0 = Date.now();
      images = await buildAndPushImages({ dockerHost, registry: registryHost, workDir: join(workDir, 'build'), log });
      builtHere = true;
      log(`built and pushed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const local = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']);
    for (const ref of local.stdout.split('\n').filter(Boolean)) localBefore.add(ref);
  },
  { timeout: 300_000 },
);

after(
  async () => {
    if (containers.length > 0) await docker(['rm', '--force', '--volumes', ...containers], { allowFailure: true });
    // Leave the shared dockerd as found: the engine's tests rely on having to pull.
    const toRemove = [...pulled].filter((ref) => !localBefore.has(ref));
    if (toRemove.length > 0) await docker(['rmi', '--force', ...toRemove], { allowFailure: true });
    if (ownDaemons) {
      await ownDaemons.dockerd.stop();
      await ownDaemons.registry.stop();
    }
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  },
  { timeout: 120_000 },
);

describe('bed images', () => {
  const dbUser = 'mmuser';
  const dbPassword = `pw-${id}`;
  const dbName = 'mattermost';
  let dbPort = 0;
  let db = '';
  const dataSource = (port: number): string =>
    `postgres://${dbUser}:${dbPassword}@127.0.0.1:${port}/${dbName}?sslmode=disable&connect_timeout=10`;

  it('pushes every tag to the registry', async () => {
    assert.deepEqual(await missingTags(), []);
    if (builtHere) {
      const local = await docker(['image', 'ls', '--all', '--format', '{{.Repository}}:{{.Tag}}']);
      const left = local.stdout.split('\n').filter((r) => r.startsWith(images.registry) || r.startsWith('bed-build/'));
      assert.deepEqual(left, [], 'local copies must be removed after the push');
    }
  });

  it('db tags: 2.0.0 and 1.1.0 share an image ID, 1.0.0 differs; 3.0.0 says PostgreSQL 16', async () => {
    const [v100, v110, v200] = await Promise.all(['1.0.0', '1.1.0', '2.0.0'].map((t) => imageId(`${images.db}:${t}`)));
    assert.equal(v200, v110);
    assert.notEqual(v100, v110);
    await imageId(`${images.db}:3.0.0`);
    const inspect = await docker(['image', 'inspect', '--format', '{{json .Config}}', `${images.db}:3.0.0`]);
    const config = JSON.parse(inspect.stdout) as { Env: string[]; Labels: Record<string, string> };
    assert.ok(config.Env.includes('PG_MAJOR=16'), config.Env.join(' '));
    assert.equal(config.Labels['pica.postgres.major'], '16');
    assert.equal(config.Labels['org.opencontainers.image.version'], '3.0.0');
  });

  it('db initialises with POSTGRES_USER/PASSWORD/DB and PGPORT, as locked down as Mattermost runs it', async () => {
    dbPort = await freePort();
    db = name('db');
    await runDetached(db, `${images.db}:1.0.0`, [
      ...['--security-opt', 'no-new-privileges:true', '--read-only', '--tmpfs', '/tmp', '--tmpfs', '/var/run/postgresql'],
      ...['-e', `POSTGRES_USER=${dbUser}`, '-e', `POSTGRES_PASSWORD=${dbPassword}`, '-e', `POSTGRES_DB=${dbName}`],
      ...['-e', `PGPORT=${dbPort}`],
    ]);
    // Over TCP: the init phase's temporary server only listens on the unix socket.
    await waitFor(
      'the db to accept TCP connections',
      async () => ((await docker(['exec', db, 'pg_isready', '-h', '127.0.0.1'], { allowFailure: true })).code === 0 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const ready = await docker(['exec', db, 'pg_isready'], { allowFailure: true });
    assert.equal(ready.code, 0, ready.stdout + ready.stderr);
    assert.match(ready.stdout, new RegExp(`:${dbPort} - accepting connections`));

    const q = await docker(['exec', db, 'psql', '-U', dbUser, '-d', dbName, '-Atc', 'select 1, current_user, current_database()']);
    assert.equal(q.stdout.trim(), `1|${dbUser}|${dbName}`);
    const who = await docker(['exec', db, 'ps', '-o', 'user,args']);
    assert.match(who.stdout, /postgres\s+postgres/, 'postgres runs as the postgres user');
  });

  it('app 1.0.0 serves ping, client config, X-Version-Id and posts, and records its version', async () => {
    const port = await freePort();
    const app = name('app');
    await runDetached(app, `${images.app}:1.0.0`, [
      '-e',
      `MM_SQLSETTINGS_DATASOURCE=${dataSource(dbPort)}`,
      '-e',
      `MM_SERVICESETTINGS_LISTENADDRESS=:${port}`,
    ]);
    const base = `http://127.0.0.1:${port}`;
    const ping = await waitFor(
      'app ping',
      async () => {
        const r = await httpGet(`${base}/api/v4/system/ping`).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.equal((JSON.parse(ping.body) as { status: string }).status, 'OK');
    assert.match(String(ping.headers['x-version-id']), /^1\.0\.0\.1\.0\.0\.[0-9a-f]+\.false$/);

    const cfg = await httpGet(`${base}/api/v4/config/client?format=old`);
    assert.equal(cfg.status, 200);
    const client = JSON.parse(cfg.body) as Record<string, string>;
    assert.equal(client.Version, '1.0.0');
    assert.equal(client.BuildNumber, '1.0.0');
    assert.equal(client.BuildEnterpriseReady, 'false');

    const created = await httpPostJson(`${base}/api/v4/test/posts`, { message: `hello ${id}` });
    assert.equal(created.status, 201, created.body);
    const posts = JSON.parse((await httpGet(`${base}/api/v4/test/posts`)).body) as Array<{ message: string }>;
    assert.deepEqual(
      posts.map((p) => p.message),
      [`hello ${id}`],
    );

    const missing = await httpGet(`${base}/api/v4/nothing-here`);
    assert.equal(missing.status, 404);
    assert.equal((JSON.parse(missing.body) as { status_code: number }).status_code, 404);

    const version = await docker(['exec', db, 'psql', '-U', dbUser, '-d', dbName, '-Atc', "select value from systems where name = 'Version'"]);
    assert.equal(version.stdout.trim(), '1.0.0');

    const logs = jsonLines(await logsOf(app));
    assert.ok(logs.some((l) => l.level === 'info' && l.msg === `Server is listening on 127.0.0.1:${port}`));
    assert.ok(!(await logsOf(app)).includes(dbPassword), 'logs never show the password');
  });

  it('pg_dump -Fc via docker exec gives a dump that pg_restore --list accepts', async () => {
    const dump = await dockerBytes(['exec', db, 'pg_dump', '-U', dbUser, '-Fc', dbName]);
    assert.equal(dump.code, 0, dump.err);
    assert.equal(dump.out.subarray(0, 5).toString('latin1'), 'PGDMP');
    const list = await dockerBytes(['exec', '-i', db, 'pg_restore', '--list'], dump.out);
    assert.equal(list.code, 0, list.err);
    const toc = list.out.toString();
    assert.match(toc, /TABLE public posts/);
    assert.match(toc, /TABLE DATA public systems/);
  });

  it("Mattermost's layout runs too (no-new-privileges, read-only root)", async () => {
    const port = await freePort();
    const app = name('mmapp');
    await runDetached(app, `${images.mmApp}:1.0.0`, [
      ...['--security-opt', 'no-new-privileges:true', '--read-only', '--tmpfs', '/tmp'],
      ...['-e', `MM_SQLSETTINGS_DATASOURCE=${dataSource(dbPort)}`, '-e', `MM_SERVICESETTINGS_LISTENADDRESS=:${port}`],
    ]);
    const ping = await waitFor(
      'mattermost-layout app ping',
      async () => {
        const r = await httpGet(`http://127.0.0.1:${port}/api/v4/system/ping`).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.match(String(ping.headers['x-version-id']), /^1\.0\.0\.1\.0\.0\./);
    const hc = await docker(['exec', app, 'node', '/mattermost/healthcheck.js'], { allowFailure: true });
    assert.equal(hc.code, 0, hc.stderr);
  });

  it('an app started before its db logs "Failed to ping DB" and does not listen', async () => {
    const noDbPort = await freePort();
    const port = await freePort();
    const app = name('early');
    await runDetached(app, `${images.app}:1.0.0`, [
      '-e',
      `MM_SQLSETTINGS_DATASOURCE=${dataSource(noDbPort)}`,
      '-e',
      `MM_SERVICESETTINGS_LISTENADDRESS=:${port}`,
    ]);
    const line = await waitFor(
      'the "Failed to ping DB" line',
      async () => jsonLines(await logsOf(app)).find((l) => l.msg === 'Failed to ping DB'),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.equal(line.level, 'error');
    assert.equal(line['retrying in seconds'], 10);
    assert.ok(typeof line.error === 'string' && line.error.length > 0);
    await assert.rejects(httpGet(`http://127.0.0.1:${port}/api/v4/system/ping`, 500));
  });

  it('the crash variant exits non-zero with an error line', async () => {
    const port = await freePort();
    const app = name('crash');
    await runDetached(app, `${images.app}:${images.appTags.crash}`, [
      '-e',
      `MM_SQLSETTINGS_DATASOURCE=${dataSource(dbPort)}`,
      '-e',
      `MM_SERVICESETTINGS_LISTENADDRESS=:${port}`,
    ]);
    const exitCode = await waitFor(
      'the crash variant to exit',
      async () => {
        const state = (await docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', app])).stdout.trim();
        return state.startsWith('exited ') ? Number(state.split(' ')[1]) : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.notEqual(exitCode, 0);
    const logs = jsonLines(await logsOf(app));
    assert.ok(logs.some((l) => l.level === 'error'), JSON.stringify(logs));
    assert.ok(logs.some((l) => l.level === 'fatal'));
  });
});
