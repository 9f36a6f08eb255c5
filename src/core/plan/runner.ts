/**
 * Runs jobs: one at a time (the lock), every step journaled before and after, undos in
 * reverse on failure. A failed undo is never swallowed: the job ends as `human-needed` with
 * the commands that finish it by hand. A job interrupted by a crash is found at the next
 * start and either completed (its goal is already reached) or rolled back.
 */
import { ErrorCode, LockHeldError, UpgradeBotError, toBotError } from '../../common/errors.js';
import type { EventSink, JobInfo, JobKind, JobOutcome, JobResult, PlannedStep } from '../events.js';
import { plannedSteps, type JobDefinition, type StepContext, type UndoHandler } from './step.js';
import type { Checkpoint } from './checkpoint.js';
import { jobResult, newJobId, type ResultExtra } from './outcome.js';
import { runUndos, type UndoOutcome } from './undo.js';
import { laterFinishedJob, readJournal, unfinishedJobs, type Journal, type JournalEntry, type UndoRecord } from '../../state/journal.js';
import { OpenJournals } from './journals.js';
import { acquireJobLock, breakStaleLock, readJobLock, releaseJobLock, updateJobLock, type JobLock } from '../../state/job-lock.js';

/** Decides, for an interrupted job, whether its goal is already reached. */
export type Assessor = (state: unknown) => Promise<{ complete: boolean; summary: string; details?: Record<string, unknown> }>;

export interface RunnerDeps {
  stateDir: string;
  undoHandlers: Record<string, UndoHandler>;
  emit: EventSink;
  /** Called with every finished job (history). */
  record?: (result: JobResult) => Promise<void>;
  assessors?: Partial<Record<JobKind, Assessor>>;
  /** Runs before any interrupted job is recovered (e.g. undoing a restore cut short). */
  beforeRecovery?: () => Promise<void>;
  /** The fault suite's hook (checkpoint.ts); absent in normal runs. */
  checkpoint?: Checkpoint | undefined;
  now?: () => Date;
}

const REFUSALS = new Set<ErrorCode>([ErrorCode.BadInput, ErrorCode.PolicyRefused, ErrorCode.ConfigInvalid, ErrorCode.ComposeInvalid, ErrorCode.NotFound, ErrorCode.BackupFailed, ErrorCode.BuildFailed]);

export class JobRunner {
  private readonly now: () => Date;
  private readonly journals: OpenJournals;
  private recovering: Promise<JobResult[]> | undefined;

  constructor(private readonly deps: RunnerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.journals = new OpenJournals(deps.stateDir, this.now);
  }

  /**
   * For a shutdown: every running job stops at its next journal write (a step in flight may
   * go on until then) and waits there for ever; the process can then exit at a journal
   * boundary, and the next start recovers the job. Resolves once every running job is parked
   * (or none runs), or after `graceMs`; in both cases once no journal write is under way.
   */
  halt(graceMs: number): Promise<void> {
    return this.journals.halt(graceMs);
  }

  /** How many jobs this runner is running now. */
  get busy(): number {
    return this.journals.size;
  }

