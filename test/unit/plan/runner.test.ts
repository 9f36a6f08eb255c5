import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { JobRunner } from '../../../src/core/plan/runner.js';
import type { JobDefinition, Step, UndoHandler } from '../../../src/core/plan/step.js';
import type { EngineEvent } from '../../../src/core/events.js';
import { BadInputError, ErrorCode, LockHeldError, UpgradeBotError } from '../../../src/common/errors.js';
import { acquireJobLock, readJobLock } from '../../../src/state/job-lock.js';
import { readJournal } from '../../../src/state/journal.js';

interface S {
  log: string[];
}

function harness(handlers: Record<string, UndoHandler> = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), 'runner-'));
  const events: EngineEvent[] = [];
  const undone: string[] = [];
  const undoHandlers: Record<string, UndoHandler> = {
    note: {
      describe: (d) => `undo ${String(d)}`,
      run: async (d) => void undone.push(String(d)),
      manual: (d) => [`echo undo ${String(d)}`],
    },
    broken: {
      describe: () => 'put the database back',
      run: async () => {
        throw new Error('disk full');
      },
      manual: () => ['docker start pica-db'],
    },
    ...handlers,
  };
  const runner = new JobRunner({ stateDir, undoHandlers, emit: (e) => events.push(e) });
  return { stateDir, events, undone, runner };
}

const step = (id: string, run: Step<S>['run']): Step<S> => ({ id, title: `step ${id}`, run });

function job(steps: Step<S>[]): JobDefinition<S> {
  return {
    kind: 'upgrade',
    owner: 'cli:test',
    title: 'upgrade 1.0.0 → 1.1.0',
    plan: ['do things'],
    steps,
    state: { log: [] },
    succeeded: (s) => ({ summary: 'done', details: { log: s.log } }),
  };
}

