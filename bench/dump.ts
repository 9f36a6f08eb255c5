/**
 * `npm run bench:dump`: how fast the bot dumps a large database, and how much memory it takes
 * meanwhile, beside the plain `docker exec <db> pg_dump -Fc … > file`. On the test bed, a
 * team-built deployment's PostgreSQL is filled with ≥ 1 GB of Mattermost-like posts and
 * reactions (text built from a vocabulary, so that it compresses like chat does, with
 * links and ids that do not compress); then the two take turns (bot, plain, plain, bot, …),
 * after an untimed warm-up dump, on the same database, writing to the same disk.
 *
 *   npm run bench:dump                              3 turns of each, ≥ 1024 MB
 *   npm run bench:dump -- --turns 5 --size-mb 2048
 *   npm run bench:dump -- --also /elsewhere/dist/cli.js    a second build of the bot in the same turns (before a change)
 *   npm run bench:dump -- --cli /elsewhere/dist/cli.js     measure that build as the bot
 *
 * What is timed, from Docker's events for the database container (one clock for both):
 *   bot    `mm-upgrade backup --json` (dist/cli.js): from the creation of its `pg_dump -Fc`
 *          exec to the creation of its `pg_restore --list` exec, i.e. the dump streamed
 *          through the Engine API into BACKUP_DIR, fsynced and closed. The verification that
 *          follows (pg_restore --list, then a full read) is timed apart, and so is the
 *          whole command.
 *   plain  `docker exec <db> pg_dump -Fc -U mmuser mattermost > file` (the docker CLI, same
 *          engine): from the creation of its exec to the CLI's exit (the file written, not
 *          fsynced).
 * Throughput = pg_database_size / time. The bot's memory: /proc/<pid>/status every 5 ms;
 * baseline = VmRSS at the last sample before its pg_dump exec, peak = the highest VmRSS until
 * the dump is written (and VmHWM over the whole command).
 *
 * Targets: bot ≥ 0.9 × the plain dump's throughput (medians), RSS growth < 50 MB. Exit code
 * 0 when every turn dumped (it is a measurement), 1 when one failed or the bed did not start.
 */
import { followContainerEvents } from './docker-events.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { parseDockerHost } from '../src/config/index.js';
import { CLI, cleanEnv } from '../test/bed/cli.js';
import { deploy, type Deployment } from '../test/bed/deploy.js';
import { bedEnvironment, bedSession, tearDownOnSignals } from '../test/bed/lifecycle.js';
import { run, type RunResult } from '../test/bed/proc.js';
import type { Bed } from '../test/bed/state.js';
import { describeMachine, machineText, writeSection, type MachineInfo } from './results.js';

const DOCKER = '/usr/bin/docker';
const MB = 1e6;
const SAMPLE_MS = 5;
const TARGET_RATIO = 0.9;
const TARGET_GROWTH_MB = 50;

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
const bedLog = (line: string): void => void process.stderr.write(`[bed] ${line}\n`);
const now = (): number => performance.timeOrigin + performance.now();
const sec = (ms: number | undefined): string => (ms === undefined ? '—' : (ms / 1000).toFixed(2));
const mb = (bytes: number): string => (bytes / MB).toFixed(1);

// -------------------------------------------------------------------------------------------
// The data: posts and reactions as Mattermost keeps them, ≥ --size-mb of them

/** Words chat is made of; sentences are drawn from them, so the text compresses like text. */
const WORDS = `the a to and of is in it for on that this with we you i be are have not at can will
  from but as or if so do just our what my there was they up out all about when one new now please
  thanks ok yes no deploy release upgrade server database backup restore rollback container image
  docker postgres mattermost channel team user message post thread reply file link build test fix
  bug issue ticket merge branch review config log error warning timeout restart migration version
  patch minor major tonight tomorrow today morning meeting call lunch weekend holiday coffee done
  ready looks good great sure maybe later check again works broken slow fast disk memory cpu load
  network proxy nginx certificate dns mail alert page oncall incident status green red retry queue
  schedule window maintenance users admins plugin webhook command bot token secret password login`
  .split(/\s+/)
  .filter(Boolean);