  /** Recovers any job a crash left behind, then runs this one. */
  async run<S>(def: JobDefinition<S>): Promise<JobResult> {
    if (this.journals.isHalted) throw new UpgradeBotError(ErrorCode.Unknown, 'the bot is stopping: no new job starts', { tag: { key: 'bot.stopping' } });
    const job: JobInfo = {
      id: newJobId(this.now(), def.kind),
      kind: def.kind,
      owner: def.owner,
      startedAt: this.now().toISOString(),
      title: def.title,
      ...(def.subject ? { subject: def.subject } : {}),
      ...(def.replyTo ? { replyTo: def.replyTo } : {}),
    };
    await this.deps.checkpoint?.('lock');
    const lock = await this.lock(job);
    let journal: Journal;
    try {
      journal = await this.journals.add(job.id);
    } catch (err) {
      await releaseJobLock(this.deps.stateDir, job.id);
      throw err;
    }
    const steps = plannedSteps(def.steps);
    const undos: UndoRecord[] = [];
    const warnings: string[] = [];
    const emit = this.deps.emit;
    try {
      await journal.append({ type: 'job-started', job, steps, params: def.state });
      emit({ type: 'job-started', job, steps, plan: def.plan });
      let failure: { step: PlannedStep; error: UpgradeBotError } | undefined;
      for (const [index, step] of def.steps.entries()) {
        const planned = steps[index]!;
        const skip = step.skip?.(def.state);
        if (skip !== undefined) {
          emit({ type: 'step-skipped', job, step: planned, reason: skip });
          continue;
        }
        const started = Date.now();
        const ctx: StepContext<S> = {
          job,
          state: def.state,
          progress: (message, measure) => emit({ type: 'step-progress', job, step: planned, message, ...measure }),
          warn: (message) => {
            warnings.push(message);
            emit({ type: 'warning', job, message });
          },
          registerUndo: async (kind, data) => {
            if (!this.deps.undoHandlers[kind]) throw new Error(`no undo handler for "${kind}"`);
            const undo: UndoRecord = { id: `${step.id}#${undos.length + 1}`, kind, step: step.id, data };
            await journal.append({ type: 'undo-registered', undo });
            undos.push(undo);
          },
        };
        try {
          // Inside the try: a journal or lock write that fails (a full disk) fails this step, and what was done is undone.
          await updateJobLock(this.deps.stateDir, lock, step.id);
          await journal.append({ type: 'step-started', step: step.id });
          await this.deps.checkpoint?.(`step-started:${step.id}`);
          emit({ type: 'step-started', job, step: planned, index, total: steps.length });
          const detail = await step.run(ctx);
          await journal.append({ type: 'step-done', step: step.id, state: def.state });
          await this.deps.checkpoint?.(`step-done:${step.id}`);
          emit({ type: 'step-done', job, step: planned, durationMs: Date.now() - started, ...(detail ? { detail } : {}) });
        } catch (err) {
          const error = toBotError(err);
          await journal.append({ type: 'step-failed', step: step.id, error: error.message }).catch(() => undefined);
          emit({ type: 'step-failed', job, step: planned, error: error.message, durationMs: Date.now() - started });
          failure = { step: planned, error };
          break;
        }
      }

      let result: JobResult;
      if (!failure) {
        const { summary, details } = def.succeeded(def.state);
        result = this.result(job, 'succeeded', summary, { details, warnings });
      } else if (undos.length === 0) {
        const refused = REFUSALS.has(failure.error.code) || undoneOutcomeOf(def, failure.error) === 'refused';
        result = this.result(job, refused ? 'refused' : 'rolled-back', refused ? `refused: ${failure.error.message}` : `failed at ${failure.step.title}, before any change: nothing to undo`, {
          reason: failure.error.message,
          reasonTag: failure.error.tag,
          hint: failure.error.hint,
          details: def.failed?.(def.state) ?? {},
          warnings,
        });
      } else if (failure.error.code === ErrorCode.HumanNeeded) {
        // The step itself says the state is one no automatic undo should touch.
        result = this.result(job, 'human-needed', `failed at ${failure.step.title}: a human is needed`, {
          reason: failure.error.message,
          details: def.failed?.(def.state) ?? {},
          warnings,
          ...(failure.error.manual ? { hint: failure.error.hint } : {}),
          manualSteps: [
            ...(failure.error.manual ?? (failure.error.hint ? [failure.error.hint] : [])),
            ...[...undos].reverse().flatMap((u) => this.deps.undoHandlers[u.kind]!.manual(u.data)),
          ],
        });
      } else {
        const reason = `${failure.step.title} failed: ${failure.error.message}`;
        emit({ type: 'rollback-started', job, reason: reason.split('\n')[0]! });
        const undone = await this.undo(job, undos, journal);
        const undoneOutcome = undoneOutcomeOf(def, failure.error);
        result = undone.ok
          ? this.result(job, undoneOutcome, undoneOutcome === 'refused' ? `failed at ${failure.step.title}; what it had made is removed: nothing changed` : `failed at ${failure.step.title} and rolled back`, {
              reason,
              reasonTag: failure.error.tag,
              hint: failure.error.hint,
              details: def.failed?.(def.state) ?? {},
              warnings,
            })
          : this.result(job, 'human-needed', `failed at ${failure.step.title}, and the rollback failed too: a human is needed`, {
              reason: `${reason}; then ${undone.error}`,
              details: def.failed?.(def.state) ?? {},
              warnings,
              manualSteps: undone.manual,
            });
      }
      return await this.finish(journal, result);
    } finally {
      await this.journals.close(journal);
      await releaseJobLock(this.deps.stateDir, job.id);
    }
  }

