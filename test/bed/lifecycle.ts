/**
 * Starting and stopping a whole bed: packages, a private registry and dockerd, the images.
 * Shared by the test runner (test/run.ts) and the benchmarks (bench/). Everything started
 * is recorded under REGISTRY_DIR with the runner's PID, so that a bed left by a killed run
 * is stopped (by PID) and removed at the next start.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerdPid, startDockerd, startRegistry, unmountUnder, type Daemon } from './daemons.js';
import { buildAndPushImages } from './images.js';
import { ensurePackages } from './install.js';
import { isAlive, stopPid } from './proc.js';
import { BED_ENV, type Bed } from './state.js';

export type Log = (line: string) => void;

const REGISTRY_DIR = join(tmpdir(), 'mm-upgrade-bot-beds');

export interface BedSession {
  /** Starts the bed; whatever started before a failure is still stopped by teardown(). */
  start(): Promise<Bed>;
  /** Stops the daemons by PID, unmounts and removes the bed's folder. Idempotent. */
  teardown(): Promise<void>;
}

/** What a process needs in its environment to use the bed (deploy() reads BED_ENV). */
export function bedEnvironment(bed: Bed): Record<string, string> {
  return { [BED_ENV]: JSON.stringify(bed), BED_DOCKER_HOST: bed.dockerHost, BED_REGISTRY: bed.registry };
}

export function bedSession(log: Log): BedSession {
  const daemons: Daemon[] = [];
  let root: string | undefined;
  let recordFile: string | undefined;

  const teardown = async (): Promise<void> => {
    for (const d of daemons.reverse()) await d.stop().catch((err: Error) => log(`stop failed: ${err.message}`));
    daemons.length = 0;
    if (root) {
      const dir = root;
      await unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
      const left = processesMentioning(dir);
      log(left.length === 0 ? 'torn down: no process and no mount left behind' : `WARNING: processes left: ${left.join(' ')}`);
      root = undefined;
    }
    if (recordFile) rmSync(recordFile, { force: true });
  };

  const start = async (): Promise<Bed> => {
    const t0 = Date.now();
    await ensurePackages(log);
    await cleanStaleBeds(log);
    root = mkdtempSync(join(tmpdir(), 'mm-upgrade-bed-'));
    const file = join(REGISTRY_DIR, `${process.pid}.json`);
    recordFile = file;
    const record = { runner: process.pid, root, pids: [] as number[] };
    const remember = <T extends Daemon>(d: T): T => {
      daemons.push(d);
      record.pids.push(d.pid);
      writeFileSync(file, JSON.stringify(record));
      return d;
    };
    writeFileSync(file, JSON.stringify(record));
    const registry = remember(await startRegistry(root));
    const dockerd = remember(await startDockerd(root));
    log(`dockerd ${dockerd.dockerHost} (pid ${dockerd.pid}), registry ${registry.host} (pid ${registry.pid})`);
    const images = await buildAndPushImages({ dockerHost: dockerd.dockerHost, registry: registry.host, workDir: join(root, 'build'), log });
    const bed: Bed = { root, dockerHost: dockerd.dockerHost, registry: registry.host, images };
    log(`bed ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return bed;
  };

  return { start, teardown };
}

/** On SIGINT or SIGTERM: tear the bed down, then exit 130. */
export function tearDownOnSignals(session: BedSession, log: Log): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: tearing down`);
      void session.teardown().finally(() => process.exit(130));
    });
  }
}

/** Stops what an earlier, killed run left: its daemons (by PID) and mounts, then its folder. */
async function cleanStaleBeds(log: Log): Promise<void> {
  mkdirSync(REGISTRY_DIR, { recursive: true });
  for (const name of readdirSync(REGISTRY_DIR)) {
    const file = join(REGISTRY_DIR, name);
    const record = JSON.parse(readFileSync(file, 'utf8')) as { runner: number; root: string; pids: number[] };
    if (isAlive(record.runner)) continue;
    log(`cleaning up the bed of an earlier run (${record.root})`);
    const restarted = dockerdPid(record.root);
    for (const pid of restarted === undefined ? record.pids : [...record.pids, restarted]) {
      const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
      if (cmdline.includes(record.root)) await stopPid(pid, 30_000);
    }
    await unmountUnder(record.root);
    rmSync(record.root, { recursive: true, force: true });
    unlinkSync(file);
  }
}

function processesMentioning(dir: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    });
}
