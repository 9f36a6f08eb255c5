/**
 * `npm run bench:downtime`: how long Mattermost is down during an upgrade done by the engine,
 * by the team's manual one-liner, and by a bare sequence of Docker calls — the same upgrade
 * (team-built layout, 1.0.0 → 1.1.0, app and db images both move, both containers recreated)
 * on fresh, identical deployments of the test bed, interleaved so that drift in machine load
 * hits all three alike.
 *
 * Downtime is measured from outside, identically for all three: a pinger in this process asks
 * `GET /api/v4/system/ping` every 10 ms (a new connection each time; the version from its
 * `X-Version-Id` header, else from `config/client?format=old`). Downtime runs from the last OK
 * answer reporting 1.0.0 before the first failure to the first OK answer reporting 1.1.0.
 * Docker's events for the two containers split it into phases.
 *
 *   npm run bench:downtime                          5 runs of each
 *   npm run bench:downtime -- --runs 8              8 runs of each
 *   npm run bench:downtime -- --only engine,bare    a subset (while working on one of them)
 *
 * Exit code: 0 when every run upgraded (whether the targets hold or not: it is a measurement),
 * 1 when a run failed or the bed could not start.
 */
import { followContainerEvents } from './docker-events.js';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { parseDockerHost } from '../src/config/index.js';
import { versionFromHeader } from '../src/common/version.js';
import { DockerodeEngine } from '../src/docker/dockerode-engine.js';
import { probeServer } from '../src/mattermost/server-probe.js';
import { mmUpgrade } from '../test/bed/cli.js';
import { deploy, readRows, type Deployment } from '../test/bed/deploy.js';
import { bedEnvironment, bedSession, tearDownOnSignals } from '../test/bed/lifecycle.js';
import { run, type RunResult } from '../test/bed/proc.js';
import type { Bed } from '../test/bed/state.js';
import { describeMachine, machineText, writeSection, type MachineInfo } from './results.js';

const FROM = '1.0.0';
const TO = '1.1.0';
const STOP_DELAY_MS = 500;
const PING_INTERVAL_MS = 10;
const BARE_POLL_MS = 20;
const RUN_CAP_MS = 120_000;
const COMPOSE = '/usr/bin/docker-compose';

const METHODS = ['engine', 'manual', 'bare'] as const;
type Method = (typeof METHODS)[number];

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
const bedLog = (line: string): void => void process.stderr.write(`[bed] ${line}\n`);
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// -------------------------------------------------------------------------------------------
// The three ways of doing the upgrade. `prepare` is not timed; `upgrade` runs while the
// pinger watches.

interface Target {
  bed: Bed;
  docker: DockerodeEngine;
  deployment: Deployment;
}

interface Way {
  prepare(t: Target): Promise<void>;
  upgrade(t: Target): Promise<void>;
}

