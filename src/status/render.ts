/** `status` for a person: a short aligned table, then one line per fact. */
import { formatDuration } from '../config/parse.js';
import type { StatusReport } from './collect.js';

export function renderStatus(r: StatusReport): string {
  const rows = [
    ['SERVICE', 'CONTAINER', 'STATE', 'HEALTH', 'RUNNING', 'COMPOSE', 'VERSION'],
    ...[r.app, r.db].map((s) => [
      s.service,
      s.container ?? '-',
      s.restartCount > 0 ? `${s.state} (${s.restartCount} restarts)` : s.state,
      s === r.db ? (r.db.ready ? 'ready' : 'not ready') : s.health === 'none' ? (r.app.server.pingOk ? 'ping OK' : 'ping failed') : s.health,
      s.tag ?? '-',
      s.composeTag ?? '-',
      s.version ?? '-',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());

  const server = r.app.server;
  const facts: Array<[string, string]> = [
    [
      'Server',
      server.reachable
        ? `${server.version ?? 'version unknown'}${server.buildNumber && server.buildNumber !== server.version ? ` (build ${server.buildNumber})` : ''}, ping ${server.pingOk ? 'OK' : `failed (${server.error ?? server.pingStatus})`}`
        : `unreachable (${server.error ?? 'no answer'})`,
    ],
    ['Compose', `${r.compose.files.join(', ')} (project ${r.compose.project})`],
    ['Drift', r.drift.length === 0 ? 'none: containers run what the compose file pins' : r.drift.map((d) => `${d.service} pinned ${d.compose}, running ${d.container ?? 'nothing'}`).join('; ')],
    [
      'Last backup',
      r.backup.newest
        ? `${r.backup.newest.file}, ${formatDuration(r.backup.newest.ageSeconds * 1000)} old${r.backup.newest.recent ? '' : ' (older than BACKUP_MAX_AGE)'}`
        : `none in ${r.backup.dir}`,
    ],
    [
      'On up -d',
      `${
        r.composeWouldRecreate.length === 0
          ? 'docker-compose would change nothing'
          : `docker-compose would recreate ${r.composeWouldRecreate.map((x) => `${x.container} (${x.reason})`).join(', ')}: same settings and volumes, a short restart`
      } ${r.composeCheck.checkedWith ? `(compared with ${r.composeCheck.checkedWith}'s own config hashes)` : `(a guess: ${r.composeCheck.guessBecause ?? 'no compose command'})`}`,
    ],
    ['Scheduled', r.scheduled.length === 0 ? 'nothing' : r.scheduled.map((s) => `upgrade to ${s.target} at ${s.at.slice(0, 16).replace('T', ' ')} UTC (confirmed by @${s.confirmedBy})`).join('; ')],
    ['Job', r.job ? `${r.job.kind} by ${r.job.owner}, step ${r.job.step ?? '-'}${r.job.alive ? '' : ` (stale lock: process ${r.job.pid} is gone)`}` : 'none running'],
    [
      'Last jobs',
      r.history.length === 0
        ? 'none recorded'
        : r.history
            .slice(-3)
            .reverse()
            .map((h) => `${h.finishedAt.slice(0, 16).replace('T', ' ')} ${h.title} by ${h.owner}: ${h.outcome}${h.downtimeMs !== undefined ? ` (downtime ${formatDuration(h.downtimeMs)})` : ''}`)
            .join('\n' + ' '.repeat(13)),
    ],
    ['Overall', r.healthy ? 'healthy' : `NOT healthy: ${r.problems.join('; ')}`],
  ];
  const w = Math.max(...facts.map(([k]) => k.length));
  return [...table, '', ...facts.map(([k, v]) => `${k.padEnd(w)}  ${v}`)].join('\n') + '\n';
}
