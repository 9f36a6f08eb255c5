/**
 * The progress post of a job, as a pure function of what its events said so far: a
 * checklist of the steps (✅ done, ⏳ running, ❌ failed, ⏭ skipped, ⬜ to come), the count
 * of a pull or a dump, the downtime so far, the rollback as it happens.
 */
import type { EngineEvent, JobInfo, JobResult } from '../core/events.js';
import { bytes, duration, ownerName, type Messages } from '../i18n/index.js';

type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped' | 'interrupted';

export interface ProgressModel {
  job: JobInfo | undefined;
  steps: Array<{ id: string; title: string; status: StepStatus }>;
  measure: { stepId: string; current: number; total: number | undefined; unit: 'bytes' | 'items' } | undefined;
  /** A build step's current Dockerfile instruction and elapsed time, as the builder says it. */
  note?: { stepId: string; text: string };
  /** The app is down from the start of the switch (or of stop-app) to its end (or start-app's). */
  downtimeFrom: number | undefined;
  downtimeTo: number | undefined;
  failedStep: string | undefined;
  rollingBack: boolean;
  rollbackLines: string[];
  result: JobResult | undefined;
  /** Taken up again after an interruption (a crash, a restart). */
  resumed?: boolean;
}

export function emptyProgress(): ProgressModel {
  return { job: undefined, steps: [], measure: undefined, downtimeFrom: undefined, downtimeTo: undefined, failedStep: undefined, rollingBack: false, rollbackLines: [], result: undefined };
}

const DOWN_STARTS = new Set(['switch', 'stop-app']);
const DOWN_ENDS = new Set(['switch', 'start-app']);
/** Steps whose progress lines are shown under them (the builder's current instruction). */
const NOTED = new Set(['build-app', 'build-db']);

/** Folds one event into the model; `m` words the rollback stages. */
export function applyEvent(model: ProgressModel, event: EngineEvent, m: Messages, now: number): void {
  const status = (id: string, s: StepStatus): void => {
    const step = model.steps.find((x) => x.id === id);
    if (step) step.status = s;
  };
  switch (event.type) {
    case 'job-started':
      model.job = event.job;
      model.steps = event.steps.map((s) => ({ id: s.id, title: s.title, status: 'pending' }));
      return;
    case 'job-resumed':
      model.job = event.job;
      model.resumed = true;
      model.steps = event.steps.map((s) => ({
        id: s.id,
        title: s.title,
        status: event.completed.includes(s.id) ? 'done' : s.id === event.interrupted ? 'interrupted' : 'pending',
      }));
      return;
    case 'step-started':
      status(event.step.id, 'running');
      if (DOWN_STARTS.has(event.step.id) && model.downtimeFrom === undefined) model.downtimeFrom = now;
      return;
    case 'step-progress':
      if (event.current !== undefined) model.measure = { stepId: event.step.id, current: event.current, total: event.total, unit: event.unit ?? 'items' };
      else if (NOTED.has(event.step.id)) model.note = { stepId: event.step.id, text: event.message };
      return;
    case 'step-done':
      status(event.step.id, 'done');
      if (model.measure?.stepId === event.step.id) model.measure = undefined;
      if (DOWN_ENDS.has(event.step.id) && model.downtimeFrom !== undefined) model.downtimeTo = now;
      return;
    case 'step-skipped':
      status(event.step.id, 'skipped');
      return;
    case 'step-failed':
      status(event.step.id, 'failed');
      model.failedStep = event.step.id;
      model.measure = undefined;
      return;
    case 'rollback-started':
      model.rollingBack = true;
      return;
    case 'rollback-stage': {
      if (event.ok === false) return;
      const line = rollbackLine(m, event.stage, event.message, event.ok, model.job?.subject?.from);
      if (line && model.rollbackLines.at(-1) !== line) model.rollbackLines.push(line);
      return;
    }
    case 'job-finished':
      model.job ??= event.result.job;
      model.result = event.result;
      if (model.downtimeFrom !== undefined && model.downtimeTo === undefined) model.downtimeTo = now;
      return;
    case 'warning':
      return;
  }
}

