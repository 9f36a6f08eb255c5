/**
 * `/upgrade …` in chat. The reply to Mattermost goes at once (ephemeral: the refusal and
 * what to type instead, or "preparing the plan…"); the plan is worked out afterwards and
 * posted in the channel by the bot, with its buttons; a refusal found while planning reaches
 * the person who asked through the command's response_url. Confirmations are in
 * decisions.ts; everything posted goes through the outbox.
 */
import { randomBytes } from 'node:crypto';
import { within } from '../common/within.js';
import { dateTime, duration } from '../i18n/index.js';
import { parseAt } from '../schedule/at.js';
import { readJobLock } from '../state/job-lock.js';
import { responsePath } from '../mattermost/client.js';
import { identify } from './authorize.js';
import { Decisions } from './decisions.js';
import { ChatSchedules } from './schedules.js';
import { ephemeral, type ActionReply, type ActionRequest, type ChatDeps, type SlashReply, type SlashRequest } from './deps.js';
import { parseCommand, type ChatCommand } from './parse.js';
import type { Pending } from './pending.js';
import type { PlanRequest } from './planner.js';
import { describeError, renderPlan, renderStatus } from './render.js';
import { signContext, newNonce, verifyContext, type ActionName } from './verify.js';
import { isStrictVersion } from '../common/version.js';
import { lockHeldText } from './words.js';

/** How long `/upgrade status` may take before its answer goes through the response_url instead. */
const STATUS_INLINE_MS = 2_500;
/** A response_url is valid 30 minutes; what is older is not sent. */
const RESPONSE_URL_TTL_MS = 29 * 60_000;

type JobCommand = Extract<ChatCommand, { kind: 'upgrade' | 'rollback' | 'backup' | 'reindex' | 'build' | 'rehearse' }>;

export class ChatService {
  private planning: { user: string } | undefined;
  private stopping = false;
  private readonly background = new Set<Promise<unknown>>();
  readonly decisions: Decisions;
  readonly schedules: ChatSchedules;

  constructor(private readonly d: ChatDeps) {
    this.schedules = new ChatSchedules(d, (s) => this.decisions.runScheduled(s));
    this.decisions = new Decisions(d, (p) => this.track(p), this.schedules);
  }

  start(): void {
    this.decisions.start();
    this.track(this.schedules.start());
  }

  /** No command is taken any more; waits (up to `graceMs`) for the answers already under way. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.decisions.stop();
    this.schedules.stop();
    // A job confirmed just now reaches the runner first; the runner then stops it at a journal boundary.
    await this.decisions.started(graceMs);
    await within(Promise.allSettled([...this.background]), graceMs);
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  async command(req: SlashRequest): Promise<SlashReply> {
    const m = this.d.messages;
    const trigger = req.command || '/upgrade';
    const cmd = parseCommand(req.text);
    switch (cmd.kind) {
      case 'help':
        return ephemeral(m.help(trigger));
      case 'status':
        return this.status(req);
      case 'refuse':
        return ephemeral(refusal(m, trigger, cmd));
    }
    if (cmd.kind === 'build' && !this.d.config.build.context) return ephemeral(m.build.noContext(trigger));
    if (this.stopping) return ephemeral(m.refuse.stopping);
    const who = await identify(this.d.authorizer, this.d.log, req.userId, 'typed a command');
    if (!who) return ephemeral(m.refuse.cannotCheckUser);
    if (!who.allowed) return ephemeral(m.refuse.notAllowed(who.username));
    if (cmd.kind === 'cancel') return this.decisions.cancel(who.username, trigger);
    const busy = await this.busy(trigger);
    if (busy) return ephemeral(busy);
    let at: { at: number; note?: 'gap' | 'repeated' } | undefined;
    if (cmd.kind === 'upgrade' && cmd.at !== undefined) {
      const r = parseAt(cmd.at, this.d.now(), this.d.config.upgrade.timeZone);
      if (!r.ok) return ephemeral(m.refuse.badAt(trigger, cmd.version, cmd.at, r.problem));
      at = { at: r.at, ...(r.note ? { note: r.note } : {}) };
    }
    this.planning = { user: who.username };
    this.track(this.planAndPost(cmd, req, who.username, at).finally(() => (this.planning = undefined)));
    return ephemeral(m.ack.planning(cmd.kind === 'upgrade' ? m.what.upgrade(cmd.version) : cmd.kind === 'build' || cmd.kind === 'rehearse' ? m.what[cmd.kind](cmd.version) : m.what[cmd.kind]));
  }

  action(req: ActionRequest): Promise<ActionReply> {
    if (this.stopping) return Promise.resolve({ ephemeral_text: this.d.messages.refuse.stopping });
    const check = verifyContext(this.d.config.bot.secret!, req.context, this.d.now());
    if (check.ok && check.context.action === 'plan') return this.planFromRelease(req, check.context.job);
    return this.decisions.action(req);
  }

  /** Why a new plan cannot be made now (a job running, a plan waiting or being made, a job starting), or undefined. */
  private async busy(trigger: string): Promise<string | undefined> {
    const m = this.d.messages;
    const holder = await readJobLock(this.d.config.bot.stateDir);
    if (holder?.alive) return lockHeldText(m, holder, this.d.config.upgrade.timeZone);
    const waiting = await this.d.pending.waiting(this.d.now());
    if (waiting) return m.refuse.pending(waiting.title, waiting.userName, trigger);
    if (this.planning) return m.refuse.planning(this.planning.user);
    if (this.decisions.isStarting) return m.refuse.starting;
    return undefined;
  }