const ways: Record<Method, Way> = {
  /** The real engine, as a user runs it. */
  engine: {
    prepare: async () => undefined,
    upgrade: async ({ deployment }) => {
      expectSuccess('mm-upgrade upgrade', await mmUpgrade(['upgrade', TO, '--yes'], { ...deployment.env, VERIFY_WINDOW: '1s' }));
    },
  },

  /** The team's manual one-liner, with the compose file edited and the images pulled beforehand. */
  manual: {
    prepare: async ({ bed, deployment: d }) => {
      const file = d.composeFiles[0]!;
      const text = readFileSync(file, 'utf8');
      const edited = text.split(`:${FROM}`).join(`:${TO}`);
      const replaced = text.split(`:${FROM}`).length - 1;
      if (replaced !== 2) throw new Error(`expected two ":${FROM}" tags in ${file}, found ${replaced}`);
      writeFileSync(file, edited);
      expectSuccess('docker-compose pull', await run(COMPOSE, ['-p', d.project, '-f', file, 'pull', '--quiet'], { cwd: d.dir, env: { ...process.env, DOCKER_HOST: bed.dockerHost }, allowFailure: true }));
    },
    upgrade: async ({ bed, deployment: d }) => {
      const compose = `${COMPOSE} -p ${d.project} -f ${d.composeFiles[0]!}`;
      const oneLiner =
        `docker stop ${d.appContainer} && docker stop -t 60 ${d.dbContainer} && docker rm ${d.appContainer} && docker rm ${d.dbContainer}` +
        ` && ${compose} up -d ${d.dbService} && sleep 5 && ${compose} up -d ${d.appService}`;
      expectSuccess('the manual one-liner', await run('sh', ['-c', oneLiner], { cwd: d.dir, env: { ...process.env, DOCKER_HOST: bed.dockerHost }, allowFailure: true }));
    },
  },

  /** Plain Docker calls with tight polling: no journal, no checks, no backup. */
  bare: {
    prepare: async ({ bed, docker }) => {
      for (const ref of newRefs(bed)) await docker.pull(ref);
    },
    upgrade: async ({ bed, docker, deployment: d }) => {
      const [appRef, dbRef] = newRefs(bed);
      const appSpec = await docker.captureSpec(d.appContainer);
      const dbSpec = await docker.captureSpec(d.dbContainer);
      await docker.stopContainer(d.appContainer, 10);
      await docker.stopContainer(d.dbContainer, 60);
      await docker.removeContainer(d.appContainer);
      await docker.removeContainer(d.dbContainer);
      await docker.startContainer(await docker.createFromSpec(dbSpec, dbRef!));
      await pollEvery(BARE_POLL_MS, 'pg_isready', async () => {
        const r = await docker.exec(d.dbContainer, ['pg_isready', '-U', d.dbUser, '-d', d.dbName, '-t', '2'], { timeoutMs: 10_000 }).catch(() => undefined);
        return r?.exitCode === 0;
      });
      await docker.startContainer(await docker.createFromSpec(appSpec, appRef!));
      await pollEvery(BARE_POLL_MS, `Mattermost ${TO}`, async () => {
        const p = await probeServer(d.appUrl, { timeoutMs: 1_000 });
        return p.pingOk && p.version === TO;
      });
    },
  },
};

function newRefs(bed: Bed): [app: string, db: string] {
  return [`${bed.images.app}:${TO}`, `${bed.images.db}:${TO}`];
}

function expectSuccess(what: string, r: RunResult): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout.trim()}\n--- stderr\n${r.stderr.trim()}`);
}

async function pollEvery(intervalMs: number, what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + RUN_CAP_MS;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not there after ${RUN_CAP_MS / 1000} s`);
    await sleep(intervalMs);
  }
}

// -------------------------------------------------------------------------------------------
// The outside pinger

interface Answer {
  at: number;
  ok: boolean;
  version: string | undefined;
}

interface Outage {
  lastOldOk: number;
  firstNewOk: number;
  downtimeMs: number;
  failedProbes: number;
  /** OK answers still reporting FROM after the first failure (the server flapped). */
  oldOkAfterFailure: number;
}