  /**
   * Jobs a crash interrupted: each is completed when its goal is already reached (its
   * assessor says so), otherwise its registered undos that did not run yet run in reverse.
   */
  recoverInterrupted(): Promise<JobResult[]> {
    // One recovery at a time in this process (serve starts one while a click may start another).
    this.recovering ??= this.recoverAll().finally(() => (this.recovering = undefined));
    return this.recovering;
  }

  private async recoverAll(): Promise<JobResult[]> {
    const results: JobResult[] = [];
    await this.deps.checkpoint?.('recover');
    const held = await readJobLock(this.deps.stateDir);
    if (held?.alive) return results;
    await this.deps.beforeRecovery?.();
    for (const { path, entries: seen } of await unfinishedJobs(this.deps.stateDir)) {
      const started = seen.find((e): e is Extract<JournalEntry, { type: 'job-started' }> => e.type === 'job-started');
      if (!started) continue;
      const job = started.job;
      const lock = await acquireJobLock(this.deps.stateDir, { jobId: job.id, kind: job.kind, owner: job.owner, title: job.title, startedAt: job.startedAt });
      if (!lock.acquired) {
        if (lock.holder.alive) throw new LockHeldError(lock.holder);
        await breakStaleLock(this.deps.stateDir, lock.holder);
        if (!(await acquireJobLock(this.deps.stateDir, { jobId: job.id, kind: job.kind, owner: job.owner, title: job.title, startedAt: job.startedAt })).acquired) continue;
      }
      // Read again under the lock: another process may have finished it meanwhile.
      const entries = await readJournal(path);
      if (entries.some((e) => e.type === 'job-finished')) {
        await releaseJobLock(this.deps.stateDir, job.id);
        continue;
      }
      const journal = await this.journals.add(job.id);
      try {
        results.push(await this.finish(journal, await this.recoverOne(job, entries, journal)));
      } finally {
        await this.journals.close(journal);
        await releaseJobLock(this.deps.stateDir, job.id);
      }
    }
    return results;
  }

