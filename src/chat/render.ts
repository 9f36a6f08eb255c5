/**
 * What chat shows before a job runs: the plan with its facts and warnings, the status
 * table, and an engine refusal in the catalogue's words.
 */
import { basename, relative } from 'node:path';
import type { BuildState } from '../core/build/plan.js';
import type { RehearseState } from '../core/rehearse/job.js';
import type { Config } from '../config/index.js';
import { toBotError } from '../common/errors.js';
import { compareVersions, parseVersion } from '../common/version.js';
import type { JobKind } from '../core/events.js';
import { expectedDowntime, skippedEsrs } from '../core/upgrade/rollback.js';
import type { UpgradeState } from '../core/upgrade/state.js';
import { inWindow } from '../schedule/window.js';
import type { BackupFile } from '../backup/store.js';
import { dateTime, duration, ownerName, type Messages } from '../i18n/index.js';
import { factsTable } from '../mattermost/markdown.js';
import type { HistoryEntry } from '../state/history.js';
import type { StatusReport } from '../status/collect.js';

export interface PlanFacts {
  kind: Extract<JobKind, 'upgrade' | 'rollback' | 'backup' | 'reindex' | 'build' | 'rehearse'>;
  /** A rehearsal: the move it rehearses. */
  rehearse?: RehearseState;
  state?: UpgradeState;
  /** A build: what it builds and publishes. */
  build?: BuildState;
  newestBackup: BackupFile | undefined;
  history: HistoryEntry[];
  requestedBy: string;
  now: number;
  /** The PostgreSQL major version the running database holds, when known. */
  pgMajor?: number;
  /** A scheduled upgrade: when it starts. */
  at?: number;
  /** Asked outside the maintenance window: when it opens next. */
  outside?: { next: number };
  atNote?: 'gap' | 'repeated';
}

export function renderPlan(m: Messages, config: Config, f: PlanFacts): string {
  if (f.build) return renderBuildPlan(m, f.build, f.requestedBy);
  if (f.rehearse) return renderRehearsePlan(m, config, f);
  const s = f.state;
  const lines = [`#### ${m.plan.title(f.kind, s?.from ?? '', s?.target ?? '')}`, m.plan.requestedBy(f.requestedBy), ''];
  const rows: Array<[string, string]> = [];
  const warnings: string[] = [];
  if (s) {
    rows.push([m.plan.appImage, `\`${s.app.fromRef}\` → \`${s.app.toRef}\``]);
    rows.push([m.plan.dbImage, s.db.moves ? `\`${s.db.fromRef}\` → \`${s.db.toRef}\`` : m.plan.dbKept(s.db.fromRef)]);
    rows.push([m.plan.restarts, s.db.moves ? m.plan.restartsBoth(s.app.container, s.db.container, config.db.stopTimeoutS) : m.plan.restartsApp(s.app.container, s.db.container)]);
    if (s.db.moves) warnings.push(m.plan.warnDbRestarts);
    const esrs = skippedEsrs(s.from, s.target);
    if (s.kind === 'upgrade' && esrs.length > 0) warnings.push(m.plan.warnEsr(esrs.at(-1)!));
    if (s.kind === 'upgrade' && parseVersion(s.target).major > parseVersion(s.from).major) warnings.push(m.plan.warnMajor(s.from, s.target));
    if (s.db.moves) warnings.push(m.plan.warnPostgresCheck);
    if (f.outside) warnings.unshift(m.plan.warnOutside(config.upgrade.maintenanceWindow.text, config.upgrade.timeZone, dateTime(m, f.outside.next, config.upgrade.timeZone)));
    if (s.compose && s.compose.pending.length > 0) warnings.push(m.plan.warnUpDPending(s.compose.pending.map((x) => `\`${x}\``).join(', ')));
    else if (s.compose?.unavailable) warnings.push(m.plan.warnUpDNoCli(s.compose.unavailable));
    if (f.pgMajor !== undefined && f.pgMajor < 13 && compareVersions(s.target, '10.6.0') >= 0) warnings.push(m.plan.warnPostgres13(f.pgMajor));
    if (s.restoreDump) rows.push([m.plan.database, m.plan.rollbackNote(basename(s.restoreDump))]);
    else if (s.kind === 'rollback') rows.push([m.plan.database, m.plan.rollbackNote()]);
  } else if (f.kind === 'backup') {
    rows.push([m.plan.steps, m.plan.backupNote(config.db.name, config.backup.dir, config.backup.keep)]);
    rows.push([m.plan.restarts, m.plan.noRestart]);
  } else if (f.kind === 'reindex') {
    rows.push([m.plan.steps, m.plan.reindexNote(config.db.name)]);
    rows.push([m.plan.restarts, m.plan.noRestart]);
  }
  const b = f.newestBackup;
  const age = b ? duration(m, Math.max(0, f.now - b.createdAt.getTime())) : undefined;
  rows.push([m.plan.lastBackup, b ? m.plan.backupAge(b.name, age!) : m.plan.noBackup]);
  if (b && f.now - b.createdAt.getTime() > config.backup.maxAgeMs) warnings.push(m.plan.warnBackupOld(age!));
  if (s) {
    const w = config.upgrade.maintenanceWindow;
    if (f.at !== undefined) rows.push([m.plan.startsAt, m.plan.startsAtValue(dateTime(m, f.at, config.upgrade.timeZone), f.atNote)]);
    if (inWindow(w, f.at ?? f.now, config.upgrade.timeZone)) rows.push([m.plan.window, m.plan.windowInside(w.text, config.upgrade.timeZone, f.at !== undefined)]);
    rows.push([m.plan.downtime, expectedDowntimeText(m, f.history, s.target)]);
    if (s.kind === 'upgrade') rows.push([m.plan.changelog, s.changelog]);
  } else {
    rows.push([m.plan.downtime, m.plan.downtimeNone]);
  }
  lines.push(...factsTable(rows));
  if (warnings.length > 0) lines.push('', `**${m.plan.warnings}**`, ...warnings.map((w) => `- :warning: ${w}`));
  return lines.join('\n');
}

