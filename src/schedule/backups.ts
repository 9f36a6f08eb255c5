/**
 * BACKUP_CRON: verified dumps taken by the same backup job and lock as `/upgrade backup` (a tick
 * while another job runs is skipped, and says so); and, whether or not BACKUP_CRON is set, one
 * warning when the newest dump is older than BACKUP_MAX_AGE — once per stale period (per newest
 * dump), not once per look. Time, the cron and the posts are injected.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeDurably } from '../state/durable-file.js';

export interface BackupScheduleDeps {
  /** BACKUP_CRON, undefined for none. */
  cron: string | undefined;
  timeZone: string;
  maxAgeMs: number;
  now(): number;
  /** Runs the backup job; `skipped` names the job holding the lock. */
  runBackup(): Promise<{ skipped?: string }>;
  /** When the newest dump in BACKUP_DIR was taken, if there is one. */
  newestBackupAt(): Promise<number | undefined>;
  /** Where it remembers which newest dump it already warned about. */
  stateFile: string;
  warnStale(newestAt: number | undefined): Promise<void>;
  noteSkipped(holder: string): Promise<void>;
  /** node-cron's schedule, or a test's. */
  schedule(expression: string, fn: () => void, timeZone: string): { stop(): unknown };
  /** How often staleness is looked at besides after each tick. */
  checkEveryMs?: number;
  log(message: string, err?: unknown): void;
}

export class BackupSchedule {
  private task: { stop(): unknown } | undefined;
  private interval: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(private readonly d: BackupScheduleDeps) {}

  start(): void {
    if (this.d.cron) this.task = this.d.schedule(this.d.cron, () => void this.tick(), this.d.timeZone);
    this.interval = setInterval(() => void this.checkStale().catch((err: unknown) => this.d.log('backup: could not check the age of the newest dump', err)), this.d.checkEveryMs ?? 3_600_000);
    this.interval.unref();
    void this.checkStale().catch((err: unknown) => this.d.log('backup: could not check the age of the newest dump', err));
  }

  stop(): void {
    void this.task?.stop();
    clearInterval(this.interval);
  }

  /** One scheduled backup (never two at once); then the age check. */
  tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = (async () => {
      try {
        const r = await this.d.runBackup();
        if (r.skipped) await this.d.noteSkipped(r.skipped);
      } catch (err) {
        this.d.log('backup: the scheduled backup failed', err);
      }
      await this.checkStale().catch((err: unknown) => this.d.log('backup: could not check the age of the newest dump', err));
    })().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** Warns once when the newest dump is too old (or missing); again only for another newest dump. */
  async checkStale(): Promise<boolean> {
    const newest = await this.d.newestBackupAt();
    const stale = newest === undefined || this.d.now() - newest > this.d.maxAgeMs;
    const key = newest === undefined ? 'none' : new Date(newest).toISOString();
    const warned = await this.warnedFor();
    if (!stale) {
      if (warned !== undefined) await this.remember(undefined);
      return false;
    }
    if (warned === key) return false;
    await this.d.warnStale(newest);
    await this.remember(key);
    return true;
  }

  private async warnedFor(): Promise<string | undefined> {
    try {
      return (JSON.parse(await readFile(this.d.stateFile, 'utf8')) as { warnedFor?: string }).warnedFor;
    } catch {
      return undefined;
    }
  }

  private async remember(key: string | undefined): Promise<void> {
    await mkdir(dirname(this.d.stateFile), { recursive: true });
    await writeDurably(this.d.stateFile, JSON.stringify(key === undefined ? {} : { warnedFor: key }) + '\n');
  }
}
