/**
 * `npm test`: installs what the bed needs, starts a private dockerd and registry, builds
 * and pushes the bed images once, runs every test file with Node's test runner, and tears
 * everything down by PID — also on failure or Ctrl-C. A bed left behind by a killed run
 * is cleaned up at the next start.
 *
 *   tsx test/run.ts                 all tests
 *   tsx test/run.ts test/unit/...   only these files (no bed when none is an integration test)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { startDockerd, startRegistry, unmountUnder, type Daemon } from './bed/daemons.js';
import { buildAndPushImages } from './bed/images.js';
import { ensurePackages } from './bed/install.js';
import { isAlive, stopPid } from './bed/proc.js';
import { BED_ENV, type Bed } from './bed/state.js';

const log = (line: string): void => void process.stderr.write(`[bed] ${line}\n`);
const REGISTRY_DIR = join(tmpdir(), 'mm-upgrade-bot-beds');
const ROOT = new URL('..', import.meta.url).pathname;

function findTests(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === 'fixtures' || name === 'bed' ? [] : findTests(path);
      return name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

/** Stops what an earlier, killed run left: its daemons (by PID) and mounts, then its folder. */
async function cleanStaleBeds(): Promise<void> {
  mkdirSync(REGISTRY_DIR, { recursive: true });
  for (const name of readdirSync(REGISTRY_DIR)) {
    const file = join(REGISTRY_DIR, name);
    const record = JSON.parse(readFileSync(file, 'utf8')) as { runner: number; root: string; pids: number[] };
    if (isAlive(record.runner)) continue;
    log(`cleaning up the bed of an earlier run (${record.root})`);
    for (const pid of record.pids) {
      const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
      if (cmdline.includes(record.root)) await stopPid(pid, 30_000);
    }
    await unmountUnder(record.root);
    rmSync(record.root, { recursive: true, force: true });
    unlinkSync(file);
  }
}

async function runTests(files: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; pass: number; fail: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let pass = 0;
    let fail = 0;
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
      const p = /ℹ pass (\d+)/.exec(tail);
      const f = /ℹ fail (\d+)/.exec(tail);
      if (p) pass = Number(p[1]);
      if (f) fail = Number(f[1]);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, pass, fail }));
  });
}

async function main(): Promise<number> {
  const requested = process.argv.slice(2);
  const files = (requested.length > 0 ? requested : findTests(join(ROOT, 'test'))).map((f) => relative(ROOT, resolve(ROOT, f)));
  const needsBed = files.some((f) => !f.startsWith('test/unit/'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  const daemons: Daemon[] = [];
  let root: string | undefined;
  let recordFile: string | undefined;
  const teardown = async (): Promise<void> => {
    for (const d of daemons.reverse()) await d.stop().catch((err: Error) => log(`stop failed: ${err.message}`));
    daemons.length = 0;
    if (root) {
      await unmountUnder(root);
      rmSync(root, { recursive: true, force: true });
      const left = readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(root!);
          } catch {
            return false;
          }
        });
      log(left.length === 0 ? 'torn down: no process and no mount left behind' : `WARNING: processes left: ${left.join(' ')}`);
      root = undefined;
    }
    if (recordFile) rmSync(recordFile, { force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: tearing down`);
      void teardown().finally(() => process.exit(130));
    });
  }
  try {
    if (needsBed) {
      const t0 = Date.now();
      await ensurePackages(log);
      await cleanStaleBeds();
      root = mkdtempSync(join(tmpdir(), 'mm-upgrade-bed-'));
      recordFile = join(REGISTRY_DIR, `${process.pid}.json`);
      const record = { runner: process.pid, root, pids: [] as number[] };
      const remember = <T extends Daemon>(d: T): T => {
        daemons.push(d);
        record.pids.push(d.pid);
        writeFileSync(recordFile!, JSON.stringify(record));
        return d;
      };
      writeFileSync(recordFile, JSON.stringify(record));
      const registry = remember(await startRegistry(root));
      const dockerd = remember(await startDockerd(root));
      log(`dockerd ${dockerd.dockerHost} (pid ${dockerd.pid}), registry ${registry.host} (pid ${registry.pid})`);
      const images = await buildAndPushImages({ dockerHost: dockerd.dockerHost, registry: registry.host, workDir: join(root, 'build'), log });
      const bed: Bed = { root, dockerHost: dockerd.dockerHost, registry: registry.host, images };
      env[BED_ENV] = JSON.stringify(bed);
      env.BED_DOCKER_HOST = dockerd.dockerHost;
      env.BED_REGISTRY = registry.host;
      log(`bed ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const result = await runTests(files, env);
    console.log(`${result.pass} passed, ${result.fail} failed`);
    return result.code === 0 && result.fail === 0 ? 0 : 1;
  } catch (err) {
    log(`bed failed: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    await teardown();
  }
}

process.exitCode = await main();
