/**
 * Scheduled upgrades seen from chat: what a confirmed `/upgrade X.Y.Z at HH:MM` becomes, the
 * warning to the team ANNOUNCE_BEFORE ahead and when it starts, the report of one missed while
 * the bot was down (it needs a new confirmation), and `/upgrade cancel` of the next one. The
 * run itself is the same as a chat-confirmed one (the caller's `run`).
 */
import { dateTime, duration } from '../i18n/index.js';
import { expectedDowntime } from '../core/upgrade/rollback.js';
import { Scheduler } from '../schedule/scheduler.js';
import { ScheduleStore, type ScheduledUpgrade } from '../schedule/store.js';
import { readHistory } from '../state/history.js';
import type { ChatDeps } from './deps.js';

export type ScheduleDeps = Pick<ChatDeps, 'config' | 'messages' | 'outbox' | 'log' | 'now'>;

export class ChatSchedules {
  readonly store: ScheduleStore;
  private readonly scheduler: Scheduler;

  constructor(
    private readonly d: ScheduleDeps,
    /** Starts the engine job for it, reporting in `channelId` (as a confirmed plan does). */
    run: (s: ScheduledUpgrade) => Promise<void>,
    timers: { setTimer?: (fn: () => void, ms: number) => () => void } = {},
  ) {
    this.store = new ScheduleStore(d.config.bot.stateDir);
    this.scheduler = new Scheduler({
      store: this.store,
      now: d.now,
      setTimer:
        timers.setTimer ??
        ((fn, ms) => {
          const t = setTimeout(fn, ms);
          t.unref();
          return () => clearTimeout(t);
        }),
      announceBeforeMs: d.config.bot.announceBeforeMs,
      announce: (s) => this.announce(s),
      start: async (s) => {
        await this.post(`schedule-start:${s.id}`, this.announceChannel(), this.d.messages.schedule.starting(s.target));
        await run(s);
      },
      missed: (s) => this.post(`schedule-missed:${s.id}`, { name: d.config.mattermost.adminChannel }, d.messages.schedule.missed(s.target, this.when(Date.parse(s.at)), s.confirmedBy, '/upgrade')),
      failed: (s, err) => d.log.error(s ? 'schedule: a scheduled upgrade could not be handled' : 'schedule: the scheduled upgrades could not be read', { schedule: s?.id, error: (err as Error).message }),
    });
  }

  start(): Promise<void> {
    return this.scheduler.start();
  }

  stop(): void {
    this.scheduler.stop();
  }

  async add(s: ScheduledUpgrade): Promise<void> {
    await this.store.add(s);
    await this.scheduler.poke();
  }

  list(): Promise<ScheduledUpgrade[]> {
    return this.store.list();
  }

  /** Cancels the next scheduled upgrade; says so where it was asked. Undefined when none is scheduled. */
  async cancelNext(by: string): Promise<{ target: string; when: string } | undefined> {
    const next = (await this.store.list())[0];
    if (!next || !(await this.store.remove(next.id))) return undefined;
    const when = this.when(Date.parse(next.at));
    await this.post(`schedule-cancel:${next.id}`, next.replyTo ? { id: next.replyTo.channelId } : this.announceChannel(), this.d.messages.schedule.cancelled(next.target, when, by));
    if (next.announcedAt) await this.post(`schedule-cancel-team:${next.id}`, this.announceChannel(), this.d.messages.schedule.cancelled(next.target, when, by));
    await this.scheduler.poke();
    return { target: next.target, when };
  }

  when(at: number): string {
    return dateTime(this.d.messages, at, this.d.config.upgrade.timeZone);
  }

  private async announce(s: ScheduledUpgrade): Promise<void> {
    const m = this.d.messages;
    const expected = expectedDowntime(await readHistory(this.d.config.bot.stateDir).catch(() => []));
    const downtime = expected ? m.schedule.downtimeAbout(duration(m, expected.ms)) : m.schedule.downtimeDefault;
    await this.post(`schedule-announce:${s.id}`, this.announceChannel(), m.schedule.announce(s.target, this.when(Date.parse(s.at)), downtime));
  }

  private announceChannel(): { name: string } {
    return { name: this.d.config.mattermost.announceChannel };
  }

  private async post(key: string, channel: { id: string } | { name: string }, message: string): Promise<void> {
    await this.d.outbox.enqueue({ kind: 'create', key, channel, message });
  }
}
