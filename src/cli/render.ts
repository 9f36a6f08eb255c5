/**
 * How `mm-upgrade` shows a job: progress on stderr as the engine's events arrive, the result
 * on stdout once it is known. Read by a sysadmin at 2 a.m., and by CI logs and `| tee`: one
 * line per fact, no stack traces, colour and an in-place bar only on a real terminal.
 */
import type cliProgress from 'cli-progress';
import { lazy } from '../common/lazy.js';
import { formatBytes, formatDuration } from '../config/parse.js';
import type { EngineEvent, EventSink, JobOutcome, JobResult } from '../core/events.js';
import { describeUpD, isUpD } from '../core/upgrade/compose-hash.js';

export type ReporterStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface CliReporterOptions {
  stream: ReporterStream;
  /** `false` turns colour off even on a terminal. */
  color?: boolean;
  now?: () => number;
  /** Read for `NO_COLOR` and `TERM=dumb`. */
  env?: NodeJS.ProcessEnv;
  /** `false` when the plan was already shown (before asking to confirm): the header only. */
  showPlan?: boolean;
}

export interface CliReporter {
  sink: EventSink;
  /** Stops and clears a bar still on screen (a job that ended without its last events). */
  close(): void;
}

/** Without a terminal, a step prints at most one byte/item count per this interval. */
export const PLAIN_PROGRESS_INTERVAL_MS = 5_000;

type Paint = (text: string) => string;
interface Palette {
  bold: Paint;
  dim: Paint;
  green: Paint;
  red: Paint;
  yellow: Paint;
}

const sgr = (open: number, close: number): Paint => (text) => `\x1b[${open}m${text}\x1b[${close}m`;
const COLOURS: Palette = { bold: sgr(1, 22), dim: sgr(2, 22), green: sgr(32, 39), red: sgr(31, 39), yellow: sgr(33, 39) };
const same: Paint = (text) => text;
const PLAIN: Palette = { bold: same, dim: same, green: same, red: same, yellow: same };

interface Measure {
  message: string;
  current: number;
  total: number | undefined;
  unit: 'bytes' | 'items';
  /** When the step started, for the elapsed time of a count without a total. */
  since: number;
}

export function createCliReporter(opts: CliReporterOptions): CliReporter {
  const { stream } = opts;
  const now = opts.now ?? Date.now;
  const env = opts.env ?? process.env;
  const terminal = stream.isTTY === true && env.TERM !== 'dumb';
  const paint = terminal && opts.color !== false && !env.NO_COLOR ? COLOURS : PLAIN;
  const bar = terminal ? new InPlaceBar(stream, now) : undefined;
  /** Per step: when it started, and when a count line was last printed (plain output). */
  const startedAt = new Map<string, number>();
  const lastCountAt = new Map<string, number>();

  const line = (text: string): void => {
    bar?.clear();
    stream.write(`${text}\n`);
  };

  const progress = (event: Extract<EngineEvent, { type: 'step-progress' }>): void => {
    const { step, message } = event;
    if (event.current === undefined) {
      if (message) line(paint.dim(`  ${message}`));
      return;
    }
    // A step seen only through its progress (an undo's, say) is timed from its first count.
    const since = startedAt.get(step.id) ?? now();
    startedAt.set(step.id, since);
    const measure: Measure = { message, current: event.current, total: event.total, unit: event.unit ?? 'items', since };
    if (bar) {
      bar.show(step.id, measure);
      return;
    }
    const last = lastCountAt.get(step.id) ?? measure.since;
    if (now() - last < PLAIN_PROGRESS_INTERVAL_MS) return;
    lastCountAt.set(step.id, now());
    line(`  ${message ? `${message}: ` : ''}${amount(measure)}`);
  };

  const sink: EventSink = (event) => {
    switch (event.type) {
      case 'job-started':
        line(`${paint.bold(event.job.title)} (job ${event.job.id})`);
        if (opts.showPlan !== false) for (const planned of event.plan) line(`  ${planned}`);
        return;
      case 'job-resumed':
        line(`${paint.bold(`Taking up the interrupted job: ${event.job.title}`)} (by ${event.job.owner}, job ${event.job.id})`);
        line(`  done before the interruption: ${event.completed.length > 0 ? event.completed.join(', ') : 'nothing'}${event.interrupted ? `; interrupted during: ${event.interrupted}` : ''}`);
        return;
      case 'step-started':
        startedAt.set(event.step.id, now());
        line(`[${event.index + 1}/${event.total}] ${event.step.title}…`);
        return;
      case 'step-progress':
        progress(event);
        return;
      case 'step-done':
        line(`${paint.green('✓')} ${event.step.title} (${formatDuration(event.durationMs)})${event.detail ? `: ${event.detail}` : ''}`);
        return;
      case 'step-skipped':
        line(`- ${event.step.title}: skipped (${event.reason})`);
        return;
      case 'step-failed':
        line(paint.red(`✗ ${event.step.title}: ${event.error}`));
        return;
      case 'warning':
        line(paint.yellow(`! ${event.message}`));
        return;
      case 'rollback-started':
        line(paint.bold(paint.red(`ROLLING BACK: ${event.reason}`)));
        return;
      case 'rollback-stage':
        line(
          event.ok === undefined
            ? `  ↺ ${event.message}`
            : event.ok
              ? `  ${paint.green('✓')} ${event.message}`
              : paint.red(`  ✗ ${event.message}`),
        );
        return;
      case 'job-finished':
        bar?.clear();
        return;
    }
  };

  return { sink, close: () => bar?.clear() };
}