const SCHEMA_SQL = `
DROP TABLE IF EXISTS bench_posts, bench_reactions, bench_sentences;
CREATE TABLE bench_sentences (id int PRIMARY KEY, text text NOT NULL);
-- "+ n - n": with no column of its own, the aggregate would belong to the outer query.
INSERT INTO bench_sentences
  SELECT s, (SELECT string_agg(w[1 + floor(random() * array_length(w, 1))::int + n - n], ' ')
             FROM generate_series(1, 4 + (s % 14)) AS n)
  FROM generate_series(0, 9999) AS s, (SELECT string_to_array('${WORDS.join(' ')}', ' ') AS w) AS v;
CREATE TABLE bench_posts (
  id varchar(26) NOT NULL, create_at bigint NOT NULL, update_at bigint NOT NULL, delete_at bigint NOT NULL DEFAULT 0,
  user_id varchar(26) NOT NULL, channel_id varchar(26) NOT NULL, root_id varchar(26) NOT NULL DEFAULT '',
  message varchar(65535) NOT NULL, type varchar(26) NOT NULL DEFAULT '', props jsonb NOT NULL DEFAULT '{}', hashtags varchar(1000) NOT NULL DEFAULT '');
CREATE TABLE bench_reactions (user_id varchar(26) NOT NULL, post_id varchar(26) NOT NULL, emoji_name varchar(64) NOT NULL, create_at bigint NOT NULL);
`;

/** Posts from..to: two or three sentences, a third of them with a link to a file (an id that does not compress). */
function chunkSql(from: number, to: number): string {
  return `
INSERT INTO bench_posts (id, create_at, update_at, user_id, channel_id, root_id, message, props, hashtags)
SELECT substr(md5('p' || g.i), 1, 26), 1600000000000 + g.i::bigint * 937, 1600000000000 + g.i::bigint * 937,
       substr(md5('u' || (g.i * 7 % 997)), 1, 26), substr(md5('c' || (g.i * 13 % 211)), 1, 26),
       CASE WHEN g.i % 4 = 0 THEN substr(md5('p' || (g.i - 3)), 1, 26) ELSE '' END,
       upper(left(s1.text, 1)) || substr(s1.text, 2) || '. ' || s2.text
         || CASE WHEN g.r < 0.33 THEN ' https://files.pica.example/' || md5(g.r::text) || '/' || s3.id || '.png' ELSE '' END
         || CASE WHEN g.r > 0.75 THEN '. ' || upper(left(s3.text, 1)) || substr(s3.text, 2) || '?' ELSE '.' END,
       CASE WHEN g.r < 0.08 THEN jsonb_build_object('attachments', jsonb_build_array(jsonb_build_object('text', s3.text, 'color', '#2389D7'))) ELSE '{}' END,
       CASE WHEN g.r > 0.97 THEN '#' || split_part(s3.text, ' ', 1) ELSE '' END
FROM (SELECT i, random() AS r, floor(random() * 10000)::int AS a, floor(random() * 10000)::int AS b, floor(random() * 10000)::int AS c
      FROM generate_series(${from}, ${to}) AS i) AS g
JOIN bench_sentences s1 ON s1.id = g.a JOIN bench_sentences s2 ON s2.id = g.b JOIN bench_sentences s3 ON s3.id = g.c;
INSERT INTO bench_reactions
SELECT substr(md5('u' || (i * 31 % 997)), 1, 26), substr(md5('p' || i), 1, 26),
       (ARRAY['+1', 'smile', 'tada', 'eyes', 'heart', 'white_check_mark', 'rocket'])[1 + i % 7], 1600000000000 + i::bigint * 941
FROM generate_series(${from}, ${to}) AS i WHERE i % 3 = 0;
SELECT pg_database_size(current_database());`;
}

// No parallel workers: their shared memory would not fit in the container's 64 MB /dev/shm.
const INDEX_SQL = `
SET max_parallel_maintenance_workers = 0;
ALTER TABLE bench_posts ADD PRIMARY KEY (id);
CREATE INDEX bench_posts_channel_create_at ON bench_posts (channel_id, create_at);
ALTER TABLE bench_reactions ADD PRIMARY KEY (post_id, user_id, emoji_name);
VACUUM ANALYZE;
SELECT pg_database_size(current_database()), (SELECT count(*) FROM bench_posts), (SELECT count(*) FROM bench_reactions);`;

