/**
 * `npm run bench:ack`: how fast the bot acknowledges a slash command, the number Mattermost
 * and the person who typed `/upgrade 1.1.0` wait for. autocannon sends the request a real
 * server sends (form-encoded, `Authorization: Token`, every field) on loopback, 50 concurrent
 * connections for 10 s, to the bot's webhook server with its engine held at the planning step
 * (bench/ack-servers.ts), and the same to a bare Express handler that parses the form and
 * answers `{}`, in alternating rounds. It reports p50 and p99 of each and the ratio.
 *
 *   npm run bench:ack                    3 rounds of 10 s each
 *   npm run bench:ack -- --rounds 5 --seconds 20 --connections 50
 *
 * Targets: bot p99 ≤ 20 ms and ≤ 2 × the bare handler's. Exit code 1 only when a request
 * failed or got something else than a 200 JSON answer (it is a measurement otherwise).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { describeMachine, machineText, writeSection } from './results.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' } } });
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

interface Ready {
  bot: number;
  bare: number;
  token: string;
  userId: string;
  channelId: string;
  teamId: string;
}

async function startServers(): Promise<{ ready: Ready; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./ack-servers.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench/ack-servers.ts exited with ${code}`)));
  });
  return { ready: JSON.parse(line) as Ready, stop: () => child.kill('SIGTERM') };
}

function slashBody(r: Ready): string {
  return new URLSearchParams({
    channel_id: r.channelId,
    channel_name: 'upgrades',
    command: '/upgrade',
    response_url: 'http://127.0.0.1:1/hooks/commands/iy3jntrfc3rfdguk5nwo6nx7aa',
    team_domain: 'picasoft',
    team_id: r.teamId,
    text: '1.1.0',
    token: r.token,
    trigger_id: 'c2FxcWEzM3c0aWIzYmNiOG41N2NzZmVmMWM6ZngzMzR5cTE2amRmYnB6eGh5ZWs2enQ1OHI6MTc5NTYyMDEzNTE4Mw==',
    user_id: r.userId,
    user_name: 'pica-admin',
  }).toString();
}

interface Sample {
  p50: number;
  p99: number;
  requests: number;
  bad: number;
}

async function load(port: number, body: string, token: string, seconds: number): Promise<Sample> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/mattermost/command`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'User-Agent': 'Mattermost-Bot/1.1', Accept: 'application/json', Authorization: `Token ${token}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total, bad: result.errors + result.timeouts + result.non2xx };
}

/** One request by hand: a 200 with `Content-Type: application/json` and a JSON body. */
async function check(port: number, body: string, token: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/mattermost/command`, { method: 'POST', body, headers: { Authorization: `Token ${token}`, 'Content-Type': 'application/x-www-form-urlencoded' } });
  const text = await res.text();
  JSON.parse(text);
  if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('application/json')) throw new Error(`port ${port}: HTTP ${res.status} ${res.headers.get('content-type')}`);
  return text;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<number> {
  const machine = describeMachine();
  const servers = await startServers();
  try {
    const { ready } = servers;
    const body = slashBody(ready);
    log(`bot: ${await check(ready.bot, body, ready.token)}`);
    log(`bot: ${await check(ready.bot, body, ready.token)}`);
    log(`bare: ${await check(ready.bare, body, ready.token)}`);
    log('warming up (5 s each)');
    await load(ready.bare, body, ready.token, 5);
    await load(ready.bot, body, ready.token, 5);
    const samples: Record<'bot' | 'bare', Sample[]> = { bot: [], bare: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const which of round % 2 ? (['bare', 'bot'] as const) : (['bot', 'bare'] as const)) {
        const s = await load(ready[which], body, ready.token, SECONDS);
        samples[which].push(s);
        log(`round ${round} ${which}: p50 ${s.p50} ms, p99 ${s.p99} ms, ${s.requests} requests${s.bad ? `, ${s.bad} FAILED` : ''}`);
      }
    }
    const summary = (which: 'bot' | 'bare') => ({ p50: median(samples[which].map((s) => s.p50)), p99: median(samples[which].map((s) => s.p99)), rps: median(samples[which].map((s) => s.requests / SECONDS)) });
    const bot = summary('bot');
    const bare = summary('bare');
    const ratio = bot.p99 / Math.max(bare.p99, 1);
    const failed = [...samples.bot, ...samples.bare].reduce((n, s) => n + s.bad, 0);
    const lines = [
      `${CONNECTIONS} connections, ${ROUNDS} alternating rounds × ${SECONDS} s each after a 5 s warm-up of each, medians; autocannon in the benchmark's process, both servers in another.`,
      '',
      '| server | p50 | p99 | requests/s |',
      '|---|---|---|---|',
      `| the bot (\`/upgrade 1.1.0\`, engine held at planning) | ${bot.p50} ms | ${bot.p99} ms | ${Math.round(bot.rps)} |`,
      `| bare Express handler answering \`{}\` | ${bare.p50} ms | ${bare.p99} ms | ${Math.round(bare.rps)} |`,
      '',
      `Each round, p99 (ms): bot ${samples.bot.map((s) => s.p99).join(', ')}; bare ${samples.bare.map((s) => s.p99).join(', ')}.`,
      '',
      `p99 bot / bare = **${ratio.toFixed(2)}** (target ≤ 2): ${ratio <= 2 ? 'met' : '**NOT met**'}. Bot p99 ${bot.p99} ms (target ≤ 20 ms): ${bot.p99 <= 20 ? 'met' : '**NOT met**'}.`,
      ...(failed > 0 ? [`${failed} requests failed.`] : []),
    ];
    console.log(`\n${machineText(machine)}\n\n${lines.join('\n')}`);
    if (failed === 0) {
      writeSection('ack', { title: 'Acknowledging a slash command (`npm run bench:ack`)', machine, body: lines.join('\n') });
      log('written to bench/RESULTS.md');
    }
    return failed > 0 ? 1 : 0;
  } finally {
    servers.stop();
  }
}

process.exitCode = await main();
