/**
 * `npm run bench:serve`: how soon `mm-upgrade serve` answers after it is started, and how much
 * memory it holds once idle, beside a bare Node.js HTTP server started the same way. Each run
 * spawns the process, asks `GET /healthz` every 5 ms on a new connection until the first 200,
 * lets it sit idle, reads its VmRSS from /proc/<pid>/status 5 s after it was ready and again
 * once settled (30 s: V8 gives back the heap its start-up grew, in "Mark-Compact (reduce)"
 * collections, only some 8 to 20 s after the last busy moment), and its VmHWM (the peak),
 * then stops it by PID with SIGTERM. The two take turns (serve, bare, bare, serve, …). The
 * CPU time the process used until it was ready (utime + stime) is shown too: on a busy machine
 * it says more than the wall-clock time about what start-up costs.
 *
 * No Docker: serve is pointed at a socket that does not exist (it asks Docker only when a job
 * runs), and at the Mattermost API stand-in of test/, started in this process with the
 * people and channels of the chat tests. A fresh STATE_DIR per run, no .env.
 *
 *   npm run bench:serve                               6 runs of each, settled after 30 s
 *   npm run bench:serve -- --runs 10 --idle-s 60
 *   npm run bench:serve -- --also /elsewhere/dist/cli.js    a second build of serve in the same turns (before a change)
 *
 * Targets: serve ready < 1 s and idle RSS < 80 MB, settled (medians). Exit code 0 when every run
 * became ready (it is a measurement), 1 otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CLI, cleanEnv } from '../test/bed/cli.js';
import { freePort } from '../test/bed/proc.js';
import { MattermostApi } from '../test/mattermost/client.js';
import { startStandIn } from '../test/mattermost/server.js';
import { TOKENS, WORLD } from '../test/mattermost/world.js';
import { describeMachine, machineText, writeSection } from './results.js';

const POLL_MS = 5;
/** When the early RSS is read, after ready. */
const EARLY_MS = 5_000;
const READY_CAP_MS = 30_000;
const TARGET_READY_MS = 1_000;
const TARGET_RSS_MB = 80;
const MB = 1e6;

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `serve`: this build; `other`: the build given with --also; `bare`: node -e. */
type Method = 'serve' | 'other' | 'bare';
const LABEL: Record<Method, string> = { serve: '`mm-upgrade serve`', other: '`mm-upgrade serve` (--also build)', bare: 'bare `node -e` http server' };

/** The bare baseline: Node.js and its http module, answering /healthz like serve does. */
const BARE = `require('node:http').createServer((req, res) => { res.setHeader('Content-Type', 'application/json'); res.end('{"status":"ok"}'); }).listen(Number(process.env.PORT), '127.0.0.1');`;

interface Run {
  method: Method;
  readyMs: number;
  /** CPU time (user + system) used until ready. */
  cpuMs: number;
  /** VmRSS EARLY_MS after ready, and once settled. */
  rssEarly: number;
  rss: number;
  hwm: number;
  /** serve only: lines it logged at warn level or above. */
  complaints: string[];
}

/** One GET /healthz on a new connection: its status, or 0 when nothing answers. */
function healthz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** utime + stime from /proc/<pid>/stat, in ms. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** The process running now: stopped (by PID) if this script is interrupted. */
let current: ChildProcess | undefined;