/** A build's plan: the checkout, the two images with their tags, how they are published; production untouched. */
function renderBuildPlan(m: Messages, b: BuildState, requestedBy: string): string {
  const lines = [`#### ${m.plan.title('build', '', b.version)}`, m.plan.requestedBy(requestedBy), ''];
  const rows: Array<[string, string]> = [[m.build.checkout, `\`${b.checkout}\``]];
  for (const i of b.images) rows.push([i.role === 'app' ? m.plan.appImage : m.plan.dbImage, m.build.imageLine(`${i.repository}:${b.version}`, `${relative(b.checkout, i.context) || '.'}/${i.dockerfile}`)]);
  const args = b.images.flatMap((i) => Object.entries(i.buildArgs).map(([k, v]) => `\`${k}=${v}\``));
  if (args.length > 0) rows.push([m.build.args, args.join(', ')]);
  if (b.unusedServices.length > 0) rows.push([m.build.notBuilt, m.build.notBuiltValue(b.unusedServices.map((s) => `\`${s}\``).join(', '))]);
  rows.push([m.build.publish, m.build.publishValue]);
  rows.push([m.plan.downtime, m.build.noDowntime]);
  lines.push(...factsTable(rows));
  if (b.replaces.length > 0) lines.push('', `**${m.plan.warnings}**`, ...b.replaces.map((r) => `- :warning: ${m.build.replaces(r)}`));
  return lines.join('\n');
}

/** A rehearsal's plan: what runs on the copy, production untouched. */
function renderRehearsePlan(m: Messages, config: Config, f: PlanFacts): string {
  const u = f.rehearse!.upgrade;
  const lines = [`#### ${m.plan.title('rehearse', u.from, u.target)}`, m.plan.requestedBy(f.requestedBy), ''];
  const b = f.newestBackup;
  const rows: Array<[string, string]> = [
    [m.plan.appImage, `\`${u.app.toRef}\``],
    [m.rehearse.copy, m.rehearse.copyValue(u.db.fromRef, config.db.name)],
    [m.plan.lastBackup, b && f.now - b.createdAt.getTime() < config.backup.maxAgeMs ? m.rehearse.backupReused(b.name, duration(m, f.now - b.createdAt.getTime())) : m.plan.noBackup],
    [m.rehearse.waits, duration(m, config.rehearsal.timeoutMs)],
    [m.plan.downtime, m.rehearse.noDowntime],
    [m.plan.changelog, u.changelog],
  ];
  lines.push(...factsTable(rows), '', m.rehearse.isolation);
  return lines.join('\n');
}

