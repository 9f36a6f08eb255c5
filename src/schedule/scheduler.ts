/**
 * Runs the scheduled upgrades at their time, warns the team ANNOUNCE_BEFORE ahead, and never
 * runs one silently whose time passed while the bot was down: that one is reported and needs a
 * new confirmation. Time comes from an injectable clock and timer, so tests drive it.
 */
import type { ScheduledUpgrade, ScheduleStore } from './store.js';

export interface SchedulerDeps {
  store: ScheduleStore;
  now(): number;
  /** Sets a one-shot timer; returns its cancel. */
  setTimer(fn: () => void, ms: number): () => void;
  announceBeforeMs: number;
  /** The warning to the team (the time, the version, the expected downtime). */
  announce(s: ScheduledUpgrade): Promise<void>;
  /** Runs it through the engine, as a chat-started job (its checks may still refuse it). */
  start(s: ScheduledUpgrade): Promise<void>;
  /** Its time passed while the bot was not running: report it, do not run it. */
  missed(s: ScheduledUpgrade): Promise<void>;
  /** Something went wrong with one schedule, or with reading them all (logged; the timer goes on). */
  failed(s: ScheduledUpgrade | undefined, err: unknown): void;
}

/** Longest wait between two looks at the store (a schedule added meanwhile is seen by then). */
const MAX_SLEEP_MS = 60_000;

export class Scheduler {
  private cancelTimer: (() => void) | undefined;
  private startedAt = 0;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly d: SchedulerDeps) {}

  /** From now on; what was due before this moment was missed. */
  async start(): Promise<void> {
    this.startedAt = this.d.now();
    this.stopped = false;
    await this.tick();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** Looks again now (after a schedule was added or cancelled). */
  poke(): Promise<void> {
    return this.tick();
  }

  /** One pass: missed, due and to-announce schedules; then the timer for the next event. */
  tick(): Promise<void> {
    const pass = (this.running ?? Promise.resolve()).then(() => this.pass());
    this.running = pass.catch(() => undefined);
    return pass;
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    this.cancelTimer?.();
    const now = this.d.now();
    let next = now + MAX_SLEEP_MS;
    const all = await this.d.store.list().catch((err: unknown) => {
      this.d.failed(undefined, err);
      return [];
    });
    for (const s of all) {
      const at = Date.parse(s.at);
      const warnAt = at - this.d.announceBeforeMs;
      try {
        if (at < this.startedAt) {
          if (await this.d.store.remove(s.id)) await this.d.missed(s);
        } else if (at <= now) {
          if (await this.d.store.remove(s.id)) await this.d.start(s);
        } else {
          if (!s.announcedAt && warnAt <= now) {
            await this.d.store.update(s.id, { announcedAt: new Date(now).toISOString() });
            await this.d.announce(s);
          } else if (!s.announcedAt) next = Math.min(next, warnAt);
          next = Math.min(next, at);
        }
      } catch (err) {
        this.d.failed(s, err);
      }
    }
    if (!this.stopped) this.cancelTimer = this.d.setTimer(() => void this.tick(), Math.max(0, next - this.d.now()));
  }
}