async function psql(bed: Bed, d: Deployment, sql: string): Promise<string> {
  const r = await run(DOCKER, ['exec', '-i', d.dbContainer, 'psql', '-v', 'ON_ERROR_STOP=1', '-q', '-At', '-U', d.dbUser, '-d', d.dbName], {
    env: { ...process.env, DOCKER_HOST: bed.dockerHost },
    input: sql,
    allowFailure: true,
  });
  if (r.code !== 0) throw new Error(`psql exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

interface Data {
  sizeBytes: number;
  posts: number;
  reactions: number;
  loadMs: number;
}

async function fill(bed: Bed, d: Deployment, targetBytes: number): Promise<Data> {
  const started = now();
  await psql(bed, d, SCHEMA_SQL);
  const CHUNK = 500_000;
  let size = 0;
  let next = 1;
  // The heap alone reaches the target; the indexes, built afterwards (faster), come on top.
  while (size < targetBytes) {
    size = Number(await psql(bed, d, chunkSql(next, next + CHUNK - 1)));
    next += CHUNK;
    log(`  ${next - 1} posts, database ${mb(size)} MB (${sec(now() - started)} s)`);
  }
  const [total, posts, reactions] = (await psql(bed, d, INDEX_SQL)).split('|').map(Number);
  return { sizeBytes: total!, posts: posts!, reactions: reactions!, loadMs: now() - started };
}

// -------------------------------------------------------------------------------------------
// Docker's exec events for the database container

interface ExecEvent {
  /** exec_create, exec_start, exec_die */
  kind: string;
  /** The command, on exec_create and exec_start. */
  command: string;
  execId: string;
  at: number;
}

async function watchExecs(docker: Docker, container: string): Promise<{ events: ExecEvent[]; stop(): void }> {
  const events: ExecEvent[] = [];
  const { stop } = await followContainerEvents(docker, [container], (e) => {
    const action = e.Action ?? '';
    if (!action.startsWith('exec_')) return;
    const colon = action.indexOf(':');
    events.push({
      kind: colon < 0 ? action : action.slice(0, colon),
      command: colon < 0 ? '' : action.slice(colon + 1).trim(),
      execId: e.Actor?.Attributes?.execID ?? '',
      at: (e.timeNano ?? 0) / 1e6,
    });
  });
  return { events, stop };
}

/** The first exec after `since` whose command starts with `prefix`: its create, start and die times. */
function execTimes(events: ExecEvent[], since: number, prefix: string): { create: number; start?: number; die?: number } | undefined {
  const created = events.find((e) => e.kind === 'exec_create' && e.at >= since && e.command.startsWith(prefix));
  if (!created) return undefined;
  // Matched by exec id when the Engine gives one; else the first of its kind after the creation.
  const same = (kind: string): number | undefined => events.find((e) => e.kind === kind && e.at >= created.at && (!created.execId || e.execId === created.execId))?.at;
  return { create: created.at, start: same('exec_start'), die: same('exec_die') };
}

// -------------------------------------------------------------------------------------------
// The bot's memory

interface MemorySample {
  at: number;
  rss: number;
  hwm: number;
  /** CPU time used so far, user + system, ms. */
  cpuMs: number;
}

const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** /proc/<pid>/status (VmRSS, VmHWM) and /proc/<pid>/stat (utime, stime) every SAMPLE_MS, until stop(). */
function sampleProcess(pid: number): { samples: MemorySample[]; stop(): void } {
  const samples: MemorySample[] = [];
  const take = (): void => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
      // Fields after the command (in parentheses): state is 3rd, utime 14th, stime 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const sample = { at: now(), rss: kb('VmRSS'), hwm: kb('VmHWM'), cpuMs: (Number(fields[11]) + Number(fields[12])) * TICK_MS };
      // A process that has exited (a zombie) has no VmRSS any more.
      if (Number.isFinite(sample.rss) && Number.isFinite(sample.hwm)) samples.push(sample);
    } catch {
      // gone
    }
  };
  take();
  const timer = setInterval(take, SAMPLE_MS);
  return { samples, stop: () => clearInterval(timer) };
}

// -------------------------------------------------------------------------------------------
// The two turns

/** `bot`: this build; `other`: the build given with --also (e.g. before a change); `plain`: docker exec. */
type Method = 'bot' | 'other' | 'plain';

interface Turn {
  method: Method;
  /** exec created → dump complete (bot: fsynced and closed; plain: the CLI exited). */
  dumpMs: number;
  /** pg_dump's own run: exec started → exec died. */
  pgDumpMs: number | undefined;
  fileBytes: number;
  /** The whole command, spawn → exit. */
  commandMs: number;
  /** Bot only. */
  verifyMs?: number;
  /** The bot's CPU time (user + system) while it dumped. */
  cpuMs?: number;
  rssBaseline?: number;
  rssPeak?: number;
  hwm?: number;
}

async function botTurn(method: 'bot' | 'other', cli: string, d: Deployment, watch: { events: ExecEvent[] }): Promise<Turn> {
  const t0 = now();
  const child = spawn(process.execPath, [cli, 'backup', '--json'], { env: cleanEnv({ ...d.env, BACKUP_KEEP: '1' }), cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const proc = sampleProcess(child.pid!);
  const result = await new Promise<RunResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  }).finally(() => proc.stop());
  const commandMs = now() - t0;
  if (result.code !== 0) throw new Error(`mm-upgrade backup exited ${result.code}\n${result.stderr.trim()}`);
  const details = (JSON.parse(result.stdout) as { details: { backup: string; sizeBytes: number } }).details;
  await settle();
  const dump = execTimes(watch.events, t0, 'pg_dump');
  const list = execTimes(watch.events, t0, 'pg_restore --list');
  const full = execTimes(watch.events, t0, 'pg_restore -f');
  if (!dump || !list) throw new Error(`the bot's pg_dump and pg_restore execs were not seen in Docker's events`);
  const before = proc.samples.filter((s) => s.at < dump.create);
  const during = proc.samples.filter((s) => s.at >= dump.create && s.at <= list.create);
  if (before.length === 0 || during.length === 0) throw new Error('no memory sample of the bot before or during its dump');
  rmSync(details.backup, { force: true });
  return {
    method,
    dumpMs: list.create - dump.create,
    pgDumpMs: dump.start !== undefined && dump.die !== undefined ? dump.die - dump.start : undefined,
    fileBytes: details.sizeBytes,
    commandMs,
    verifyMs: full?.die !== undefined ? full.die - list.create : undefined,
    cpuMs: during.at(-1)!.cpuMs - before.at(-1)!.cpuMs,
    rssBaseline: before.at(-1)!.rss,
    rssPeak: Math.max(...during.map((s) => s.rss)),
    hwm: proc.samples.at(-1)!.hwm,
  };
}

async function plainTurn(bed: Bed, d: Deployment, dir: string, watch: { events: ExecEvent[] }): Promise<Turn> {
  const file = join(dir, `plain-${Date.now()}.dump`);
  const t0 = now();
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('sh', ['-c', `exec ${DOCKER} exec ${d.dbContainer} pg_dump -Fc -U ${d.dbUser} ${d.dbName} > ${file}`], {
      env: { ...process.env, DOCKER_HOST: bed.dockerHost },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    track(child);
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? -1));
  });
  const end = now();
  if (code !== 0) throw new Error(`docker exec pg_dump exited ${code}`);
  await settle();
  const dump = execTimes(watch.events, t0, 'pg_dump');
  if (!dump) throw new Error(`the plain pg_dump exec was not seen in Docker's events`);
  const fileBytes = statSync(file).size;
  rmSync(file, { force: true });
  return {
    method: 'plain',
    dumpMs: end - dump.create,
    pgDumpMs: dump.start !== undefined && dump.die !== undefined ? dump.die - dump.start : undefined,
    fileBytes,
    commandMs: end - t0,
  };
}

/** The bot or docker CLI running now: stopped (by PID) if this script is interrupted. */
const running = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('close', () => running.delete(child));
  return child;
}

