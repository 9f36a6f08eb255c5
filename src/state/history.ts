/** What the bot did, one JSON line per finished job, in `STATE_DIR/history.jsonl`. */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobResult } from '../core/events.js';

export interface HistoryEntry {
  jobId: string;
  kind: string;
  owner: string;
  title: string;
  startedAt: string;
  finishedAt: string;
  outcome: string;
  summary: string;
  from?: string;
  to?: string;
  downtimeMs?: number;
  /** A rehearsal's (or a rehearsed upgrade's) measured migration time. */
  migrationMs?: number;
  backup?: string;
  /** A policy overridden for it, and by whom: "outside the maintenance window, by @alice". */
  override?: string;
}

export const historyPath = (stateDir: string): string => join(stateDir, 'history.jsonl');

export async function recordHistory(stateDir: string, result: JobResult): Promise<void> {
  const d = result.details;
  const entry: HistoryEntry = {
    jobId: result.job.id,
    kind: result.job.kind,
    owner: result.job.owner,
    title: result.job.title,
    startedAt: result.job.startedAt,
    finishedAt: result.finishedAt,
    outcome: result.outcome,
    summary: result.summary,
    ...(typeof d.from === 'string' ? { from: d.from } : {}),
    ...(typeof d.to === 'string' ? { to: d.to } : {}),
    ...(typeof d.downtimeMs === 'number' ? { downtimeMs: d.downtimeMs } : {}),
    ...(typeof d.migrationMs === 'number' ? { migrationMs: d.migrationMs } : {}),
    ...(typeof d.backup === 'string' ? { backup: d.backup } : {}),
    ...(typeof d.override === 'string' ? { override: d.override } : {}),
  };
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await appendFile(historyPath(stateDir), JSON.stringify(entry) + '\n', { mode: 0o600 });
}

export async function readHistory(stateDir: string): Promise<HistoryEntry[]> {
  try {
    const text = await readFile(historyPath(stateDir), 'utf8');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as HistoryEntry];
        } catch {
          return [];
        }
      });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
