/**
 * The deploy kit: deploy/docker-compose.yml as docker-compose reads it, and the image built from
 * deploy/Dockerfile on the bed, running `mm-upgrade serve` beside a deployment and answering
 * `mm-upgrade status` through `docker exec`.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { StatusReport } from '../../src/status/collect.js';
import { buildBotImage } from '../bed/bot-image.js';
import { deploy, type Deployment } from '../bed/deploy.js';
import { freePort, run, waitFor } from '../bed/proc.js';
import { currentBed } from '../bed/state.js';
import { MattermostApi } from '../mattermost/client.js';
import { TOKENS, WORLD } from '../mattermost/world.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const bed = currentBed();
const dockerEnv = { ...process.env, DOCKER_HOST: bed.dockerHost };
const docker = (args: string[]) => run('docker', args, { env: dockerEnv, allowFailure: true });
const cleanups: Array<() => Promise<unknown>> = [];

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('deploy/docker-compose.yml', () => {
  /** The kit as a sysadmin lays it out: the repository, deploy/.env and deploy/bot.env. */
  function layout(env: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'deploy-kit-'));
    mkdirSync(join(root, 'deploy'));
    copyFileSync(join(ROOT, 'deploy', 'docker-compose.yml'), join(root, 'deploy', 'docker-compose.yml'));
    copyFileSync(join(ROOT, '.env.example'), join(root, 'deploy', 'bot.env'));
    writeFileSync(join(root, 'deploy', '.env'), Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''));
    return join(root, 'deploy');
  }

  it('validates with docker-compose config: the socket, the compose folder at the same path, the data, loopback only', async () => {
    const dir = layout({ MATTERMOST_DIR: '/srv/mattermost', DOCKER_GID: '998' });
    const r = await run('docker-compose', ['config'], { cwd: dir, env: { PATH: process.env.PATH }, allowFailure: true });
    assert.equal(r.code, 0, r.stderr);
    const bot = (parse(r.stdout) as { services: Record<string, Record<string, unknown>> }).services['mm-upgrade-bot']!;
    const volumes = (bot.volumes as Array<string | { source: string; target: string }>).map((v) => (typeof v === 'string' ? v.split(':').slice(0, 2).join(':') : `${v.source}:${v.target}`));
    assert.ok(volumes.includes('/var/run/docker.sock:/var/run/docker.sock'), volumes.join(' '));
    assert.ok(volumes.includes('/srv/mattermost:/srv/mattermost'), 'the compose folder at the same path');
    assert.ok(volumes.some((v) => v.endsWith(':/data')), 'state and backups');
    assert.deepEqual(bot.group_add, ['998']);
    assert.equal(bot.user, '1000:1000');
    const ports = JSON.stringify(bot.ports);
    assert.match(ports, /127\.0\.0\.1/, 'published on loopback only');
    assert.equal((bot.environment as Record<string, string>).BIND_ADDRESS, '0.0.0.0', 'inside its container; the port is published on loopback');
  });

  it('names what is missing', async () => {
    const noGid = await run('docker-compose', ['config'], { cwd: layout({ MATTERMOST_DIR: '/srv/mattermost' }), env: { PATH: process.env.PATH }, allowFailure: true });
    assert.notEqual(noGid.code, 0);
    assert.match(noGid.stderr, /set DOCKER_GID to the group id of \/var\/run\/docker\.sock/);
    const noDir = await run('docker-compose', ['config'], { cwd: layout({ DOCKER_GID: '998' }), env: { PATH: process.env.PATH }, allowFailure: true });
    assert.match(noDir.stderr, /set MATTERMOST_DIR to the folder of Mattermost's docker-compose\.yml/);
  });
});

describe('the image built from deploy/Dockerfile', () => {
  it('serves /healthz (HEALTHCHECK healthy), as a non-root user, and `docker exec … mm-upgrade status` works against the bed', async () => {
    const work = mkdtempSync(join(tmpdir(), 'bot-image-'));
    const image = await buildBotImage(bed, work, (l) => console.log(`  ${l}`));
    cleanups.push(() => docker(['rmi', '--force', image.ref]));

    const d: Deployment = await deploy('mattermost');
    cleanups.push(() => d.down());
    const api = new MattermostApi(d.appUrl);
    await api.seed(WORLD);
    const port = await freePort();
    const socket = bed.dockerHost.replace(/^unix:\/\//, '');
    const env: Record<string, string> = {
      MM_URL: d.appUrl,
      MM_BOT_TOKEN: TOKENS.bot,
      MM_SLASH_TOKENS: 'sl4sh0000t0ken000000000000',
      MM_TEAM: 'picasoft',
      BOT_SECRET: 'deploy-kit-secret-0123456789abcdef0123456789',
      BOT_PUBLIC_URL: `http://127.0.0.1:${port}`,
      BIND_ADDRESS: '127.0.0.1',
      PORT: String(port),
      // No COMPOSE_FILE: the files come from the app container's labels, host paths mounted at the same path.
      DB_SERVICE: d.dbService,
      // No DB_USER: the role comes from the postgres container's POSTGRES_USER.
    };
    const name = `mm-upgrade-bot-${process.pid}`;
    const started = await docker([
      'run', '--detach', '--name', name, '--network', 'host',
      '--group-add', String(statSync(socket).gid),
      '--volume', `${socket}:/var/run/docker.sock`,
      '--volume', `${d.dir}:${d.dir}`,
      '--health-interval', '1s', '--health-start-period', '1s',
      ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      image.ref,
    ]);
    assert.equal(started.code, 0, started.stderr);
    cleanups.push(() => docker(['rm', '--force', name]));

    await waitFor('the bot container /healthz', async () => ((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200 ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
    await waitFor('HEALTHCHECK healthy', async () => ((await docker(['inspect', '--format', '{{.State.Health.Status}}', name])).stdout.trim() === 'healthy' ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
    assert.equal((await docker(['exec', name, 'id', '-u'])).stdout.trim(), '1000', 'not root');

    const status = await docker(['exec', name, 'mm-upgrade', 'status', '--json']);
    assert.equal(status.code, 0, status.stderr + status.stdout);
    const report = JSON.parse(status.stdout) as StatusReport;
    assert.equal(report.healthy, true, report.problems.join('; '));
    assert.equal(report.app.version, '1.0.0');
    assert.equal(report.db.ready, true, 'pg_isready as the POSTGRES_USER role');
    assert.equal(report.compose.project, d.project);
    const backup = await docker(['exec', name, 'mm-upgrade', 'backup']);
    assert.equal(backup.code, 0, `a dump as mmuser, found without DB_USER: ${backup.stderr}`);

    const stop = await docker(['stop', '--time', '20', name]);
    assert.equal(stop.code, 0);
    assert.equal((await docker(['inspect', '--format', '{{.State.ExitCode}}', name])).stdout.trim(), '0', 'a clean shutdown on SIGTERM');
    console.log(`  image ${image.ref}: ${(image.sizeBytes / 1e6).toFixed(1)} MB, built in ${image.buildSeconds.toFixed(1)} s`);
    assert.match(readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8'), /^FROM \$\{NODE_IMAGE\} AS build$/m, 'multi-stage');
  });
});
