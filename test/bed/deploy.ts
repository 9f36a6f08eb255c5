/**
 * Deployments of the two real layouts on the bed, created with the real docker-compose
 * from the fixtures in test/fixtures/bed, at version 1.0.0, with rows written through the
 * app so that a loss would be visible.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, httpGet, run, type RunResult, waitFor } from './proc.js';
import { currentBed, type Bed } from './state.js';

export type Layout = 'team' | 'mattermost';

export interface Deployment {
  layout: Layout;
  dir: string;
  project: string;
  composeFiles: string[];
  appUrl: string;
  appPort: number;
  dbPort: number;
  appService: string;
  dbService: string;
  /** Container names (the team layout sets them; Mattermost's finds them by labels). */
  appContainer: string;
  dbContainer: string;
  dbUser: string;
  dbName: string;
  dbPassword: string;
  /** The rows written at deployment, in order. */
  rows: string[];
  /** Environment for the bot pointed at this deployment. */
  env: Record<string, string>;
  compose(args: string[]): Promise<RunResult>;
  down(): Promise<void>;
}

const FIXTURES = new URL('../fixtures/bed/', import.meta.url).pathname;

let counter = 0;

export async function deploy(layout: Layout, opts: { name?: string; stopDelayMs?: number; rows?: number; dockerHost?: string; registry?: string } = {}): Promise<Deployment> {
  // `dockerHost`: another engine than the bed's (a test's own, e.g. one with a tiny data root).
  const bed = opts.dockerHost ? { ...currentBed(), dockerHost: opts.dockerHost } : currentBed();
  const project = opts.name ?? `${layout === 'team' ? 'pica' : 'mm'}${process.pid}x${++counter}`;
  const dir = join(bed.root, 'deployments', project);
  mkdirSync(dir, { recursive: true });
  const [appPort, dbPort] = [await freePort(), await freePort()];
  const dbPassword = randomBytes(12).toString('hex');
  const vars: Record<string, string> = {
    // `registry`: a test's own registry holding copies of the bed's tags (it may stop it).
    __REGISTRY__: opts.registry ?? bed.registry,
    __PROJECT__: project,
    __APP_PORT__: String(appPort),
    __DB_PORT__: String(dbPort),
    __DB_PASSWORD__: dbPassword,
    __STOP_DELAY_MS__: opts.stopDelayMs === undefined ? '' : String(opts.stopDelayMs),
  };
  cpSync(join(FIXTURES, layout), dir, { recursive: true });
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    let text = readFileSync(path, 'utf8');
    for (const [k, v] of Object.entries(vars)) text = text.split(k).join(v);
    writeFileSync(path, text);
  }
  const composeFiles = layout === 'team' ? [join(dir, 'docker-compose.yml')] : [join(dir, 'docker-compose.yml'), join(dir, 'docker-compose.postgres.yml')];
  const compose = (args: string[]): Promise<RunResult> =>
    run('docker-compose', ['-p', project, ...composeFiles.flatMap((f) => ['-f', f]), ...args], {
      cwd: dir,
      env: { ...process.env, DOCKER_HOST: bed.dockerHost, COMPOSE_INTERACTIVE_NO_CLI: '1' },
    });
  const appService = 'mattermost';
  const dbService = layout === 'team' ? 'mattermost-db' : 'postgres';
  await compose(['up', '-d', '--quiet-pull']);
  const appUrl = `http://127.0.0.1:${appPort}`;
  await waitForApp(appUrl, '1.0.0');
  const rows: string[] = [];
  for (let i = 0; i < (opts.rows ?? 3); i++) {
    const message = `${project} row ${i + 1}: ${randomBytes(4).toString('hex')}`;
    const res = await fetch(`${appUrl}/api/v4/test/posts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ message }) });
    if (!res.ok) throw new Error(`could not write a row through the app: HTTP ${res.status}`);
    rows.push(message);
  }
  const names = async (service: string): Promise<string> => {
    const ids = (await compose(['ps', '-q', service])).stdout.trim();
    const r = await run('docker', ['inspect', '--format', '{{.Name}}', ids], { env: { ...process.env, DOCKER_HOST: bed.dockerHost } });
    return r.stdout.trim().replace(/^\//, '');
  };
  const env: Record<string, string> = {
    MM_URL: appUrl,
    DOCKER_HOST: bed.dockerHost,
    COMPOSE_FILE: composeFiles.join(':'),
    COMPOSE_PROJECT_NAME: project,
    APP_SERVICE: appService,
    DB_SERVICE: dbService,
    DB_USER: 'mmuser',
    DB_NAME: 'mattermost',
    STATE_DIR: join(dir, 'state'),
    BACKUP_DIR: join(dir, 'backups'),
    LOG_LEVEL: 'warn',
    // The upgrade tests exercise the switch itself; rehearsals have their own (rehearse.test.ts).
    REHEARSAL: 'never',
  };
  return {
    layout,
    dir,
    project,
    composeFiles,
    appUrl,
    appPort,
    dbPort,
    appService,
    dbService,
    appContainer: await names(appService),
    dbContainer: await names(dbService),
    dbUser: 'mmuser',
    dbName: 'mattermost',
    dbPassword,
    rows,
    env,
    compose,
    down: async () => {
      await compose(['down', '--timeout', '5']);
    },
  };
}

export async function waitForApp(appUrl: string, version: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `Mattermost ${version} at ${appUrl}`,
    async () => {
      const ping = await httpGet(`${appUrl}/api/v4/system/ping`);
      if (ping.status !== 200) return undefined;
      const cfg = await httpGet(`${appUrl}/api/v4/config/client?format=old`);
      return (JSON.parse(cfg.body) as { Version?: string }).Version === version ? true : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

export async function readRows(appUrl: string): Promise<string[]> {
  const res = await httpGet(`${appUrl}/api/v4/test/posts`);
  if (res.status !== 200) throw new Error(`could not read rows: HTTP ${res.status} ${res.body}`);
  return (JSON.parse(res.body) as Array<{ message: string }>).map((r) => r.message);
}

export type { Bed };
