/**
 * The buttons under a plan. A click is accepted once, before its expiry, from an allowed
 * user, with a context this bot signed; the reply's `update` replaces the buttons with who
 * decided what and when, so nobody clicks twice. A confirmation starts the engine job, which
 * reports itself in the channel through the events. `/upgrade cancel` and the expiry of a
 * plan nobody decided on take the buttons away the same way, by patching the post.
 */
import { LockHeldError, toBotError } from '../common/errors.js';
import { within } from '../common/within.js';
import { clockTime } from '../i18n/index.js';
import { readJobLock } from '../state/job-lock.js';
import { identify } from './authorize.js';
import { ephemeral, type ActionReply, type ActionRequest, type ChatDeps, type SlashReply } from './deps.js';
import type { Pending } from './pending.js';
import type { PlanRequest } from './planner.js';
import type { ChatSchedules } from './schedules.js';
import type { ScheduledUpgrade } from '../schedule/store.js';
import { describeError } from './render.js';
import { verifyContext } from './verify.js';
import { lockHeldText } from './words.js';

const SWEEP_MS = 15_000;

export class Decisions {
  private sweeper: NodeJS.Timeout | undefined;
  /** Confirmed jobs being planned again, before the runner takes the lock: a stop waits for them. */
  private readonly starting = new Set<Promise<unknown>>();

  constructor(
    private readonly d: ChatDeps,
    private readonly track: (p: Promise<unknown>) => void,
    private readonly schedules: ChatSchedules,
  ) {}