/** Only a terminal gets a bar: cli-progress is loaded for the first one. */
const progressBars = lazy<typeof cliProgress>('cli-progress');

/** One cli-progress bar at a time, for the step whose counts arrive; cleared before any line. */
class InPlaceBar {
  private bar: cliProgress.SingleBar | undefined;
  private stepId: string | undefined;

  constructor(
    private readonly stream: ReporterStream,
    private readonly now: () => number,
  ) {}

  show(stepId: string, measure: Measure): void {
    if (this.bar && this.stepId !== stepId) this.clear();
    const payload = { measure };
    if (this.bar) {
      this.bar.setTotal(measure.total ?? 0);
      this.bar.update(measure.current, payload);
      return;
    }
    this.bar = new (progressBars().SingleBar)({
      stream: this.stream,
      format: (_options, params, data: { measure: Measure }) => barLine(data.measure, params.maxWidth - 1, this.now()),
      fps: 10,
      clearOnComplete: true,
      // Leave the terminal as it is: a Ctrl-C mid-pull must not leave a hidden cursor or
      // line wrapping off, nor should a bar take over SIGINT.
      hideCursor: false,
      linewrap: true,
      gracefulExit: false,
    });
    this.stepId = stepId;
    this.bar.start(measure.total ?? 0, measure.current, payload);
  }

  clear(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.stepId = undefined;
  }
}

/**
 * `  [█████████░░░░░░░░░░░]  45% 120.5 MB/268.0 MB  pulling mattermost:1.1.0`, at most
 * `width` columns: the bar and the numbers stay in place, the message is cut if need be.
 */
function barLine(m: Measure, width: number, now: number): string {
  if (m.total === undefined || m.total <= 0) {
    return fit(`  ${m.message ? `${m.message}: ` : ''}${formatAmount(m.current, m.unit)} (${formatDuration(Math.max(0, now - m.since))})`, width);
  }
  const ratio = Math.min(1, Math.max(0, m.current / m.total));
  const total = formatAmount(m.total, m.unit);
  const filled = Math.round(ratio * BAR_SIZE);
  const drawn = `[${'█'.repeat(filled)}${'░'.repeat(BAR_SIZE - filled)}]`;
  const numbers = `${String(Math.floor(ratio * 100)).padStart(3)}% ${formatAmount(m.current, m.unit).padStart(total.length)}/${total}`;
  return fit(`  ${drawn} ${numbers}${m.message ? `  ${m.message}` : ''}`, width);
}

const BAR_SIZE = 20;

function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, Math.max(0, width)) : `${text.slice(0, width - 1)}…`;
}

function amount(m: Measure): string {
  if (m.total === undefined || m.total <= 0) return formatAmount(m.current, m.unit);
  const percent = Math.floor(Math.min(1, Math.max(0, m.current / m.total)) * 100);
  return `${formatAmount(m.current, m.unit)} of ${formatAmount(m.total, m.unit)} (${percent}%)`;
}

function formatAmount(n: number, unit: 'bytes' | 'items'): string {
  return unit === 'bytes' ? formatBytes(n) : String(n);
}

// ---------------------------------------------------------------------------------------
// The result, for stdout

const OUTCOME_LABEL: Record<JobOutcome, string> = {
  succeeded: 'SUCCEEDED',
  'rolled-back': 'ROLLED BACK',
  refused: 'REFUSED',
  'human-needed': 'HUMAN NEEDED',
};

