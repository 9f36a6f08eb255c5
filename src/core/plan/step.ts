/**
 * A job is a plan of steps. A step that changes something registers how to undo it only
 * once the change is made; undos run in reverse order. Undo handlers are looked up by kind
 * with journaled JSON data, so a bot that restarts after a crash can still run them.
 */
import type { UpgradeBotError } from '../../common/errors.js';
import type { EngineEvent, JobInfo, JobKind, PlannedStep } from '../events.js';

export interface StepContext<S> {
  readonly job: JobInfo;
  /** The job's working state: read and written by steps, journaled after each one. */
  readonly state: S;
  progress(message: string, measure?: { current?: number; total?: number; unit?: 'bytes' | 'items' }): void;
  warn(message: string): void;
  /** Journals (fsync) an undo for a change that has just been made. */
  registerUndo(kind: string, data: unknown): Promise<void>;
}

export interface Step<S> {
  readonly id: string;
  readonly title: string;
  /** A reason to skip this step for this job, or undefined to run it. */
  skip?(state: S): string | undefined;
  /** Does the work; returns a one-line detail for the report. */
  run(ctx: StepContext<S>): Promise<string | void>;
}

export interface UndoContext {
  readonly job: JobInfo;
  stage(stage: string, message: string, ok?: boolean): void;
  emit(event: EngineEvent): void;
}

export interface UndoHandler {
  /** "put back docker-compose.yml", for people. */
  describe(data: unknown): string;
  /** Must be idempotent: after a crash it may run again on a half-undone change. */
  run(data: unknown, ctx: UndoContext): Promise<void>;
  /** The exact commands that do the same by hand, for a human when this undo fails. */
  manual(data: unknown): string[];
}

export interface JobDefinition<S> {
  kind: JobKind;
  owner: string;
  title: string;
  subject?: JobInfo['subject'];
  replyTo?: JobInfo['replyTo'];
  /** What will happen, one line each, shown before anything runs. */
  plan: string[];
  steps: Step<S>[];
  state: S;
  /** After the last step: the summary and details of a success. */
  succeeded(state: S): { summary: string; details: Record<string, unknown> };
  /**
   * How a failure whose undos all ran counts: `rolled-back` (the default: the previous
   * version serves again), or `refused` for a job whose undo leaves everything as it was
   * (a build: nothing published, what it made locally removed).
   */
  undoneOutcome?: 'rolled-back' | 'refused' | ((error: UpgradeBotError) => 'rolled-back' | 'refused');
  /** After a failure: facts worth reporting (log lines, backup file…). */
  failed?(state: S): Record<string, unknown>;
}

export function plannedSteps<S>(steps: Step<S>[]): PlannedStep[] {
  return steps.map((s) => ({ id: s.id, title: s.title }));
}
