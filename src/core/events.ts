/**
 * What a running job tells the world: the CLI, the chat reporter and the schedules render the
 * same events. Plain data, so they can also be journaled and put in the outbox.
 */
import type { MessageTag } from '../common/errors.js';

export type JobKind = 'upgrade' | 'rollback' | 'backup' | 'restore' | 'reindex' | 'recover' | 'build' | 'rehearse';

export interface JobInfo {
  id: string;
  kind: JobKind;
  /** Who asked: `cli:<user>`, `chat:<username>`, `schedule:<name>`. */
  owner: string;
  startedAt: string;
  /** One line for people: "upgrade 1.0.0 → 1.1.0". */
  title: string;
  /** What it acts on, for interfaces that word it themselves (chat in another language). */
  subject?: { from?: string; to?: string; dump?: string };
  /** Where the interface that started it reports it (a chat channel id); journaled, so a recovery reports there too. */
  replyTo?: { channelId: string };
}

export interface PlannedStep {
  id: string;
  title: string;
}

/** The outcome of a job, mapped to the CLI's exit codes by `exitCodeOf`. */
export type JobOutcome =
  | 'succeeded' // 0
  | 'refused' // 2: nothing changed
  | 'rolled-back' // 1: failed, the previous version is serving
  | 'human-needed'; // 3: failed and NOT healthy

export interface JobResult {
  job: JobInfo;
  outcome: JobOutcome;
  /** One line for people. */
  summary: string;
  /** Why it failed or was refused. */
  reason?: string;
  /** The same reason as a message id and values, when the error carried one (for chat's catalogue). */
  reasonTag?: MessageTag;
  hint?: string;
  /** Facts worth reporting: versions, backup file, downtime, log lines, warnings. */
  details: Record<string, unknown>;
  warnings: string[];
  /** For `human-needed`: the exact commands that finish the job by hand. */
  manualSteps: string[];
  finishedAt: string;
  durationMs: number;
}

export type EngineEvent =
  | { type: 'job-started'; job: JobInfo; steps: PlannedStep[]; plan: string[] }
  /** A job a crash or a shutdown interrupted, taken up again at start: what it had done, where it stopped. */
  | { type: 'job-resumed'; job: JobInfo; steps: PlannedStep[]; completed: string[]; interrupted: string | undefined }
  | { type: 'step-started'; job: JobInfo; step: PlannedStep; index: number; total: number }
  | {
      type: 'step-progress';
      job: JobInfo;
      step: PlannedStep;
      message: string;
      /** For a bar: bytes of a pull or a dump. */
      current?: number;
      total?: number;
      unit?: 'bytes' | 'items';
    }
  | { type: 'step-done'; job: JobInfo; step: PlannedStep; detail?: string; durationMs: number }
  | { type: 'step-skipped'; job: JobInfo; step: PlannedStep; reason: string }
  | { type: 'step-failed'; job: JobInfo; step: PlannedStep; error: string; durationMs: number }
  | { type: 'warning'; job: JobInfo; message: string }
  | { type: 'rollback-started'; job: JobInfo; reason: string }
  | { type: 'rollback-stage'; job: JobInfo; stage: string; message: string; ok?: boolean }
  | { type: 'job-finished'; result: JobResult };

export type EventSink = (event: EngineEvent) => void;

/** Fans one event out to several sinks; a failing sink never stops the job. */
export function fanOut(...sinks: EventSink[]): EventSink {
  return (event) => {
    for (const sink of sinks) {
      try {
        sink(event);
      } catch {
        // a renderer's failure must not break an upgrade half-way
      }
    }
  };
}

export function exitCodeOf(outcome: JobOutcome): 0 | 1 | 2 | 3 {
  switch (outcome) {
    case 'succeeded':
      return 0;
    case 'rolled-back':
      return 1;
    case 'refused':
      return 2;
    case 'human-needed':
      return 3;
  }
}