/** The stage of an undo, in the catalogue's words; undefined for the ones not worth a line. */
function rollbackLine(m: Messages, stage: string, message: string, ok: boolean | undefined, from: string | undefined): string | undefined {
  const w = m.rollback[stage];
  if (w === undefined) return undefined;
  if (typeof w === 'string') return ok ? w : undefined;
  const version = from ?? /\b(\d+\.\d+\.\d+)\b/.exec(message)?.[1] ?? '';
  if (stage === 'restore-previous') return ok ? (w as (v: string) => string)(version) : undefined;
  if (stage === 'app') return ok ? (w as (v: string, ok: boolean | undefined) => string)(version, ok) : undefined;
  if (stage === 'restore') return (w as (ok: boolean | undefined) => string)(ok);
  return undefined;
}

export function stepTitle(m: Messages, id: string, fallback: string): string {
  return m.steps[id] ?? fallback;
}

/** The downtime so far (or in all, once over), when the job had one. */
export function downtimeOf(model: ProgressModel, now: number): number | undefined {
  if (model.downtimeFrom === undefined) return undefined;
  return (model.downtimeTo ?? now) - model.downtimeFrom;
}

export function renderProgress(m: Messages, model: ProgressModel, now: number): string {
  const job = model.job;
  if (!job) return '';
  const title = jobTitle(m, job);
  const outcome = model.result?.outcome;
  const heading = outcome === undefined ? m.progress.title(job.kind, title) : outcome === 'succeeded' ? m.progress.done(job.kind, title) : m.progress.failed(job.kind, title);
  const lines = [`#### ${heading}`, m.progress.by(ownerName(m, job.owner)), ''];
  if (model.resumed && outcome === undefined) lines.push(`_${m.progress.resuming}_`, '');
  for (const s of model.steps) {
    const mark = { pending: '⬜', running: '⏳', done: '✅', failed: '❌', skipped: '⏭', interrupted: '⚠️' }[s.status];
    let line = `${mark} ${stepTitle(m, s.id, s.title)}`;
    if (s.status === 'skipped') line += ` — _${m.progress.skipped}_`;
    if (s.status === 'interrupted') line += ` — _${m.progress.interrupted}_`;
    if (s.status === 'running' && model.measure?.stepId === s.id) line += ` — ${measureText(m, model.measure)}`;
    if (s.status === 'running' && model.note?.stepId === s.id) line += ` — \`${model.note.text.replace(/`/g, "'").slice(0, 160)}\``;
    lines.push(line);
  }
  if (model.rollingBack) {
    lines.push('', `**↩️ ${m.progress.rollingBack}**`, ...model.rollbackLines.map((l) => `- ${l}`));
  }
  const down = downtimeOf(model, now);
  if (down !== undefined) lines.push('', model.downtimeTo === undefined ? m.progress.downtimeSoFar(duration(m, down)) : m.progress.downtime(duration(m, down)));
  return lines.join('\n');
}

export function jobTitle(m: Messages, job: JobInfo): string {
  const s = job.subject;
  if (s?.from && s.to) return `${s.from} → ${s.to}`;
  if (s?.dump) return `\`${s.dump.split('/').at(-1)}\``;
  if (job.kind === 'build' && s?.to) return s.to;
  return m.kind[job.kind];
}

function measureText(m: Messages, x: NonNullable<ProgressModel['measure']>): string {
  const amount = (n: number): string => (x.unit === 'bytes' ? bytes(m, n) : String(n));
  if (x.total && x.total > 0) return m.progress.pulled(Math.min(100, Math.floor((x.current / x.total) * 100)), amount(x.total));
  return x.unit === 'bytes' ? m.progress.dumped(amount(x.current)) : amount(x.current);
}