/** Detail keys the engine reports, in the order a person wants them, with their labels. */
const KNOWN_DETAILS: Array<[key: string, label: string, render: (value: unknown) => string | undefined]> = [
  ['from', 'From', plainValue],
  ['to', 'To', plainValue],
  ['backup', 'Backup', backupValue],
  ['downtimeMs', 'Downtime', (v) => (typeof v === 'number' ? formatDuration(v) : plainValue(v))],
  ['restoreLoses', 'Restore loses', plainValue],
  ['changelog', 'Changelog', plainValue],
  ['upD', 'On up -d', (v) => (isUpD(v) ? describeUpD(v, 'result') : undefined)],
  ['localRemoved', 'Removed locally', plainValue],
  ['localKept', 'Kept locally', plainValue],
];
const BLOCK_DETAILS = new Set(['logLines', 'references', 'images', 'versionChanged']);

/** The human result: the outcome and summary first, then the facts, then what to do. */
export function renderResult(result: JobResult): string {
  const summary = result.outcome === 'refused' ? result.summary.replace(/^refused:\s*/i, '') : result.summary;
  const out = [`${OUTCOME_LABEL[result.outcome]} ${result.job.title}: ${summary}`];

  const facts: Array<[string, string]> = [];
  if (result.reason && result.reason !== summary) facts.push(['Reason', result.reason]);
  if (result.hint) facts.push(['Hint', result.hint]);
  const known = new Set(KNOWN_DETAILS.map(([key]) => key));
  for (const [key, label, render] of KNOWN_DETAILS) {
    const text = render(result.details[key]);
    if (text !== undefined) facts.push([label, text]);
  }
  for (const [key, value] of Object.entries(result.details)) {
    if (known.has(key) || BLOCK_DETAILS.has(key)) continue;
    const text = plainValue(value);
    if (text !== undefined) facts.push([key, text]);
  }
  facts.push(['Took', formatDuration(result.durationMs)]);
  const width = Math.max(...facts.map(([label]) => label.length)) + 1;
  for (const [label, text] of facts) out.push(`${`${label}:`.padEnd(width)} ${text}`);

  const images = result.details.images;
  if (Array.isArray(images) && images.length > 0) {
    out.push('', 'Built:');
    for (const i of images as Array<{ image: string; id: string; contextBytes?: number; buildMs?: number }>) {
      const facts = [i.contextBytes === undefined ? '' : `context ${formatBytes(i.contextBytes)}`, i.buildMs === undefined ? '' : formatDuration(i.buildMs)].filter(Boolean).join(', ');
      out.push(`  ${i.image}  ${i.id}${facts ? `  (${facts})` : ''}`);
    }
  }
  const refs = result.details.references;
  if (Array.isArray(refs) && refs.length > 0) {
    const width = Math.max(...refs.map((r: { ref: string }) => r.ref.length));
    out.push('', result.outcome === 'succeeded' && refs.every((r: { digest: unknown }) => r.digest) ? 'In the registry:' : 'References:');
    for (const r of refs as Array<{ ref: string; digest: string | null }>) out.push(`  ${r.ref.padEnd(width)}  ${r.digest ?? '(not pushed)'}`);
  }
  const diff = result.details.versionChanged;
  if (Array.isArray(diff) && diff.length > 0) out.push('', 'Changed by --set-version:', ...diff.map((l) => `  ${String(l)}`));
  const logLines = result.details.logLines;
  if (Array.isArray(logLines) && logLines.length > 0) {
    out.push('', 'Log lines:', ...logLines.map((l) => `  ${String(l)}`));
  }
  if (result.warnings.length > 0) {
    out.push('', 'Warnings:', ...result.warnings.map((w) => `  ! ${w}`));
  }
  if (result.outcome === 'human-needed') {
    out.push('', 'Finish by hand:');
    if (result.manualSteps.length === 0) out.push('  (no commands known: check `mm-upgrade status` and the logs)');
    result.manualSteps.forEach((command, i) => out.push(`  ${i + 1}. ${command}`));
  }
  return out.join('\n') + '\n';
}

/** The result for scripts: one JSON object. */
export function renderResultJson(result: JobResult): string {
  return JSON.stringify(result, null, 2) + '\n';
}

function plainValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) return value.length > 0 ? value.join(', ') : undefined;
  return JSON.stringify(value);
}

/** A dump path, or the dump's record: `path (182.4 MB)`. */
function backupValue(value: unknown): string | undefined {
  if (value && typeof value === 'object' && 'path' in value && typeof value.path === 'string') {
    const size = 'sizeBytes' in value && typeof value.sizeBytes === 'number' ? ` (${formatBytes(value.sizeBytes)})` : '';
    return `${value.path}${size}`;
  }
  return plainValue(value);
}