async function oneRun(method: Method, cli: string, mmUrl: string, idleMs: number): Promise<Run> {
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-serve-'));
  const env = cleanEnv({
    MM_URL: mmUrl,
    MM_BOT_TOKEN: TOKENS.bot,
    MM_SLASH_TOKENS: 'benchslashtoken00000000000',
    MM_TEAM: 'picasoft',
    BOT_SECRET: 'b'.repeat(40),
    STATE_DIR: stateDir,
    BACKUP_DIR: join(stateDir, 'backups'),
    PORT: String(port),
    BIND_ADDRESS: '127.0.0.1',
    DOCKER_HOST: `unix://${join(stateDir, 'no-docker.sock')}`,
    LOG_LEVEL: 'warn',
  });
  const args = method === 'bare' ? ['-e', BARE] : [cli, 'serve'];
  const started = now();
  const child = spawn(process.execPath, args, { env, cwd: stateDir, stdio: ['ignore', 'ignore', 'pipe'] });
  current = child;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    let readyMs: number | undefined;
    let cpuMs = 0;
    while (readyMs === undefined) {
      if (child.exitCode !== null) throw new Error(`${method} exited with ${child.exitCode} before it was ready:\n${stderr}`);
      if (now() - started > READY_CAP_MS) throw new Error(`${method} was not ready after ${READY_CAP_MS / 1000} s:\n${stderr}`);
      const polled = now();
      if ((await healthz(port)) === 200) {
        readyMs = now() - started;
        cpuMs = cpuOf(child.pid!);
      } else await sleep(Math.max(0, polled + POLL_MS - now()));
    }
    await sleep(Math.min(EARLY_MS, idleMs));
    const rssEarly = memoryOf(child.pid!).rss;
    await sleep(Math.max(0, idleMs - EARLY_MS));
    const { rss, hwm } = memoryOf(child.pid!);
    return { method, readyMs, cpuMs, rssEarly, rss, hwm, complaints: stderr.split('\n').filter((l) => /\b(warn|error)\b/.test(l)) };
  } finally {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    current = undefined;
    rmSync(stateDir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const ms = (x: number): string => `${Math.round(x)} ms`;
const mbText = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '6' }, 'idle-s': { type: 'string', default: '30' }, cli: { type: 'string', default: CLI }, also: { type: 'string' } },
    strict: true,
  });
  const runs = Number(values.runs);
  const idleMs = Number(values['idle-s']) * 1000;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, got "${values.runs}"`);
  if (!(idleMs >= 0)) throw new Error(`--idle-s must be a number of seconds, got "${values['idle-s']}"`);
  const clis: Record<Method, string> = { serve: values.cli, other: values.also ?? '', bare: '' };
  const order: Method[] = values.also ? ['serve', 'bare', 'other'] : ['serve', 'bare'];
  const machine = describeMachine();

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      current?.kill('SIGKILL');
      process.exit(130);
    });
  }
  const mm = await startStandIn();
  const results: Run[] = [];
  try {
    await new MattermostApi(mm.url).seed(WORLD);
    for (let i = 1; i <= runs; i++) {
      for (const method of i % 2 === 1 ? order : [...order].reverse()) {
        const r = await oneRun(method, clis[method], mm.url, idleMs);
        results.push(r);
        log(`run ${i}/${runs} ${method.padEnd(5)} ready ${ms(r.readyMs)} (CPU ${ms(r.cpuMs)}), RSS ${mbText(r.rssEarly)} after ${EARLY_MS / 1000} s, ${mbText(r.rss)} after ${idleMs / 1000} s (VmHWM ${mbText(r.hwm)})${r.complaints.length > 0 ? `; logged: ${r.complaints.join(' | ')}` : ''}`);
      }
    }
  } catch (err) {
    log(`FAILED: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    await mm.stop();
  }

  const of = (m: Method): Run[] => results.filter((r) => r.method === m);
  const summary = (m: Method) => {
    const rs = of(m);
    const ready = rs.map((r) => r.readyMs);
    return { ready: median(ready), readyMin: Math.min(...ready), readyMax: Math.max(...ready), cpu: median(rs.map((r) => r.cpuMs)), rssEarly: median(rs.map((r) => r.rssEarly)), rss: median(rs.map((r) => r.rss)), hwm: median(rs.map((r) => r.hwm)) };
  };
  const figures = Object.fromEntries(order.map((m) => [m, summary(m)])) as Record<Method, ReturnType<typeof summary>>;
  const serve = figures.serve;
  const bare = figures.bare;
  const readyMet = serve.ready < TARGET_READY_MS;
  const rssMet = serve.rss < TARGET_RSS_MB * MB;
  const complaints = [...new Set(of('serve').flatMap((r) => r.complaints))];
  const shown = (cli: string): string => (cli === CLI ? '`node dist/cli.js serve`' : `\`node ${cli} serve\``);
  const byRun = (m: Method, f: (r: Run) => string): string => of(m).map(f).join(', ');

  const markdown = [
    `${runs} runs of each, taking turns (${order.join(', ')}, then the other way round, …); medians. Ready = spawn → first 200 of \`GET /healthz\` (polled every ${POLL_MS} ms, a new connection each time);`,
    `CPU = the process's user + system time until then; RSS = VmRSS ${EARLY_MS / 1000} s after ready, and settled: ${idleMs / 1000} s after ready, once V8 has given back what start-up grew`,
    `(its "Mark-Compact (reduce)" collections come 8 to 20 s after the last busy moment); VmHWM = the process's peak, start-up included. 1 MB = 10⁶ bytes.`,
    `serve: ${shown(clis.serve)}${values.also ? `; --also build: ${shown(clis.other)}` : ''}, against the Mattermost API stand-in of test/ (in the benchmark's process), no Docker (DOCKER_HOST`,
    `points at a socket that does not exist), a fresh STATE_DIR; bare: \`node -e\` with an \`http.createServer\` answering \`{"status":"ok"}\`.`,
    '',
    `| process | ready (median) | ready (min – max) | CPU until ready | RSS after ${EARLY_MS / 1000} s | RSS settled (${idleMs / 1000} s) | VmHWM |`,
    '|---|---|---|---|---|---|---|',
    ...order.map((m) => {
      const f = figures[m];
      return `| ${LABEL[m]} | ${ms(f.ready)} | ${ms(f.readyMin)} – ${ms(f.readyMax)} | ${ms(f.cpu)} | ${mbText(f.rssEarly)} | ${mbText(f.rss)} | ${mbText(f.hwm)} |`;
    }),
    '',
    `Each run, ready (ms): ${order.map((m) => `${m} ${byRun(m, (r) => String(Math.round(r.readyMs)))}`).join('; ')}.`,
    `Each run, RSS after ${EARLY_MS / 1000} s → settled (MB): ${order.map((m) => `${m} ${byRun(m, (r) => `${(r.rssEarly / MB).toFixed(1)} → ${(r.rss / MB).toFixed(1)}`)}`).join('; ')}.`,
    '',
    `serve / bare: ready ${(serve.ready / bare.ready).toFixed(2)}×, CPU until ready ${(serve.cpu / bare.cpu).toFixed(2)}×, settled RSS ${(serve.rss / bare.rss).toFixed(2)}× (+${mbText(serve.rss - bare.rss)}).`,
    `Ready ${ms(serve.ready)} (target < ${TARGET_READY_MS / 1000} s): ${readyMet ? 'met' : '**NOT met**'}. Idle RSS settled ${mbText(serve.rss)} (target < ${TARGET_RSS_MB} MB): ${rssMet ? 'met' : '**NOT met**'}; ${EARLY_MS / 1000} s after ready, before V8 gives memory back: ${mbText(serve.rssEarly)}${serve.rssEarly < TARGET_RSS_MB * MB ? '' : ' (over the target)'}.`,
    ...(complaints.length > 0 ? ['', `serve logged at warn level or above: ${complaints.map((c) => `\`${c}\``).join(', ')}`] : []),
  ].join('\n');
  process.stdout.write(
    [
      '',
      machineText(machine),
      ...order.map((m) => {
        const f = figures[m];
        return `${m.padEnd(6)} ready ${ms(f.ready)} (${ms(f.readyMin)} – ${ms(f.readyMax)}), CPU until ready ${ms(f.cpu)}, RSS ${mbText(f.rssEarly)} after ${EARLY_MS / 1000} s, ${mbText(f.rss)} settled, VmHWM ${mbText(f.hwm)}`;
      }),
      `ready < ${TARGET_READY_MS / 1000} s: ${readyMet ? 'met' : 'NOT met'}; idle RSS (settled) < ${TARGET_RSS_MB} MB: ${rssMet ? 'met' : 'NOT met'}`,
      '',
    ].join('\n'),
  );
  writeSection('serve', { title: 'Start-up and idle memory of `serve` (`npm run bench:serve`)', machine, body: markdown });
  log('written to bench/RESULTS.md');
  return 0;
}

process.exitCode = await main();