function get(url: string, timeoutMs: number): Promise<{ status: number; body: string; versionHeader: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, versionHeader: String(res.headers['x-version-id'] ?? '') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** One probe, on a new connection: ping OK, and the version the server reports. */
async function ask(baseUrl: string): Promise<Answer> {
  try {
    const ping = await get(`${baseUrl}/api/v4/system/ping`, 1_000);
    const ok = ping.status === 200 && (JSON.parse(ping.body) as { status?: string }).status === 'OK';
    let version = versionFromHeader(ping.versionHeader);
    if (ok && version === undefined) {
      const cfg = await get(`${baseUrl}/api/v4/config/client?format=old`, 1_000);
      version = cfg.status === 200 ? (JSON.parse(cfg.body) as { Version?: string }).Version : undefined;
    }
    return { at: now(), ok, version };
  } catch {
    return { at: now(), ok: false, version: undefined };
  }
}

/** Pings every 10 ms until the new version answers after an outage, `stop()` or the cap. */
class Pinger {
  private stopped = false;
  private resolveServing!: () => void;
  readonly serving = new Promise<void>((r) => (this.resolveServing = r));
  readonly outage: Promise<Outage>;

  constructor(private readonly baseUrl: string) {
    this.outage = this.loop();
    this.outage.catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
  }

  private async loop(): Promise<Outage> {
    const deadline = now() + RUN_CAP_MS;
    let lastOldOk: number | undefined;
    let failedAfter: number | undefined;
    let failedProbes = 0;
    let oldOkAfterFailure = 0;
    while (!this.stopped) {
      if (now() > deadline) throw new Error(`no OK answer reporting ${TO} within ${RUN_CAP_MS / 1000} s`);
      const started = now();
      const a = await ask(this.baseUrl);
      if (a.ok && a.version === FROM) {
        if (failedAfter === undefined) {
          lastOldOk = a.at;
          this.resolveServing();
        } else oldOkAfterFailure++;
      } else if (a.ok && a.version === TO) {
        if (lastOldOk === undefined) throw new Error(`${TO} answered before ${FROM} was ever seen`);
        const from = failedAfter ?? lastOldOk;
        return { lastOldOk: from, firstNewOk: a.at, downtimeMs: a.at - from, failedProbes, oldOkAfterFailure };
      } else if (lastOldOk !== undefined) {
        failedAfter ??= lastOldOk;
        failedProbes++;
      }
      await sleep(Math.max(0, started + PING_INTERVAL_MS - now()));
    }
    throw new Error('the pinger was stopped before the outage ended');
  }
}

// -------------------------------------------------------------------------------------------
// Docker's events, to split the downtime into phases

interface ContainerEvent {
  name: string;
  action: string;
  at: number;
}

async function watchEvents(docker: Docker, names: string[]): Promise<{ events: ContainerEvent[]; stop(): void }> {
  const events: ContainerEvent[] = [];
  const { stop } = await followContainerEvents(docker, names, (e) => {
    const name = e.Actor?.Attributes?.name;
    if (name) events.push({ name, action: e.Action ?? e.status ?? '', at: e.timeNano ? e.timeNano / 1e6 : (e.time ?? 0) * 1000 });
  });
  return { events, stop };
}

const PHASES = ['app stop', 'db stop', 'db recreate', 'db boot', 'ready → app start', 'app boot'] as const;
type Phases = Record<(typeof PHASES)[number], number | undefined>;
const PG_READY = 'database system is ready to accept connections';

/**
 * last OK → app died → db died → new db started → PostgreSQL logged it accepts connections →
 * new app started → first OK of the new version. "ready → app start" is how long the
 * procedure took to notice the database and start the app: the one phase where they differ
 * by design, beside the stops.
 */
function phasesOf(outage: Outage, events: ContainerEvent[], pgReadyAt: number | undefined, d: Deployment): Phases {
  const first = (name: string, action: string): number | undefined => events.find((e) => e.name === name && e.action === action)?.at;
  const marks = [outage.lastOldOk, first(d.appContainer, 'die'), first(d.dbContainer, 'die'), first(d.dbContainer, 'start'), pgReadyAt, first(d.appContainer, 'start'), outage.firstNewOk];
  const span = (i: number): number | undefined => (marks[i] !== undefined && marks[i + 1] !== undefined ? marks[i + 1]! - marks[i]! : undefined);
  return Object.fromEntries(PHASES.map((p, i) => [p, span(i)])) as Phases;
}

/** When the new db container's PostgreSQL logged that it accepts connections (dockerd's timestamp). */
async function pgReadyTime(docker: DockerodeEngine, container: string): Promise<number | undefined> {
  const lines = await docker.logs(container).catch(() => []);
  return lines.filter((l) => l.text.includes(PG_READY)).at(-1)?.time?.getTime();
}

// -------------------------------------------------------------------------------------------
// One run

interface RunFigures {
  method: Method;
  downtimeMs: number;
  commandMs: number;
  phases: Phases;
  failedProbes: number;
  oldOkAfterFailure: number;
}

async function oneRun(method: Method, bed: Bed, docker: DockerodeEngine, events: Docker): Promise<RunFigures> {
  const d = await deploy('team', { stopDelayMs: STOP_DELAY_MS });
  try {
    const target: Target = { bed, docker, deployment: d };
    const before = { app: (await docker.inspectContainer(d.appContainer))!.Id, db: (await docker.inspectContainer(d.dbContainer))!.Id };
    await ways[method].prepare(target);

    const watch = await watchEvents(events, [d.appContainer, d.dbContainer]);
    const pinger = new Pinger(d.appUrl);
    let commandMs: number;
    let outage: Outage;
    try {
      await Promise.race([pinger.serving, pinger.outage]);
      const started = now();
      try {
        await ways[method].upgrade(target);
      } catch (err) {
        pinger.stop();
        throw err;
      }
      commandMs = now() - started;
      outage = await pinger.outage;
    } finally {
      pinger.stop();
      await sleep(50); // let the last events arrive
      watch.stop();
    }

    const app = await docker.inspectContainer(d.appContainer);
    const db = await docker.inspectContainer(d.dbContainer);
    for (const [role, c, ref, id] of [['app', app, newRefs(bed)[0], before.app], ['db', db, newRefs(bed)[1], before.db]] as const) {
      if (!c || !c.State.Running) throw new Error(`${method}: the ${role} container is not running after the upgrade`);
      if (c.Config.Image !== ref) throw new Error(`${method}: the ${role} container runs ${c.Config.Image}, not ${ref}`);
      if (c.Id === id) throw new Error(`${method}: the ${role} container was not recreated`);
    }
    const rows = await readRows(d.appUrl);
    const lost = d.rows.filter((r) => !rows.includes(r));
    if (lost.length > 0) throw new Error(`${method}: rows lost in the upgrade: ${lost.join('; ')}`);

    const phases = phasesOf(outage, watch.events, await pgReadyTime(docker, d.dbContainer), d);
    return { method, downtimeMs: outage.downtimeMs, commandMs, phases, failedProbes: outage.failedProbes, oldOkAfterFailure: outage.oldOkAfterFailure };
  } finally {
    // down(), and the project's volumes too, so that fifteen databases do not pile up.
    await d.compose(['down', '--volumes', '--timeout', '5']).catch((err: Error) => log(`down failed: ${err.message}`));
    rmSync(d.dir, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------------------------------
// Figures

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const sec = (ms: number | undefined): string => (ms === undefined ? '   —' : (ms / 1000).toFixed(2));

async function machine(docker: Docker): Promise<MachineInfo> {
  const versions = await docker.version().catch(() => undefined);
  const compose = await run(COMPOSE, ['version', '--short'], { allowFailure: true });
  return describeMachine({ engine: versions?.Version ?? '?', software: [`docker-compose ${compose.stdout.trim() || '?'}`] });
}

function report(results: RunFigures[], methods: readonly Method[], runs: number, header: string[]): string {
  const out: string[] = [
    `Downtime of one upgrade: team-built layout, ${FROM} → ${TO}, app and db images both move, both containers recreated`,
    ...header,
    `runs      ${runs} of each, interleaved (${methods.join(', ')}, …); a fresh deployment per run; app stop delay ${STOP_DELAY_MS} ms`,
    `measured  from outside: GET /api/v4/system/ping every ${PING_INTERVAL_MS} ms, last OK ${FROM} → first OK ${TO}`,
    '',
    `method  ${'downtime per run (s)'.padEnd(runs * 7)}  median    min    max   command (median, s)`,
  ];
  const medians: Partial<Record<Method, number>> = {};
  for (const m of methods) {
    const rs = results.filter((r) => r.method === m);
    if (rs.length === 0) continue;
    const ds = rs.map((r) => r.downtimeMs);
    medians[m] = median(ds);
    out.push(
      `${m.padEnd(6)}  ${ds.map((x) => sec(x).padStart(5)).join('  ').padEnd(runs * 7)}  ${sec(median(ds)).padStart(6)} ${sec(Math.min(...ds)).padStart(6)} ${sec(Math.max(...ds)).padStart(6)}   ${sec(median(rs.map((r) => r.commandMs))).padStart(6)}`,
    );
  }
  out.push('');
  const ratio = (a: Method, b: Method, limit: number, strict: boolean): void => {
    if (medians[a] === undefined || medians[b] === undefined) return;
    const r = medians[a]! / medians[b]!;
    const holds = strict ? r < limit : r <= limit;
    out.push(`${`${a} / ${b}`.padEnd(15)} ${r.toFixed(2)}   target ${strict ? '<' : '≤'} ${limit.toFixed(2)}: ${holds ? 'holds' : 'MISSED'}`);
  };
  ratio('engine', 'bare', 1.1, false);
  ratio('engine', 'manual', 1, true);
  out.push('', `where the downtime goes (medians, s; marks from Docker's events and PostgreSQL's "ready to accept connections")`);
  out.push(`method  ${PHASES.map((p) => p.padStart(Math.max(p.length, 6))).join('  ')}`);
  for (const m of methods) {
    const rs = results.filter((r) => r.method === m);
    if (rs.length === 0) continue;
    const cells = PHASES.map((p) => {
      const xs = rs.map((r) => r.phases[p]).filter((x): x is number => x !== undefined);
      return sec(xs.length === rs.length ? median(xs) : undefined).padStart(Math.max(p.length, 6));
    });
    out.push(`${m.padEnd(6)}  ${cells.join('  ')}`);
  }
  const flaps = results.filter((r) => r.oldOkAfterFailure > 0);
  if (flaps.length > 0) out.push('', `note: ${flaps.length} run(s) saw ${FROM} answer again after a failed probe (counted from the first failure)`);
  return out.join('\n') + '\n';
}

// -------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, only: { type: 'string' } }, strict: true });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, got "${values.runs}"`);
  const methods = values.only ? values.only.split(',').map((m) => m.trim()) : [...METHODS];
  const unknown = methods.filter((m) => !(METHODS as readonly string[]).includes(m));
  if (unknown.length > 0) throw new Error(`--only: unknown method(s) ${unknown.join(', ')}; expected ${METHODS.join(', ')}`);
  const chosen = methods as Method[];

  const session = bedSession(bedLog);
  tearDownOnSignals(session, bedLog);
  const results: RunFigures[] = [];
  let info: MachineInfo | undefined;
  let header: string[] = [];
  try {
    const bed = await session.start();
    Object.assign(process.env, bedEnvironment(bed));
    const host = parseDockerHost(bed.dockerHost);
    if (host?.kind !== 'socket') throw new Error(`unexpected bed DOCKER_HOST ${bed.dockerHost}`);
    const docker = new DockerodeEngine(host);
    const events = new Docker({ socketPath: host.socketPath });
    info = await machine(events);
    header = machineText(info).split('\n');

    for (let i = 1; i <= runs; i++) {
      for (const method of chosen) {
        const r = await oneRun(method, bed, docker, events);
        results.push(r);
        const phases = PHASES.map((p) => `${p} ${sec(r.phases[p]).trim()}`).join(', ');
        log(`run ${i}/${runs} ${method.padEnd(6)} downtime ${sec(r.downtimeMs)} s (command ${sec(r.commandMs)} s, ${r.failedProbes} failed probes; ${phases})`);
      }
    }
    process.stdout.write('\n' + report(results, chosen, runs, header));
    writeSection('downtime', { title: 'Downtime of one upgrade (`npm run bench:downtime`)', machine: info, body: '```text\n' + report(results, chosen, runs, []) + '```\n' });
    log('written to bench/RESULTS.md');
    return 0;
  } catch (err) {
    log(`FAILED: ${(err as Error).stack ?? String(err)}`);
    if (results.length > 0) process.stdout.write('\nIncomplete (a run failed):\n' + report(results, chosen, runs, header));
    return 1;
  } finally {
    await session.teardown();
  }
}

process.exitCode = await main();