/** Lets the last events of a turn arrive. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));

// -------------------------------------------------------------------------------------------
// Figures

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Summary {
  text: string;
  markdown: string;
}

const LABEL: Record<Method, string> = { bot: 'bot', other: 'bot (--also build)', plain: 'plain' };

function summarize(data: Data, turns: Turn[], n: number, clis: { bot: string; other?: string }): Summary {
  const rate = (t: Turn): number => data.sizeBytes / MB / (t.dumpMs / 1000);
  const of = (m: Method): Turn[] => turns.filter((t) => t.method === m);
  const methods = (['bot', 'other', 'plain'] as const).filter((m) => of(m).length > 0);
  const medianRate = (m: Method): number => median(of(m).map(rate));
  const ratio = (m: Method): number => medianRate(m) / medianRate('plain');
  const growth = (m: Method): number => Math.max(...of(m).map((t) => t.rssPeak! - t.rssBaseline!)) / MB;
  const ratioMet = ratio('bot') >= TARGET_RATIO;
  const growthMet = growth('bot') < TARGET_GROWTH_MB;

  const row = (t: Turn): string =>
    `| ${LABEL[t.method]} | ${sec(t.dumpMs)} s | ${rate(t).toFixed(1)} MB/s | ${sec(t.pgDumpMs)} s | ${mb(t.fileBytes)} MB | ${sec(t.commandMs)} s | ${t.verifyMs === undefined ? '—' : `${sec(t.verifyMs)} s`} | ${t.cpuMs === undefined ? '—' : `${sec(t.cpuMs)} s`} | ${t.rssBaseline === undefined ? '—' : `${mb(t.rssBaseline)} → ${mb(t.rssPeak!)} MB (+${mb(t.rssPeak! - t.rssBaseline)})`} | ${t.hwm === undefined ? '—' : `${mb(t.hwm)} MB`} |`;
  const cell = (m: Method, f: (ts: Turn[]) => string): string => f(of(m));
  const markdown = [
    `Database: ${mb(data.sizeBytes)} MB (\`pg_database_size\`: ${data.posts.toLocaleString('en')} posts, ${data.reactions.toLocaleString('en')} reactions, their indexes), generated in ${sec(data.loadMs)} s.`,
    `bot: \`${clis.bot} backup --json\`${clis.other ? `; bot (--also build): \`${clis.other} backup --json\`` : ''}; plain: \`docker exec <db> pg_dump -Fc -U mmuser mattermost > file\`.`,
    `${n} turns of each, taking turns (${methods.map((m) => LABEL[m]).join(', ')}, then the other way round, …) after an untimed warm-up dump. Times from Docker's events for the database container:`,
    `a bot's dump runs from its \`pg_dump\` exec's creation to its \`pg_restore --list\` exec's creation (written, fsynced, closed; the verification is its own column);`,
    `the plain one from its exec's creation to the docker CLI's exit (written, not fsynced). Throughput = database size / dump time; 1 MB = 10⁶ bytes.`,
    '',
    '| turn | dump | throughput | pg_dump ran | file | whole command | verification | bot CPU during the dump | bot RSS: before → peak during the dump | bot VmHWM (whole command) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...turns.map(row),
    '',
    `| | ${methods.map((m) => LABEL[m]).join(' | ')} |`,
    `|---|${methods.map(() => '---|').join('')}`,
    `| dump time, median | ${methods.map((m) => cell(m, (ts) => `${sec(median(ts.map((t) => t.dumpMs)))} s`)).join(' | ')} |`,
    `| throughput, median | ${methods.map((m) => `${medianRate(m).toFixed(1)} MB/s`).join(' | ')} |`,
    `| throughput / plain | ${methods.map((m) => ratio(m).toFixed(2)).join(' | ')} |`,
    `| CPU during the dump, median | ${methods.map((m) => (m === 'plain' ? '—' : cell(m, (ts) => `${sec(median(ts.map((t) => t.cpuMs!)))} s`))).join(' | ')} |`,
    `| RSS growth during the dump, worst | ${methods.map((m) => (m === 'plain' ? '—' : `${growth(m).toFixed(1)} MB`)).join(' | ')} |`,
    `| whole command, median | ${methods.map((m) => cell(m, (ts) => `${sec(median(ts.map((t) => t.commandMs)))} s`)).join(' | ')} |`,
    '',
    `Throughput bot / plain = **${ratio('bot').toFixed(2)}** (target ≥ ${TARGET_RATIO}): ${ratioMet ? 'met' : '**NOT met**'}.`,
    `Bot RSS growth during the dump, worst turn = **${growth('bot').toFixed(1)} MB** (target < ${TARGET_GROWTH_MB} MB): ${growthMet ? 'met' : '**NOT met**'}.`,
  ].join('\n');
  const text = [
    ...methods.map((m) => `${LABEL[m].padEnd(18)} ${of(m).map((t) => sec(t.dumpMs)).join('  ')} s → median ${medianRate(m).toFixed(1)} MB/s${m === 'plain' ? '' : `, ${ratio(m).toFixed(2)} × plain, RSS growth ≤ ${growth(m).toFixed(1)} MB`}`),
    `throughput bot / plain = ${ratio('bot').toFixed(2)} (target ≥ ${TARGET_RATIO}: ${ratioMet ? 'met' : 'NOT met'})`,
    `bot RSS growth during the dump, worst turn = ${growth('bot').toFixed(1)} MB (target < ${TARGET_GROWTH_MB}: ${growthMet ? 'met' : 'NOT met'})`,
  ].join('\n');
  return { text, markdown };
}

// -------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { turns: { type: 'string', default: '3' }, 'size-mb': { type: 'string', default: '1024' }, cli: { type: 'string', default: CLI }, also: { type: 'string' } },
    strict: true,
  });
  const clis = { bot: values.cli, other: values.also };
  const shown = { bot: values.cli === CLI ? 'node dist/cli.js' : `node ${values.cli}`, other: values.also && `node ${values.also}` };
  const n = Number(values.turns);
  const sizeMb = Number(values['size-mb']);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--turns must be a positive whole number, got "${values.turns}"`);
  if (!(sizeMb > 0)) throw new Error(`--size-mb must be a positive number, got "${values['size-mb']}"`);
  const order: Method[] = clis.other ? ['bot', 'plain', 'other'] : ['bot', 'plain'];

  const session = bedSession(bedLog);
  tearDownOnSignals(session, bedLog);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => running.forEach((c) => c.kill('SIGTERM')));
  let d: Deployment | undefined;
  let watch: { events: ExecEvent[]; stop(): void } | undefined;
  try {
    const bed = await session.start();
    Object.assign(process.env, bedEnvironment(bed));
    const host = parseDockerHost(bed.dockerHost);
    if (host?.kind !== 'socket') throw new Error(`unexpected bed DOCKER_HOST ${bed.dockerHost}`);
    const docker = new Docker({ socketPath: host.socketPath });
    const machine: MachineInfo = describeMachine({ engine: (await docker.version()).Version, software: [`PostgreSQL 15 (the bed's db image)`] });

    d = await deploy('team');
    log(`filling ${d.dbContainer} with ≥ ${sizeMb} MB`);
    const data = await fill(bed, d, sizeMb * MB);
    log(`database ${mb(data.sizeBytes)} MB: ${data.posts} posts, ${data.reactions} reactions, in ${sec(data.loadMs)} s`);

    const plainDir = join(d.dir, 'plain');
    mkdirSync(plainDir, { recursive: true });
    watch = await watchExecs(docker, d.dbContainer);
    log('warm-up dump (untimed)');
    await plainTurn(bed, d, plainDir, watch);

    const turns: Turn[] = [];
    for (let i = 1; i <= n; i++) {
      for (const method of i % 2 === 1 ? order : [...order].reverse()) {
        const t = method === 'plain' ? await plainTurn(bed, d, plainDir, watch) : await botTurn(method, method === 'bot' ? clis.bot : clis.other!, d, watch);
        turns.push(t);
        const memory = t.rssBaseline === undefined ? '' : `, CPU ${sec(t.cpuMs)} s, RSS ${mb(t.rssBaseline)} → ${mb(t.rssPeak!)} MB, VmHWM ${mb(t.hwm!)} MB`;
        log(`turn ${i}/${n} ${LABEL[method].padEnd(18)} dump ${sec(t.dumpMs)} s (${(data.sizeBytes / MB / (t.dumpMs / 1000)).toFixed(1)} MB/s), pg_dump ran ${sec(t.pgDumpMs)} s, ${mb(t.fileBytes)} MB, command ${sec(t.commandMs)} s${t.verifyMs === undefined ? '' : `, verification ${sec(t.verifyMs)} s`}${memory}`);
      }
    }
    const summary = summarize(data, turns, n, shown);
    process.stdout.write(`\n${machineText(machine)}\n${summary.text}\n`);
    writeSection('dump', { title: 'Dump throughput and memory (`npm run bench:dump`)', machine, body: summary.markdown });
    log('written to bench/RESULTS.md');
    return 0;
  } catch (err) {
    log(`FAILED: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    watch?.stop();
    if (d) {
      await d.compose(['down', '--volumes', '--timeout', '5']).catch((err: Error) => log(`down failed: ${err.message}`));
      rmSync(d.dir, { recursive: true, force: true });
    }
    await session.teardown();
  }
}

process.exitCode = await main();
