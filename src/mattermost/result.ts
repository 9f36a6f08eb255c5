/**
 * A finished job in chat: the result post for the channel that asked (outcome, downtime,
 * the log check, the backup, what was rolled back, the commands for a human), and the
 * announcement for the team.
 */
import { basename } from 'node:path';
import type { JobResult } from '../core/events.js';
import { isUpD, type UpDOutlook } from '../core/upgrade/compose-hash.js';
import { dateTime, duration, jobName, ownerName, type Messages } from '../i18n/index.js';
import { factsTable } from './markdown.js';
import { stepTitle, type ProgressModel } from './progress.js';

const MAX_LOG_LINES = 12;
const MAX_LOG_LINE = 240;

export function renderResult(m: Messages, result: JobResult, model: ProgressModel, timeZone: string): string {
  const { job, details } = result;
  const from = str(details.from) ?? job.subject?.from ?? '';
  const to = str(details.to) ?? job.subject?.to ?? '';
  const title =
    job.kind === 'rehearse' && result.outcome === 'rolled-back'
      ? m.result.rehearseFailed(to)
      : job.kind === 'build' && result.outcome === 'refused' && model.failedStep
      ? m.result.buildFailed
      : job.kind === 'build' && result.outcome === 'human-needed' && Array.isArray(details.references) && (details.references as Array<{ digest: unknown }>).some((r) => r.digest)
        ? m.result.buildHalfWay
        : result.outcome === 'succeeded'
      ? m.result.succeeded[job.kind](to)
      : result.outcome === 'rolled-back'
        ? m.result.rolledBack(job.kind, job.kind === 'upgrade' || job.kind === 'rollback' ? from : '')
        : result.outcome === 'refused'
          ? m.result.refused(job.kind)
          : m.result.humanNeeded(job.kind);
  const lines = [`#### ${title}`];
  if (details.recovered === true) lines.push(m.result.recovered(jobName(m, job.kind, job.title), ownerName(m, job.owner)));
  const rows: Array<[string, string]> = [];
  const interrupted = model.steps.find((s) => s.status === 'interrupted');
  if (interrupted) rows.push([m.result.interruptedStep, stepTitle(m, interrupted.id, interrupted.title)]);
  if (result.outcome !== 'succeeded' && model.failedStep) {
    const planned = model.steps.find((s) => s.id === model.failedStep);
    rows.push([m.result.failedStep, stepTitle(m, model.failedStep, planned?.title ?? model.failedStep)]);
  }
  if (result.outcome === 'rolled-back' && (job.kind === 'upgrade' || job.kind === 'rollback') && from) rows.push([m.result.serving, from]);
  if (typeof details.downtimeMs === 'number') rows.push([m.result.downtime, duration(m, details.downtimeMs)]);
  const logLines = Array.isArray(details.logLines) ? details.logLines.map(String) : [];
  if (job.kind === 'upgrade' || job.kind === 'rollback') rows.push([m.result.logCheck, logLines.length === 0 ? m.result.noErrorLine : m.result.errorLines(logLines.length)]);
  const backup = str(details.backup);
  if (backup) rows.push([m.result.backup, `\`${basename(backup)}\``]);
  const at = str(details.restoreLoses)?.match(/\d{4}-\d\d-\d\dT[\d:.]+Z/)?.[0];
  if (at && result.outcome === 'succeeded') rows.push([m.result.restoreLoses, m.result.restoreLosesValue(dateTime(m, Date.parse(at), timeZone))]);
  if (typeof details.reindexMs === 'number') rows.push([m.result.reindexTook, duration(m, details.reindexMs)]);
  if (job.kind === 'build') rows.push(...buildRows(m, details));
  if (typeof details.startupMs === 'number' && typeof details.restoreMs === 'number') {
    rows.push([m.result.rehearsal, m.result.rehearsalValue(duration(m, details.startupMs), typeof details.migrationMs === 'number' ? duration(m, details.migrationMs) : '—', duration(m, details.restoreMs))]);
    rows.push([m.result.schema, `${str(details.schemaBefore) ?? '—'} → ${str(details.schemaAfter) ?? '—'}`]);
    if (Array.isArray(details.isolation)) rows.push([m.result.isolationChecked, (details.isolation as string[]).map((x) => `\`${x}\``).join(', ')]);
  }
  if (str(details.rehearsal) && job.kind === 'upgrade') rows.push([m.result.rehearsal, typeof details.migrationMs === 'number' ? m.result.rehearsalValue('✓', duration(m, details.migrationMs), '✓') : '✓']);
  rows.push([m.result.took, duration(m, result.durationMs)]);
  const changelog = str(details.changelog);
  if (changelog && result.outcome === 'succeeded') rows.push([m.result.changelog, changelog]);
  if (isUpD(details.upD)) rows.push([m.result.upD, upDText(m, details.upD)]);
  lines.push('', ...factsTable(rows));

  if (model.rollbackLines.length > 0 && result.outcome !== 'succeeded') {
    lines.push('', `**${m.result.rolledBackWhat}**`, ...model.rollbackLines.map((l) => `- ${l}`));
  }
  if (job.kind === 'build' && result.outcome !== 'succeeded' && result.reason) {
    lines.push('', `**${m.result.buildError}**`, '```', ...result.reason.split('\n').slice(0, MAX_LOG_LINES).map((l) => l.replace(/```/g, "'''")), '```');
  }
  if (logLines.length > 0) {
    const shown = logLines.slice(-MAX_LOG_LINES).map((l) => (l.length > MAX_LOG_LINE ? `${l.slice(0, MAX_LOG_LINE - 1)}…` : l));
    lines.push('', `**${m.result.logLines}**`, '```', ...shown.map((l) => l.replace(/```/g, "'''")), '```');
  }
  if (result.outcome === 'human-needed') {
    lines.push('', `**${m.result.manual}**`);
    if (result.manualSteps.length === 0) lines.push(m.result.noManual);
    else lines.push('```sh', ...result.manualSteps, '```');
  }
  return lines.join('\n');
}

/** The team's announcement, or undefined when the job is not worth one. */
export function renderAnnouncement(m: Messages, result: JobResult, timeZone: string): string | undefined {
  if (result.outcome !== 'succeeded') return undefined;
  const d = result.details;
  const to = str(d.to) ?? result.job.subject?.to;
  if (result.job.kind === 'upgrade' && to) return m.announce.upgraded(to, str(d.changelog) ?? '');
  if (result.job.kind === 'rollback' && to) return m.announce.rolledBack(to);
  if (result.job.kind === 'restore') {
    const at = /(\d{8}T\d{6}Z)/.exec(String(d.restored ?? result.job.subject?.dump ?? ''))?.[1];
    const when = at ? Date.parse(`${at.slice(0, 4)}-${at.slice(4, 6)}-${at.slice(6, 8)}T${at.slice(9, 11)}:${at.slice(11, 13)}:${at.slice(13, 15)}Z`) : undefined;
    return m.announce.restored(when === undefined ? `\`${basename(String(d.restored ?? ''))}\`` : dateTime(m, when, timeZone));
  }
  return undefined;
}

/** What a build published (each tag with its digest) and what became of the local images. */
function buildRows(m: Messages, d: Record<string, unknown>): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  const refs = Array.isArray(d.references) ? (d.references as Array<{ ref: string; digest: string | null }>) : [];
  const published = refs.filter((r) => r.digest);
  if (published.length > 0) rows.push([m.result.published, published.map((r) => `\`${r.ref}\` \`${r.digest!.slice(0, 19)}…\``).join('<br>')]);
  const removed = Array.isArray(d.localRemoved) ? d.localRemoved.length : undefined;
  const kept = Array.isArray(d.localKept) ? (d.localKept as string[]) : [];
  if (removed !== undefined || kept.length > 0) rows.push([m.result.localImages, kept.length > 0 ? m.result.localKept(kept.map((k) => `\`${k}\``).join(', ')) : m.result.localRemoved(removed ?? 0)]);
  return rows;
}

function upDText(m: Messages, o: UpDOutlook): string {
  const code = (names: string[]) => names.map((n) => `\`${n}\``).join(', ');
  const parts: string[] = [];
  if (o.pending.length > 0) parts.push(m.result.upDPending(code(o.pending)));
  const others = o.restarts.filter((s) => !o.pending.includes(s));
  if (others.length > 0) parts.push(m.result.upDRestart(code(others), o.unavailable ?? '?'));
  return parts.length > 0 ? parts.join('; ') : m.result.upDNothing(o.cli ?? 'compose');
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