  private async recoverOne(job: JobInfo, entries: JournalEntry[], journal: Journal): Promise<JobResult> {
    const lastStep = [...entries].reverse().find((e) => e.type === 'step-started') as { step: string } | undefined;
    const state = [...entries].reverse().find((e): e is Extract<JournalEntry, { type: 'step-done' }> => e.type === 'step-done')?.state
      ?? (entries[0] as Extract<JournalEntry, { type: 'job-started' }>).params;
    const registered = entries.filter((e): e is Extract<JournalEntry, { type: 'undo-registered' }> => e.type === 'undo-registered').map((e) => e.undo);
    const done = new Set(entries.filter((e): e is Extract<JournalEntry, { type: 'undo-done' }> => e.type === 'undo-done').map((e) => e.undo));
    const pending = registered.filter((u) => !done.has(u.id));
    const where = `interrupted at step ${lastStep?.step ?? 'start'}`;
    await journal.append({ type: 'note', message: `recovery after a crash: ${where}` });
    const later = await laterFinishedJob(journal.path);
    const started = entries[0] as Extract<JournalEntry, { type: 'job-started' }>;
    const completed = entries.filter((e): e is Extract<JournalEntry, { type: 'step-done' }> => e.type === 'step-done').map((e) => e.step);
    this.deps.emit({ type: 'job-resumed', job, steps: started.steps ?? [], completed, interrupted: lastStep && !completed.includes(lastStep.step) ? lastStep.step : undefined });

    if (later) {
      // Another job ran since: undoing this one now could undo that one's work. A person decides.
      return this.result(job, 'human-needed', `${where}; a later job (${later.title}, ${later.id}) ran since, so it is not undone automatically`, {
        reason: `${where}, and ${later.title} ran after it`,
        details: { recovered: true },
        warnings: [],
        manualSteps: [...pending].reverse().flatMap((u) => this.deps.undoHandlers[u.kind]?.manual(u.data) ?? []),
      });
    }
    const assess = this.deps.assessors?.[job.kind];
    const verdict = assess
      ? await assess(state).catch((err: unknown): Awaited<ReturnType<Assessor>> => ({ complete: false, summary: `could not assess: ${toBotError(err).message}` }))
      : undefined;
    if (verdict?.complete) {
      return this.result(job, 'succeeded', `${where}; recovered: ${verdict.summary}`, { details: { ...(verdict.details ?? {}), recovered: true }, warnings: [] });
    }
    if (pending.length === 0) {
      return this.result(job, 'rolled-back', `${where}, before any change: nothing to undo`, { reason: where, details: { recovered: true }, warnings: [] });
    }
    this.deps.emit({ type: 'rollback-started', job, reason: `${where}${verdict ? ` (${verdict.summary})` : ''}` });
    const undone = await this.undo(job, pending, journal);
    return undone.ok
      ? this.result(job, 'rolled-back', `${where}; recovered by rolling back`, { reason: where, details: { recovered: true }, warnings: [] })
      : this.result(job, 'human-needed', `${where}; the rollback failed: a human is needed`, { reason: undone.error, details: { recovered: true }, warnings: [], manualSteps: undone.manual });
  }

  private undo(job: JobInfo, undos: UndoRecord[], journal: Journal): Promise<UndoOutcome> {
    return runUndos(this.deps, job, undos, journal);
  }

  private result(job: JobInfo, outcome: JobOutcome, summary: string, extra: ResultExtra): JobResult {
    return jobResult(job, outcome, summary, extra, this.now());
  }

  private async lock(job: JobInfo): Promise<JobLock> {
    const want = { jobId: job.id, kind: job.kind, owner: job.owner, title: job.title, startedAt: job.startedAt };
    const first = await acquireJobLock(this.deps.stateDir, want);
    if (first.acquired) return first.lock;
    if (first.holder.alive) throw new LockHeldError(first.holder);
    await this.recoverInterrupted();
    await breakStaleLock(this.deps.stateDir, first.holder);
    const second = await acquireJobLock(this.deps.stateDir, want);
    if (second.acquired) return second.lock;
    throw new LockHeldError(second.holder);
  }

  /** Journals and records the end; whatever fails there, the interfaces still hear how it ended. */
  private async finish(journal: Journal, result: JobResult): Promise<JobResult> {
    try {
      await journal.append({ type: 'job-finished', result });
    } catch (err) {
      result.warnings.push(`the end of the job could not be journaled (${toBotError(err).message}): the next start will look at it again`);
    }
    try {
      await this.deps.record?.(result);
    } catch (err) {
      result.warnings.push(`the job could not be added to the history: ${toBotError(err).message}`);
    }
    this.deps.emit({ type: 'job-finished', result });
    return result;
  }
}

function undoneOutcomeOf<S>(def: JobDefinition<S>, error: UpgradeBotError): 'rolled-back' | 'refused' {
  const o = def.undoneOutcome;
  return typeof o === 'function' ? o(error) : (o ?? 'rolled-back');
}
