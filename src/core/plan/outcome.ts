/** The shape of a finished job's result, and the ids jobs are known by. */
import { randomBytes } from 'node:crypto';
import type { JobInfo, JobKind, JobOutcome, JobResult } from '../events.js';

export interface ResultExtra {
  reason?: string;
  reasonTag?: JobResult['reasonTag'];
  hint?: string | undefined;
  details: Record<string, unknown>;
  warnings: string[];
  manualSteps?: string[];
}

export function jobResult(job: JobInfo, outcome: JobOutcome, summary: string, extra: ResultExtra, finishedAt: Date): JobResult {
  return {
    job,
    outcome,
    summary,
    ...(extra.reason ? { reason: extra.reason } : {}),
    ...(extra.reasonTag ? { reasonTag: extra.reasonTag } : {}),
    ...(extra.hint ? { hint: extra.hint } : {}),
    details: extra.details,
    warnings: extra.warnings,
    manualSteps: extra.manualSteps ?? [],
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - new Date(job.startedAt).getTime(),
  };
}

export function newJobId(at: Date, kind: JobKind): string {
  return `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${kind}-${randomBytes(3).toString('hex')}`;
}