describe('JobRunner', () => {
  it('a job whose undo leaves everything as it was (undoneOutcome refused) counts as refused once undone, or when it fails before any change', async () => {
    const h = harness();
    const undoable = { ...job([step('a', async (c) => void (await c.registerUndo('note', 'a'))), step('b', async () => { throw new Error('the builder failed'); })]), undoneOutcome: 'refused' as const };
    const r = await h.runner.run(undoable);
    assert.equal(r.outcome, 'refused');
    assert.deepEqual(h.undone, ['a']);
    assert.match(r.summary, /failed at step b; what it had made is removed: nothing changed/);
    assert.match(r.reason!, /the builder failed/);
    const early = await h.runner.run({ ...job([step('a', async () => { throw new Error('Docker is not reachable'); })]), undoneOutcome: 'refused' });
    assert.equal(early.outcome, 'refused');
  });

  it('a step that leaves a state for a person gives the commands that finish it, then those of the undos, and keeps its hint', async () => {
    const h = harness();
    const r = await h.runner.run(
      job([
        step('a', async (c) => void (await c.registerUndo('note', 'a'))),
        step('b', async () => {
          throw new UpgradeBotError(ErrorCode.HumanNeeded, 'half of it is published', { hint: 'or run it again', manual: ['docker push x:1', 'docker push x:latest'] });
        }),
      ]),
    );
    assert.equal(r.outcome, 'human-needed');
    assert.deepEqual(r.manualSteps, ['docker push x:1', 'docker push x:latest', 'echo undo a']);
    assert.equal(r.hint, 'or run it again');
    assert.deepEqual(h.undone, [], 'nothing is undone automatically');
  });

  it('runs the steps in order, journals each before and after, and releases the lock', async () => {
    const h = harness();
    const result = await h.runner.run(job([step('a', async (c) => void c.state.log.push('a')), step('b', async (c) => void c.state.log.push('b'))]));
    assert.equal(result.outcome, 'succeeded');
    assert.deepEqual(result.details, { log: ['a', 'b'] });
    assert.equal(await readJobLock(h.stateDir), undefined, 'lock released');
    const journal = await readJournal(join(h.stateDir, 'jobs', readdirSync(join(h.stateDir, 'jobs'))[0]!));
    assert.deepEqual(journal.map((e) => e.type + ('step' in e ? `:${e.step}` : '')), ['job-started', 'step-started:a', 'step-done:a', 'step-started:b', 'step-done:b', 'job-finished']);
    assert.deepEqual(h.events.map((e) => e.type), ['job-started', 'step-started', 'step-done', 'step-started', 'step-done', 'job-finished']);
  });

  it('undoes registered changes in reverse order, only for steps whose change was made', async () => {
    const h = harness();
    const result = await h.runner.run(
      job([
        step('a', async (c) => c.registerUndo('note', 'a')),
        step('b', async (c) => c.registerUndo('note', 'b')),
        step('c', async () => {
          throw new Error('boom');
        }),
        step('d', async (c) => c.registerUndo('note', 'd')),
      ]),
    );
    assert.equal(result.outcome, 'rolled-back');
    assert.deepEqual(h.undone, ['b', 'a']);
    assert.match(result.reason ?? '', /step c failed: boom/);
    assert.ok(h.events.some((e) => e.type === 'rollback-started'));
  });

  it('never swallows a failed undo: human needed, with the manual commands of what is left', async () => {
    const h = harness();
    const result = await h.runner.run(
      job([
        step('a', async (c) => c.registerUndo('note', 'a')),
        step('b', async (c) => c.registerUndo('broken', null)),
        step('c', async () => {
          throw new Error('boom');
        }),
      ]),
    );
    assert.equal(result.outcome, 'human-needed');
    assert.deepEqual(h.undone, [], 'stops at the failed undo');
    assert.deepEqual(result.manualSteps, ['docker start pica-db', 'echo undo a']);
    assert.match(result.reason ?? '', /put the database back failed: disk full/);
  });

  it('a step that says a human is needed ends the job there: no undo runs, its hint leads the manual steps', async () => {
    const h = harness();
    const result = await h.runner.run(
      job([
        step('stop', async (c) => c.registerUndo('note', 'start the app')),
        step('restore', async () => {
          throw new UpgradeBotError(ErrorCode.HumanNeeded, 'the restore failed and putting the database back failed too', { hint: "psql -c 'ALTER DATABASE x RENAME TO y'" });
        }),
      ]),
    );
    assert.equal(result.outcome, 'human-needed');
    assert.deepEqual(h.undone, [], 'starting the app on a half-restored database would be worse');
    assert.deepEqual(result.manualSteps, ["psql -c 'ALTER DATABASE x RENAME TO y'", 'echo undo start the app']);
  });

  it('a refusal before any change is `refused`', async () => {
    const h = harness();
    const result = await h.runner.run(
      job([
        step('validate', async () => {
          throw new BadInputError('"latest" is not a release version', 'type 10.11.4');
        }),
      ]),
    );
    assert.equal(result.outcome, 'refused');
    assert.equal(result.hint, 'type 10.11.4');
  });

  it('refuses a second job while one runs, naming it (exit 4)', async () => {
    const h = harness();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const first = h.runner.run(job([step('switch', async () => {
      started();
      await gate;
    })]));
    await running;
    await assert.rejects(h.runner.run(job([step('x', async () => undefined)])), (err: unknown) => {
      assert.ok(err instanceof LockHeldError);
      assert.equal(err.code, ErrorCode.LockHeld);
      assert.equal(err.exitCode, 4);
      assert.match(err.message, /upgrade 1\.0\.0 → 1\.1\.0 \(by cli:test, step switch, pid \d+/);
      return true;
    });
    release();
    assert.equal((await first).outcome, 'succeeded');
  });

  it('does not obey a lock whose process is dead, and recovers its job first', async () => {
    const h = harness();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const jobId = '20261125T000000Z-upgrade-dead01';
    mkdirSync(join(h.stateDir, 'jobs'), { recursive: true });
    writeFileSync(join(h.stateDir, 'job.lock'), JSON.stringify({ jobId, kind: 'upgrade', owner: 'cli:bob', title: 'upgrade 1.0.0 → 1.1.0', step: 'switch', pid: Number(dead), hostname: '', startedAt: '2026-11-25T00:00:00Z' }));
    const t = '2026-11-25T00:00:00.000Z';
    const lines = [
      { t, type: 'job-started', job: { id: jobId, kind: 'upgrade', owner: 'cli:bob', startedAt: t, title: 'upgrade 1.0.0 → 1.1.0' }, steps: [], params: {} },
      { t, type: 'step-started', step: 'compose' },
      { t, type: 'undo-registered', undo: { id: 'compose#1', kind: 'note', step: 'compose', data: 'compose' } },
      { t, type: 'step-done', step: 'compose', state: {} },
      { t, type: 'step-started', step: 'switch' },
      { t, type: 'undo-registered', undo: { id: 'switch#2', kind: 'note', step: 'switch', data: 'switch' } },
      { t, type: 'undo-started', undo: 'switch#2' },
      { t, type: 'undo-done', undo: 'switch#2' },
      '{"t":"2026-11-25T00:00:01.000Z","type":"undo-sta',
    ];
    writeFileSync(join(h.stateDir, 'jobs', `${jobId}.jsonl`), lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
    assert.equal((await readJobLock(h.stateDir))?.alive, false);
    const result = await h.runner.run(job([step('a', async () => undefined)]));
    assert.equal(result.outcome, 'succeeded');
    assert.deepEqual(h.undone, ['compose'], 'only the undo that had not run yet');
    const recovered = h.events.find((e) => e.type === 'job-finished' && e.result.job.id === jobId);
    assert.ok(recovered && recovered.type === 'job-finished');
    assert.equal(recovered.result.outcome, 'rolled-back');
    assert.match(recovered.result.summary, /interrupted at step switch; recovered by rolling back/);
    assert.match(readFileSync(join(h.stateDir, 'jobs', `${jobId}.jsonl`), 'utf8'), /"job-finished"/);
  });

  it('completes an interrupted job whose goal is already reached', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'runner-'));
    const events: EngineEvent[] = [];
    const undone: string[] = [];
    const runner = new JobRunner({
      stateDir,
      emit: (e) => events.push(e),
      undoHandlers: { note: { describe: () => 'x', run: async (d) => void undone.push(String(d)), manual: () => [] } },
      assessors: { upgrade: async (state) => ({ complete: (state as { target?: string }).target === '1.1.0', summary: '1.1.0 is serving and healthy' }) },
    });
    const jobId = '20261125T000000Z-upgrade-done01';
    mkdirSync(join(stateDir, 'jobs'), { recursive: true });
    const t = '2026-11-25T00:00:00.000Z';
    writeFileSync(
      join(stateDir, 'jobs', `${jobId}.jsonl`),
      [
        { t, type: 'job-started', job: { id: jobId, kind: 'upgrade', owner: 'cli:bob', startedAt: t, title: 'upgrade' }, steps: [], params: { target: '1.1.0' } },
        { t, type: 'undo-registered', undo: { id: 'switch#1', kind: 'note', step: 'switch', data: 'switch' } },
      ].map((l) => JSON.stringify(l)).join('\n') + '\n',
    );
    const [result] = await runner.recoverInterrupted();
    assert.equal(result?.outcome, 'succeeded');
    assert.match(result?.summary ?? '', /recovered: 1\.1\.0 is serving and healthy/);
    assert.deepEqual(undone, []);
    assert.deepEqual(await runner.recoverInterrupted(), [], 'finished jobs are not recovered twice');
  });

  it('takes the lock exclusively', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'lock-'));
    const a = await acquireJobLock(stateDir, { jobId: 'a', kind: 'backup', owner: 'x', title: 'backup', startedAt: '' });
    const b = await acquireJobLock(stateDir, { jobId: 'b', kind: 'backup', owner: 'y', title: 'backup', startedAt: '' });
    assert.equal(a.acquired, true);
    assert.equal(b.acquired, false);
    assert.equal(!b.acquired && b.holder.jobId, 'a');
    assert.equal(!b.acquired && b.holder.alive, true);
  });

  it('a stale lock found by 40 runners in the same instant: exactly one takes it over, every other is told who holds it', async () => {
    for (let round = 0; round < 3; round++) {
      const stateDir = mkdtempSync(join(tmpdir(), 'lock-race-'));
      const dead = spawnSync(process.execPath, ['-e', '']).pid!;
      writeFileSync(join(stateDir, 'job.lock'), JSON.stringify({ jobId: 'dead', kind: 'upgrade', owner: 'cli:x', title: 'upgrade', step: 'switch', pid: dead, pidStart: '1', hostname: hostname(), startedAt: '' }));
      const runners = Array.from({ length: 40 }, () => new JobRunner({ stateDir, undoHandlers: {}, emit: () => undefined }));
      let running = 0;
      let most = 0;
      // The winner's job outlasts every other attempt, so "exactly one" is about the same instant.
      const hold = step('a', async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        running--;
      });
      const results = await Promise.allSettled(runners.map((r) => r.run(job([hold]))));
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(most, 1, `round ${round}: ${most} jobs ran at once`);
      assert.equal(won.length, 1, `round ${round}: ${won.length} runners took the lock`);
      for (const l of lost) assert.ok(l.reason instanceof LockHeldError, `round ${round}: ${String(l.reason)}`);
      assert.deepEqual(readdirSync(stateDir).filter((f) => f.startsWith('job.lock')), [], 'no lock, breaker or temporary file left');
    }
  });

  it('a stale lock found by 12 processes in the same instant: exactly one takes it over, the others are told who holds it', async () => {
    const racer = new URL('./fixtures/lock-racer.ts', import.meta.url).pathname;
    for (let round = 0; round < 2; round++) {
      const stateDir = mkdtempSync(join(tmpdir(), 'lock-race-'));
      const dead = spawnSync(process.execPath, ['-e', '']).pid!;
      writeFileSync(join(stateDir, 'job.lock'), JSON.stringify({ jobId: 'dead', kind: 'upgrade', owner: 'cli:x', title: 'upgrade', step: 'switch', pid: dead, pidStart: '1', hostname: hostname(), startedAt: '' }));
      const go = join(stateDir, 'go');
      let ready = 0;
      let allReady: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (allReady = resolve));
      const finished = Array.from({ length: 12 }, () => new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', racer, stateDir, go, '2500'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (d.toString().includes('ready') && ++ready === 12) allReady();
        });
        child.on('close', () => resolve(out.replace('ready\n', '')));
      }));
      // However slowly they start on a busy machine, they all go in the same instant.
      await started;
      writeFileSync(go, '');
      const outputs = await Promise.all(finished);
      rmSync(go);
      assert.deepEqual(outputs.filter((o) => o !== 'held'), ['won'], `round ${round}: ${outputs.join(', ')}`);
      assert.deepEqual(readdirSync(stateDir).filter((f) => f.startsWith('job.lock')), [], 'no lock, breaker or temporary file left');
    }
  });

  it('halts at a journal boundary for a shutdown: the step in flight ends, no further step starts, the next start recovers', async () => {
    const h = harness();
    let release: () => void = () => undefined;
    const inStep = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (started = resolve));
    const ran: string[] = [];
    const running = h.runner.run({
      ...job([
        step('a', async (c) => {
          await c.registerUndo('note', 'a');
          started();
          await inStep;
          ran.push('a');
        }),
        step('b', async () => void ran.push('b')),
      ]),
      replyTo: { channelId: 'chan1' },
    });
    void running;
    await reached;
    const halting = h.runner.halt(5_000);
    release();
    await halting;
    assert.deepEqual(ran, ['a'], 'step a finished, step b never started');
    assert.equal(h.runner.busy, 1, 'the job is parked, not finished');
    await assert.rejects(h.runner.run(job([])), /the bot is stopping/);
    const file = join(h.stateDir, 'jobs', readdirSync(join(h.stateDir, 'jobs'))[0]!);
    const entries = await readJournal(file);
    assert.deepEqual(entries.map((e) => e.type), ['job-started', 'step-started', 'undo-registered'], 'parked before step-done: nothing after the boundary');
    assert.deepEqual((entries[0] as { job: { replyTo?: unknown } }).job.replyTo, { channelId: 'chan1' }, 'where to report it is journaled');

    // The next process: the parked job is taken up, reported as resumed, and undone.
    const events: EngineEvent[] = [];
    const undone: string[] = [];
    const next = new JobRunner({
      stateDir: h.stateDir,
      undoHandlers: { note: { describe: () => 'x', run: async (d) => void undone.push(String(d)), manual: () => [] } },
      emit: (e) => events.push(e),
    });
    const lockFile = join(h.stateDir, 'job.lock');
    const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number };
    writeFileSync(lockFile, JSON.stringify({ ...lock, pid: 999_999_999 }));
    const [result] = await next.recoverInterrupted();
    assert.equal(result?.outcome, 'rolled-back');
    assert.deepEqual(undone, ['a']);
    const resumed = events.find((e) => e.type === 'job-resumed');
    assert.ok(resumed && resumed.type === 'job-resumed');
    assert.deepEqual(resumed.steps.map((s) => s.id), ['a', 'b']);
    assert.deepEqual(resumed.completed, []);
    assert.equal(resumed.interrupted, 'a');
    assert.deepEqual(resumed.job.replyTo, { channelId: 'chan1' });
  });

  it('halts at once when no job runs', async () => {
    const h = harness();
    const t0 = Date.now();
    await h.runner.halt(10_000);
    assert.ok(Date.now() - t0 < 1_000);
  });

  it('keeps a refusal\'s message tag in the result, for interfaces in another language', async () => {
    const h = harness();
    const result = await h.runner.run(job([step('a', async () => { throw new BadInputError('1.0.0 is already running', undefined, { key: 'upgrade.same', params: { target: '1.0.0' } }); })]));
    assert.equal(result.outcome, 'refused');
    assert.deepEqual(result.reasonTag, { key: 'upgrade.same', params: { target: '1.0.0' } });
  });

  it('does not undo an interrupted job that a later, finished job came after: a person decides', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'runner-'));
    const undone: string[] = [];
    const runner = new JobRunner({
      stateDir,
      emit: () => undefined,
      undoHandlers: { note: { describe: () => 'x', run: async (d) => void undone.push(String(d)), manual: (d) => [`put ${String(d)} back`] } },
    });
    mkdirSync(join(stateDir, 'jobs'), { recursive: true });
    const t = '2026-11-25T00:00:00.000Z';
    const old = '20261125T000000Z-upgrade-old001';
    writeFileSync(
      join(stateDir, 'jobs', `${old}.jsonl`),
      [
        { t, type: 'job-started', job: { id: old, kind: 'upgrade', owner: 'cli:bob', startedAt: t, title: 'upgrade 1.0.0 → 1.1.0' }, steps: [], params: {} },
        { t, type: 'undo-registered', undo: { id: 'switch#1', kind: 'note', step: 'switch', data: 'switch' } },
      ].map((l) => JSON.stringify(l)).join('\n') + '\n',
    );
    await runner.run(job([step('a', async () => undefined)]));
    const [result] = await runner.recoverInterrupted();
    assert.equal(result?.outcome, 'human-needed');
    assert.match(result?.summary ?? '', /a later job \(upgrade 1\.0\.0 → 1\.1\.0, .*\) ran since/);
    assert.deepEqual(result?.manualSteps, ['put switch back']);
    assert.deepEqual(undone, []);
  });

  it('shares one recovery between callers in the same process', async () => {
    const h = harness();
    const [a, b] = [h.runner.recoverInterrupted(), h.runner.recoverInterrupted()];
    assert.equal(a, b);
    await a;
  });
});