  /** *Plan upgrade* under a release-watch suggestion: the same planning as `/upgrade X.Y.Z`, in that channel. */
  private async planFromRelease(req: ActionRequest, job: string): Promise<ActionReply> {
    const m = this.d.messages;
    const version = job.replace(/^release:/, '');
    if (!isStrictVersion(version)) return { ephemeral_text: m.refuse.badContext };
    const who = await identify(this.d.authorizer, this.d.log, req.userId, 'clicked');
    if (!who) return { ephemeral_text: m.refuse.cannotCheckUser };
    if (!who.allowed) return { ephemeral_text: m.refuse.notAllowedClick(who.username) };
    const busy = await this.busy('/upgrade');
    if (busy) return { ephemeral_text: busy };
    this.planning = { user: who.username };
    const slash: SlashRequest = { userId: req.userId, userName: who.username, channelId: req.channelId, teamId: '', command: '/upgrade', text: version, responseUrl: undefined };
    this.track(this.planAndPost({ kind: 'upgrade', version }, slash, who.username).finally(() => (this.planning = undefined)));
    return { ephemeral_text: m.ack.planning(m.what.upgrade(version)) };
  }

  private async status(req: SlashRequest): Promise<SlashReply> {
    const { messages: m, config } = this.d;
    const work = this.d
      .status()
      .then((report) => renderStatus(m, report, config.upgrade.timeZone))
      .catch((err: unknown) => {
        this.d.log.warn('chat: status failed', { error: (err as Error).message });
        return m.status.failed;
      });
    const quick = await within(work, STATUS_INLINE_MS);
    if (quick !== undefined) return ephemeral(quick);
    this.track(work.then((text) => this.respond(req, text)));
    return ephemeral(m.ack.checking);
  }

  private async planAndPost(cmd: JobCommand, req: SlashRequest, username: string, at?: { at: number; note?: 'gap' | 'repeated' }): Promise<void> {
    const { messages: m, config } = this.d;
    const request: PlanRequest = {
      kind: cmd.kind,
      ...(cmd.kind === 'upgrade' || cmd.kind === 'build' || cmd.kind === 'rehearse' ? { target: cmd.version } : {}),
      ...(cmd.kind === 'rollback' ? { withDb: cmd.withDb } : {}),
      ...(at ? { at: at.at, ...(at.note ? { atNote: at.note } : {}) } : {}),
    };
    let stored: Pending | undefined;
    try {
      const facts = await this.d.planner.plan(request, username);
      const now = this.d.now();
      const id = `${now.toString(36)}${randomBytes(6).toString('hex')}`;
      const message = renderPlan(m, config, facts);
      const s = facts.state;
      const pending: Pending = {
        id,
        kind: cmd.kind,
        ...(s ? { target: s.target, from: s.from } : cmd.kind === 'build' || cmd.kind === 'rehearse' ? { target: cmd.version } : {}),
        ...(request.withDb ? { withDb: true } : {}),
        ...(at ? { at: at.at, ...(at.note ? { atNote: at.note } : {}) } : {}),
        ...(facts.outside ? { outside: facts.outside } : {}),
        title: s ? `${m.kind[cmd.kind]} ${s.from} → ${s.target}` : cmd.kind === 'build' || cmd.kind === 'rehearse' ? `${m.kind[cmd.kind]} ${cmd.version}` : m.kind[cmd.kind],
        channelId: req.channelId,
        userId: req.userId,
        userName: username,
        createdAt: now,
        expiresAt: now + config.bot.confirmTtlMs,
        nonce: newNonce(),
        message,
        postKey: `plan:${id}`,
      };
      await this.d.pending.put(pending);
      stored = pending;
      const sent = await this.d.outbox.send({ kind: 'create', key: pending.postKey, channel: { id: req.channelId }, message, props: { attachments: [this.buttons(pending)] } });
      if (sent.state === 'refused') {
        await this.d.pending.decide(pending.id, 'cancel', '', now);
        this.d.log.warn('chat: the plan could not be posted in the channel', { channelId: req.channelId, error: sent.error });
        await this.respond(req, m.refuse.cannotPost);
      }
    } catch (err) {
      // A plan stored but not posted must not keep others waiting.
      if (stored) await this.d.pending.decide(stored.id, 'cancel', '', this.d.now()).catch(() => undefined);
      this.d.log.info('chat: request refused while planning', { kind: cmd.kind, by: username, reason: (err as Error).message });
      await this.respond(req, describeError(m, err));
    }
  }

