/**
 * What the fault suite shares: a job stopped at a named boundary through the runner's test
 * hook (MM_UPGRADE_TEST_STOP_AT, src/core/plan/checkpoint.ts), the data's fingerprint (row
 * count and checksum, read in PostgreSQL itself), the verdict after a restart, and the row
 * each case adds to the suite's table (FAULTS_REPORT, printed by test/run.ts).
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobResult } from '../../../src/core/events.js';
import type { StatusReport } from '../../../src/status/collect.js';
import { mmUpgrade, mmUpgradeBackground } from '../../bed/cli.js';
import type { Deployment } from '../../bed/deploy.js';
import { waitFor } from '../../bed/proc.js';
import { engine, fresh } from '../../integration/helpers/upgrades.js';

export interface Fingerprint {
  count: number;
  checksum: string;
}

/** Row count and an md5 over every row in id order, computed by PostgreSQL in the db container. */
export async function fingerprint(d: Deployment): Promise<Fingerprint> {
  const sql = "SELECT count(*) || ' ' || coalesce(md5(string_agg(id || ':' || message || ':' || create_at, ',' ORDER BY id)), '-') FROM posts";
  const r = await waitFor(`the rows of ${d.dbContainer}`, async () => {
    const out = await engine.exec(d.dbContainer, ['psql', '-U', d.dbUser, '-d', d.dbName, '-Atc', sql]);
    return out.exitCode === 0 ? out.stdout.trim() : undefined;
  }, { timeoutMs: 60_000, intervalMs: 250 });
  const [count, checksum] = r.split(' ');
  return { count: Number(count), checksum: checksum! };
}

export type Stopped = ReturnType<typeof mmUpgradeBackground> & {
  /** Sends SIGKILL and waits for the process to be gone. */
  kill(): Promise<void>;
  /** Lets the job go on from the boundary. */
  resume(): void;
};

/** Starts `mm-upgrade <args>` and resolves once its job stands at `point`. */
export async function stopAt(args: string[], env: Record<string, string>, point: string): Promise<Stopped> {
  const bg = mmUpgradeBackground(args, { ...env, MM_UPGRADE_TEST_STOP_AT: point });
  const marker = join(env.STATE_DIR!, 'test-hook', `${bg.child.pid}.json`);
  await waitFor(`mm-upgrade ${args.join(' ')} at ${point}`, async () => {
    if (bg.child.exitCode !== null) throw new Error(`it ended before ${point}:\n${bg.output().stdout}${bg.output().stderr}`);
    return existsSync(marker) && (JSON.parse(readFileSync(marker, 'utf8')) as { point: string }).point === point ? true : undefined;
  }, { timeoutMs: 90_000, intervalMs: 20 }).catch((err: Error) => {
    bg.child.kill('SIGKILL');
    throw err;
  });
  return {
    ...bg,
    kill: async () => {
      bg.child.kill('SIGKILL');
      await bg.done;
    },
    resume: () => void bg.child.kill('SIGUSR2'),
  };
}

export interface Verdict {
  /** The recovered job's outcome, or `none` when nothing had to be recovered. */
  outcome: string;
  serving: string;
  report: StatusReport & { recovered?: JobResult[] };
}

/**
 * The next start after the fault (`mm-upgrade status`, which recovers first), then what every
 * case must end with: healthy on `from` (rolled back) or `to` (completed), compose file and
 * containers agreeing, the lock released, the rows as before — or the explicit human-needed
 * state with its instructions.
 */
export async function recoverAndCheck(d: Deployment & { botEnv: Record<string, string> }, before: Fingerprint, move: { from: string; to: string }): Promise<Verdict> {
  const r = await mmUpgrade(['status', '--json'], d.botEnv);
  assert.ok(r.stdout.trim().startsWith('{'), `status --json: ${r.stdout}\n${r.stderr}`);
  const report = JSON.parse(r.stdout) as Verdict['report'];
  const recovered = report.recovered ?? [];
  assert.ok(recovered.length <= 1, `recovered ${recovered.length} jobs`);
  const outcome = recovered[0]?.outcome ?? 'none';
  if (outcome === 'human-needed') {
    assert.ok(recovered[0]!.manualSteps.length > 0, 'human-needed comes with its instructions');
    return { outcome, serving: report.app.version ?? 'none', report };
  }
  const settled = report.healthy ? report : await settledStatus(d, 30_000);
  assert.equal(settled.healthy, true, `not healthy after ${outcome}: ${settled.problems.join('; ')}\n${r.stderr}`);
  assert.deepEqual(settled.drift, [], 'compose file and containers agree');
  assert.equal(report.job, null, 'the lock is released');
  const expected = outcome === 'succeeded' ? [move.to] : outcome === 'rolled-back' ? [move.from] : [move.from, move.to];
  assert.ok(expected.includes(report.app.version ?? ''), `${outcome}, serving ${report.app.version}, expected ${expected.join(' or ')}`);
  assert.deepEqual(await fingerprint(d), before, 'the rows: same count, same checksum');
  const again = await mmUpgrade(['status'], d.botEnv);
  assert.doesNotMatch(again.stderr, /Recovered/, 'recovered once only');
  return { outcome: label(outcome, recovered[0]?.summary ?? ''), serving: report.app.version!, report };
}

/** The outcome as the table shows it: what the recovery did, in a few words. */
function label(outcome: string, summary: string): string {
  if (/before any change/.test(summary)) return `${outcome} (nothing had changed)`;
  if (/recovered by rolling back/.test(summary)) return `${outcome} (its undos run)`;
  if (/recovered: /.test(summary)) return `${outcome} (found complete)`;
  return outcome;
}

/**
 * `mm-upgrade status --json` once it says healthy, or the last report after `timeoutMs`: a
 * healthcheck (every 2 s, 3 tries) may still be catching up with a container just started.
 */
export async function settledStatus(d: { botEnv: Record<string, string> }, timeoutMs: number): Promise<StatusReport> {
  let last: StatusReport | undefined;
  return waitFor('a healthy status', async () => {
    last = JSON.parse((await mmUpgrade(['status', '--json'], d.botEnv)).stdout) as StatusReport;
    return last.healthy ? last : undefined;
  }, { timeoutMs, intervalMs: 1_000 }).catch((err: unknown) => {
    if (last) return last;
    throw err;
  });
}

export interface CaseRow {
  group: string;
  fault: string;
  outcome: string;
  serving: string;
  rows: string;
}

/** One line of the suite's table (README, "Fault suite"). */
export function recordCase(row: CaseRow): void {
  const file = process.env.FAULTS_REPORT;
  if (file) appendFileSync(file, JSON.stringify(row) + '\n');
}

/** A fresh team deployment at 1.0.0 for one case, brought down when the case ends (its volumes kept until the file ends). */
export async function withDeployment<T>(fn: (d: Awaited<ReturnType<typeof fresh>>) => Promise<T>, opts: { layout?: 'team' | 'mattermost'; registry?: string } = {}): Promise<T> {
  const d = await fresh(opts.layout ?? 'team', opts.registry ? { registry: opts.registry } : {});
  try {
    return await fn(d);
  } finally {
    await d.down().catch(() => undefined);
  }
}
