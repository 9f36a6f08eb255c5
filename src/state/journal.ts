/**
 * The job journal: one JSON-lines file per job in `STATE_DIR/jobs/`, appended and fsynced
 * before and after every step, so that a bot killed at any point can tell exactly how far
 * it got and what it had changed.
 */
import { mkdir, open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { JobInfo, JobResult, PlannedStep } from '../core/events.js';

export interface UndoRecord {
  /** Unique within the job. */
  id: string;
  /** Which handler undoes it. */
  kind: string;
  step: string;
  data: unknown;
}

export type JournalEntry =
  | { t: string; type: 'job-started'; job: JobInfo; steps: PlannedStep[]; params: unknown }
  | { t: string; type: 'step-started'; step: string }
  | { t: string; type: 'undo-registered'; undo: UndoRecord }
  | { t: string; type: 'step-done'; step: string; state: unknown }
  | { t: string; type: 'step-failed'; step: string; error: string }
  | { t: string; type: 'undo-started'; undo: string }
  | { t: string; type: 'undo-done'; undo: string }
  | { t: string; type: 'undo-failed'; undo: string; error: string }
  | { t: string; type: 'note'; message: string }
  | { t: string; type: 'job-finished'; result: JobResult };

type WithoutTime<T> = T extends unknown ? Omit<T, 't'> : never;
export type NewJournalEntry = WithoutTime<JournalEntry>;

export const journalDir = (stateDir: string): string => join(stateDir, 'jobs');

export class Journal {
  /** The write under way, if any: a shutdown waits for it. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly now: () => Date,
    private readonly gate: () => Promise<void>,
  ) {}

  /** `gate` runs before each write: a shutdown makes it wait for ever, so no further step starts. */
  static async open(stateDir: string, jobId: string, now: () => Date = () => new Date(), gate: () => Promise<void> = () => Promise.resolve()): Promise<Journal> {
    const dir = journalDir(stateDir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, `${jobId}.jsonl`);
    return new Journal(path, await open(path, 'a', 0o600), now, gate);
  }

  async append(entry: NewJournalEntry): Promise<void> {
    await this.gate();
    const write = (async () => {
      await this.handle.appendFile(JSON.stringify({ t: this.now().toISOString(), ...entry }) + '\n');
      await this.handle.sync();
    })();
    this.writing = write.catch(() => undefined);
    await write;
  }

  /** Resolves when no write is under way. */
  idle(): Promise<void> {
    return this.writing;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Every entry of a journal; a torn last line (the process died mid-write) is dropped. */
export async function readJournal(path: string): Promise<JournalEntry[]> {
  const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  const entries: JournalEntry[] = [];
  for (const line of lines) {
    try {
      entries.push(JSON.parse(line) as JournalEntry);
    } catch {
      break;
    }
  }
  return entries;
}

export interface UnfinishedJob {
  path: string;
  entries: JournalEntry[];
}

/** Journals that have no `job-finished` entry: jobs a crash interrupted. */
export async function unfinishedJobs(stateDir: string): Promise<UnfinishedJob[]> {
  let names: string[];
  try {
    names = await readdir(journalDir(stateDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: UnfinishedJob[] = [];
  for (const name of names.filter((n) => n.endsWith('.jsonl')).sort()) {
    const path = join(journalDir(stateDir), name);
    const entries = await readJournal(path);
    if (entries.length > 0 && !entries.some((e) => e.type === 'job-finished')) out.push({ path, entries });
  }
  return out;
}

/** A job journaled after the one at `path` that did finish, if any: the older one is then stale. */
export async function laterFinishedJob(path: string): Promise<JobInfo | undefined> {
  const dir = dirname(path);
  const names = (await readdir(dir)).filter((n) => n.endsWith('.jsonl') && n > basename(path)).sort();
  for (const name of names) {
    const finished = (await readJournal(join(dir, name))).find((e): e is Extract<JournalEntry, { type: 'job-finished' }> => e.type === 'job-finished');
    if (finished) return finished.result.job;
  }
  return undefined;
}