/** The downtime a plan expects: past upgrades' median, plus the migration a rehearsal of this target measured. */
export function expectedDowntimeText(m: Messages, history: HistoryEntry[], target: string): string {
  const expected = expectedDowntime(history);
  const rehearsed = [...history].reverse().find((h) => h.kind === 'rehearse' && h.outcome === 'succeeded' && h.to === target && typeof h.migrationMs === 'number');
  if (rehearsed) return m.rehearse.downtimeWithMigration(duration(m, (expected?.ms ?? 0) + rehearsed.migrationMs!), duration(m, rehearsed.migrationMs!));
  return expected ? m.plan.downtimeFrom(duration(m, expected.ms), expected.samples) : m.plan.downtimeUnknown;
}

/** The compact status table for `/upgrade status` (ephemeral). */
export function renderStatus(m: Messages, r: StatusReport, timeZone: string): string {
  const t = m.status;
  const cell = (v: string | null | undefined): string => (v ? `\`${v}\`` : '—');
  const rows = [
    `| ${t.service} | ${t.container} | ${t.state} | ${t.health} | ${t.running} | ${t.pinned} | ${t.version} |`,
    '|---|---|---|---|---|---|---|',
    ...[r.app, r.db].map((s) => {
      const health = s === r.db ? (r.db.ready ? t.ready : t.notReady) : s.health === 'none' ? (r.app.server.pingOk ? 'ping OK' : 'ping ✗') : (t.healths[s.health] ?? s.health);
      return `| ${s.service} | ${cell(s.container)} | ${t.states[s.state] ?? s.state}${s.restartCount > 0 ? ` (${s.restartCount}×)` : ''} | ${health} | ${cell(s.tag)} | ${cell(s.composeTag)} | ${s.version ?? '—'} |`;
    }),
  ];
  const server = r.app.server;
  const facts: Array<[string, string]> = [
    [t.server, server.reachable ? t.serverLine(server.version ?? '?', server.pingOk) : t.unreachable],
    [t.drift, r.drift.length === 0 ? t.noDrift : r.drift.map((d) => `${d.service}: \`${d.compose}\` ≠ \`${d.container ?? '—'}\``).join(', ')],
    [t.lastBackup, r.backup.newest ? `\`${basename(r.backup.newest.file)}\`, ${m.ago(duration(m, r.backup.newest.ageSeconds * 1000))}` : t.noBackupIn(r.backup.dir)],
    [
      t.upD,
      `${r.composeWouldRecreate.length === 0 ? t.upDNothing : t.upDRecreate(r.composeWouldRecreate.map((x) => `\`${x.container}\``).join(', '))} _(${
        r.composeCheck?.checkedWith ? t.upDChecked(r.composeCheck.checkedWith) : t.upDGuess(r.composeCheck?.guessBecause ?? '?')
      })_`,
    ],
    [t.scheduled, (r.scheduled ?? []).length === 0 ? t.noneScheduled : r.scheduled.map((s) => t.scheduledLine(s.target, dateTime(m, Date.parse(s.at), timeZone), s.confirmedBy)).join('<br>')],
    [t.job, r.job?.alive ? t.jobLine(m.kind[r.job.kind as JobKind] ?? r.job.kind, ownerName(m, r.job.owner), r.job.step ? (m.steps[r.job.step] ?? r.job.step) : m.starting) : t.noJob],
    [
      t.lastJobs,
      r.history.length === 0
        ? t.none
        : r.history
            .slice(-3)
            .reverse()
            .map((h) => `${dateTime(m, Date.parse(h.finishedAt), timeZone)} ${m.kind[h.kind as JobKind] ?? h.kind}${h.from && h.to ? ` ${h.from} → ${h.to}` : ''} (${ownerName(m, h.owner)})${m.colon}${t.outcome[h.outcome] ?? h.outcome}`)
            .join('<br>'),
    ],
    [t.overall, r.healthy ? `✅ ${t.healthy}` : `❌ ${t.notHealthy}`],
  ];
  return [...rows, '', ...factsTable(facts)].join('\n');
}

/** An engine error in the catalogue's words: by its tag, else by its code; otherwise only that something went wrong. */
export function describeError(m: Messages, err: unknown): string {
  const e = toBotError(err);
  const say = e.tag ? m.engine[e.tag.key] : undefined;
  if (say) return say(e.tag?.params ?? {});
  return m.engineCode[e.code] ?? m.engineUnknown;
}