  /** Takes the buttons off plans that expired undecided (also those of a previous run). */
  start(): void {
    this.track(this.sweep());
    this.sweeper = setInterval(() => this.track(this.sweep()), SWEEP_MS);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  /** A confirmed job is on its way to the lock. */
  get isStarting(): boolean {
    return this.starting.size > 0;
  }

  /** Resolves once every confirmed job has reached the runner (or failed before), or after `ms`. */
  async started(ms: number): Promise<void> {
    await within(Promise.allSettled([...this.starting]), ms);
  }

  async action(req: ActionRequest): Promise<ActionReply> {
    const { messages: m, config } = this.d;
    const now = this.d.now();
    const check = verifyContext(config.bot.secret!, req.context, now);
    if (!check.ok && check.reason === 'forged') {
      // Anyone can send this: what they wrote is logged shortened.
      this.d.log.warn('chat: a button callback with a context this bot did not sign was refused', { userId: req.userId.slice(0, 64), postId: req.postId.slice(0, 64) });
      return { ephemeral_text: m.refuse.badContext };
    }
    const context = check.context!;
    const pending = await this.d.pending.get(context.job);
    if (!pending || pending.nonce !== context.nonce) return { ephemeral_text: m.refuse.badContext };
    if (pending.decided) return { ephemeral_text: this.alreadyDecided(pending) };
    if (!check.ok) {
      const first = await this.d.pending.decide(pending.id, 'expired', '', now);
      if (first && !first.first) return { ephemeral_text: this.alreadyDecided(first.pending) };
      return { update: this.replaced(pending, m.plan.expiredNote(this.at(pending.expiresAt))), ephemeral_text: m.refuse.expired(this.trigger(pending)) };
    }
    const who = await identify(this.d.authorizer, this.d.log, req.userId, 'clicked');
    if (!who) return { ephemeral_text: m.refuse.cannotCheckUser };
    if (!who.allowed) return { ephemeral_text: m.refuse.notAllowedClick(who.username) };
    // A job about to start needs the lock free; a schedule does not.
    if ((context.action === 'confirm' && pending.at === undefined) || context.action === 'rehearse') {
      const holder = await readJobLock(config.bot.stateDir);
      if (holder?.alive) return { ephemeral_text: lockHeldText(m, holder, config.upgrade.timeZone) };
    }
    const decided = await this.d.pending.decide(pending.id, context.action, who.username, now);
    if (!decided) return { ephemeral_text: m.refuse.badContext };
    if (!decided.first) return { ephemeral_text: this.alreadyDecided(decided.pending) };
    this.d.log.info('chat: plan decided', { plan: pending.id, kind: pending.kind, action: context.action, by: who.username });
    if (context.action === 'cancel') return { update: this.replaced(pending, m.plan.cancelledBy(who.username, this.at(now))) };
    const scheduleAt = context.action === 'schedule' ? pending.outside?.next : pending.at;
    if (scheduleAt !== undefined) {
      await this.schedules.add({
        id: pending.id,
        target: pending.target!,
        at: new Date(scheduleAt).toISOString(),
        requestedBy: pending.userName,
        confirmedBy: who.username,
        replyTo: { channelId: pending.channelId },
        createdAt: new Date(now).toISOString(),
      });
      return { update: this.replaced(pending, m.plan.scheduledBy(who.username, this.at(now), this.schedules.when(scheduleAt))) };
    }
    if (context.action === 'rehearse') {
      // *Rehearse first*: the same version on a copy; the upgrade is asked for again afterwards.
      this.track(this.runJob({ kind: 'rehearse', target: pending.target! }, `chat:${who.username}`, pending.channelId, `notstarted:${pending.id}`, `/upgrade rehearse ${pending.target}`));
      return { update: this.replaced(pending, m.result.rehearseStarted(who.username, this.at(now))) };
    }
    this.track(this.run(pending, who.username));
    if (pending.outside) return { update: this.replaced(pending, m.plan.overriddenBy(who.username, this.at(now))) };
    return { update: this.replaced(pending, m.plan.confirmedBy(who.username, this.at(now))) };
  }

  /** `/upgrade cancel`: the waiting plan loses its buttons. */
  async cancel(username: string, trigger: string): Promise<SlashReply> {
    const m = this.d.messages;
    const now = this.d.now();
    const waiting = await this.d.pending.waiting(now);
    if (!waiting) {
      const scheduled = await this.schedules.cancelNext(username);
      if (scheduled) return ephemeral(m.schedule.cancelledReply(scheduled.target, scheduled.when));
      const holder = await readJobLock(this.d.config.bot.stateDir);
      if (holder?.alive) return ephemeral(m.refuse.cannotCancelRunning(lockHeldText(m, holder, this.d.config.upgrade.timeZone)));
      return ephemeral(m.refuse.nothingToCancel);
    }
    const decided = await this.d.pending.decide(waiting.id, 'cancel', username, now);
    if (!decided?.first) return ephemeral(decided ? this.alreadyDecided(decided.pending) : m.refuse.nothingToCancel);
    await this.d.outbox.enqueue({ kind: 'patch', key: waiting.postKey, ...this.replaced(waiting, m.plan.cancelledBy(username, this.at(now))) });
    void trigger;
    return ephemeral(m.cancelled(waiting.title));
  }

  /**
   * Runs the confirmed job. The runner only throws before the job has started (the lock taken
   * meanwhile, the bot stopping, a deployment that changed since the plan): that is said in
   * the channel; once started, the job reports itself through its events.
   */
  private run(p: Pending, username: string): Promise<void> {
    const request: PlanRequest = { kind: p.kind, ...(p.target ? { target: p.target } : {}), ...(p.withDb ? { withDb: true } : {}), ...(p.outside ? { overrideWindow: username } : {}) };
    return this.runJob(request, `chat:${username}`, p.channelId, `notstarted:${p.id}`, this.trigger(p));
  }

  /** A scheduled upgrade at its time: planned again and run like a confirmed one, reporting where it was asked. */
  runScheduled(s: ScheduledUpgrade): Promise<void> {
    return this.runJob({ kind: 'upgrade', target: s.target }, `chat:${s.confirmedBy}`, s.replyTo?.channelId, `notstarted:${s.id}`, `/upgrade ${s.target}`);
  }

  private async runJob(request: PlanRequest, owner: string, channelId: string | undefined, key: string, trigger: string): Promise<void> {
    const m = this.d.messages;
    try {
      const planning = this.d.planner.job(request, owner);
      this.starting.add(planning);
      let def: Awaited<typeof planning>;
      try {
        def = await planning;
      } finally {
        this.starting.delete(planning);
      }
      if (channelId) def.replyTo = { channelId };
      await this.d.runner.run(def);
    } catch (err) {
      const e = toBotError(err);
      const why = err instanceof LockHeldError ? lockHeldText(m, err.holder, this.d.config.upgrade.timeZone) : describeError(m, e);
      this.d.log.warn('chat: a confirmed job did not start', { key, reason: e.message });
      const channel = channelId ? { id: channelId } : { name: this.d.config.mattermost.adminChannel };
      await this.d.outbox.enqueue({ kind: 'create', key, channel, message: `${m.result.notStarted(request.kind)}\n\n${why}\n\n${m.result.askAgain(trigger)}` });
    }
  }

  /** Takes the buttons off plans that expired undecided. */
  async sweep(): Promise<void> {
    const now = this.d.now();
    for (const p of await this.d.pending.expired(now)) {
      const decided = await this.d.pending.decide(p.id, 'expired', '', now);
      if (decided?.first) await this.d.outbox.enqueue({ kind: 'patch', key: p.postKey, ...this.replaced(p, this.d.messages.plan.expiredNote(this.at(p.expiresAt))) });
    }
  }

  /** The plan as it was, with the decision under it, and no buttons. */
  private replaced(p: Pending, note: string): { message: string; props: Record<string, unknown> } {
    // Props replace the post's: no attachments (the buttons go), the bot's badge stays.
    return { message: `${p.message}\n\n${note}`, props: { from_bot: 'true' } };
  }

  private alreadyDecided(p: Pending): string {
    const m = this.d.messages;
    const d = p.decided!;
    if (d.action === 'expired') return m.refuse.expired(this.trigger(p));
    const what = d.action === 'confirm' ? m.plan.decisionConfirm : d.action === 'schedule' ? m.plan.decisionSchedule : d.action === 'rehearse' ? m.plan.decisionRehearse : m.plan.decisionCancel;
    return m.refuse.alreadyDecided(what, d.by, this.at(d.at));
  }

  private trigger(p: Pending): string {
    if (p.kind === 'build' || p.kind === 'rehearse') return `/upgrade ${p.kind} ${p.target ?? 'X.Y.Z'}`;
    return p.kind === 'upgrade' && p.target ? `/upgrade ${p.target}` : `/upgrade ${p.kind}`;
  }

  private at(t: number): string {
    return clockTime(this.d.messages, t, this.d.config.upgrade.timeZone);
  }
}