  /** The attachment with the two buttons; each carries its own signed context. */
  private buttons(p: Pending): Record<string, unknown> {
    const { messages: m, config } = this.d;
    const url = `${config.bot.publicUrl}/mattermost/action`;
    const when = (t: number) => dateTime(m, t, config.upgrade.timeZone);
    const names: Record<ActionName, string> = {
      schedule: p.outside ? m.plan.scheduleInWindow(when(p.outside.next)) : '',
      confirm: p.at !== undefined ? m.plan.confirmSchedule(when(p.at)) : p.outside ? m.plan.confirmAnyway : m.plan.confirm[p.kind],
      cancel: m.plan.cancel,
      plan: '',
      rehearse: m.plan.rehearseFirst,
    };
    const primary: ActionName = p.outside ? 'schedule' : 'confirm';
    const button = (action: ActionName) => ({
      id: action,
      type: 'button',
      name: names[action],
      style: action === primary ? 'primary' : action === 'confirm' ? 'danger' : 'default',
      integration: { url, context: signContext(config.bot.secret!, { job: p.id, action, exp: p.expiresAt, nonce: p.nonce }) },
    });
    // An upgrade to be run now can be rehearsed first (the rehearsal's result then offers *Plan upgrade*).
    const rehearse: ActionName[] = p.kind === 'upgrade' && p.at === undefined ? ['rehearse'] : [];
    const actions: ActionName[] = p.outside ? ['schedule', 'confirm', ...rehearse, 'cancel'] : ['confirm', ...rehearse, 'cancel'];
    return { fallback: p.title, color: '#1c58d9', text: m.plan.validity(duration(m, config.bot.confirmTtlMs)), actions: actions.map(button) };
  }

  /** An ephemeral answer after the fact, through the command's response_url (sent to MM_URL). */
  private async respond(req: SlashRequest, text: string): Promise<void> {
    const path = responsePath(req.responseUrl);
    const key = `respond:${randomBytes(6).toString('hex')}`;
    if (path) await this.d.outbox.enqueue({ kind: 'respond', key, path, body: { response_type: 'ephemeral', text }, expiresAt: this.d.now() + RESPONSE_URL_TTL_MS });
    else await this.d.outbox.enqueue({ kind: 'create', key, channel: { id: req.channelId }, message: text });
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.d.log.error('chat: background work failed', { error: (err as Error).message }));
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }
}

function refusal(m: ChatDeps['messages'], trigger: string, cmd: Extract<ChatCommand, { kind: 'refuse' }>): string {
  switch (cmd.reason) {
    case 'badVersion':
      return m.refuse.badVersion(cmd.input, trigger, cmd.suggestion);
    case 'latest':
      return m.refuse.latest(trigger);
    case 'badAt':
      return m.refuse.badAt(trigger, cmd.version, cmd.at, cmd.problem);
    case 'notYet':
      return m.refuse.notYet(cmd.what);
    case 'buildVersion':
      return m.build.badVersion(trigger, cmd.input, cmd.suggestion);
    case 'rehearseVersion':
      return m.rehearse.badVersion(trigger, cmd.input, cmd.suggestion);
    case 'extra':
      return m.refuse.extra(trigger, cmd.text);
  }
}
