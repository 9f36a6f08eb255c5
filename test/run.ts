/**
 * `npm test`: installs what the bed needs, starts a private dockerd and registry, builds
 * and pushes the bed images once, runs every test file with Node's test runner, and tears
 * everything down by PID — also on failure or Ctrl-C. A bed left behind by a killed run
 * is cleaned up at the next start.
 *
 *   tsx test/run.ts                 all tests
 *   tsx test/run.ts test/unit/...   only these files or folders (no bed when all are under test/unit/)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { bedEnvironment, bedSession, tearDownOnSignals } from './bed/lifecycle.js';
import { faultTable, writeIntoReadme } from './faults/table.js';

const log = (line: string): void => void process.stderr.write(`[bed] ${line}\n`);
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
  const files = (requested.length > 0 ? requested : [join(ROOT, 'test')])
    .flatMap((f) => (statSync(resolve(ROOT, f)).isDirectory() ? findTests(resolve(ROOT, f)) : [f]))
    .map((f) => relative(ROOT, resolve(ROOT, f)));
  const needsBed = files.some((f) => !f.startsWith('test/unit/'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  const bed = bedSession(log);
  tearDownOnSignals(bed, log);
  try {
    if (needsBed) Object.assign(env, bedEnvironment(await bed.start()));
    // The fault suite's cases add their rows here (test/faults/table.ts).
    const report = join(mkdtempSync(join(tmpdir(), 'mm-upgrade-faults-')), 'cases.jsonl');
    env.FAULTS_REPORT = report;
    const result = await runTests(files, env);
    const table = existsSync(report) ? faultTable(readFileSync(report, 'utf8'), new Date()) : undefined;
    rmSync(join(report, '..'), { recursive: true, force: true });
    if (table) {
      console.log(`\nFault suite\n${table}\n`);
      if (process.env.FAULTS_README && result.fail === 0) console.log(writeIntoReadme(join(ROOT, 'README.md'), table) ? 'README.md: fault table updated' : 'README.md: no fault table markers');
    }
    console.log(`${result.pass} passed, ${result.fail} failed`);
    return result.code === 0 && result.fail === 0 ? 0 : 1;
  } catch (err) {
    log(`bed failed: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    await bed.teardown();
  }
}

process.exitCode = await main();
