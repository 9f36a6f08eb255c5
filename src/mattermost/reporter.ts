/**
 * The engine's events in chat: one progress post per job, patched in place (at most once
 * per `throttleMs`, the last state always sent), then the result in the same channel and the
 * announcement for the team. Everything goes through the outbox, so nothing is lost while
 * the upgrade has Mattermost down, or if the process stops before delivering. A job taken up
 * again after an interruption patches the post it had, when there is one.
 */
import type { EngineEvent, EventSink, JobInfo, JobResult } from '../core/events.js';
import type { Messages } from '../i18n/index.js';
import type { ChannelRef, Outbox, OutboxMessage } from './outbox.js';
import { applyEvent, emptyProgress, renderProgress, type ProgressModel } from './progress.js';
import { renderAnnouncement, renderResult } from './result.js';

export interface ChatReporterDeps {
  outbox: Outbox;
  messages: Messages;
  timeZone: string;
  /** Where progress and the result go. */
  channel: ChannelRef;
  /** Where the team's announcement goes. */
  announceChannel: ChannelRef;
  throttleMs?: number;
  now?: () => number;
  /** Buttons for the result post (a *Plan upgrade* under a published build), or undefined. */
  resultProps?: (result: JobResult) => Record<string, unknown> | undefined;
  /** A write to the outbox that failed (disk full…): never thrown into the engine. */
  onError?: (err: Error) => void;
}

export interface ChatReporter {
  sink: EventSink;
  /** Resolves once every message of the job so far is written to the outbox. */
  settled(): Promise<void>;
}

export function createChatReporter(deps: ChatReporterDeps): ChatReporter {
  const now = deps.now ?? Date.now;
  const throttle = deps.throttleMs ?? 1_000;
  const m = deps.messages;
  const model: ProgressModel = emptyProgress();
  let chain: Promise<void> = Promise.resolve();
  /** `maybe`: a resumed job, whose post may exist from before the interruption. */
  let post: 'none' | 'created' | 'maybe' = 'none';
  let lastSent = 0;
  let timer: NodeJS.Timeout | undefined;
  let lastText = '';

  const write = (item: () => Promise<OutboxMessage> | OutboxMessage): void => {
    chain = chain.then(async () => deps.outbox.enqueue(await item())).catch((err: Error) => deps.onError?.(err));
  };
  const key = (): string => `progress:${model.job!.id}`;

  const sendProgress = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (!model.job) return;
    let text: string;
    try {
      text = renderProgress(m, model, now());
    } catch (err) {
      deps.onError?.(err as Error);
      return;
    }
    lastSent = now();
    if (text === lastText) return;
    lastText = text;
    const k = key();
    const create: OutboxMessage = { kind: 'create', key: k, channel: deps.channel, message: text };
    const patch: OutboxMessage = { kind: 'patch', key: k, message: text };
    if (post === 'none') write(() => create);
    else if (post === 'created') write(() => patch);
    else write(async () => ((await deps.outbox.knows(k)) ? patch : create));
    post = 'created';
  };

  const schedule = (): void => {
    if (timer) return;
    const wait = Math.max(0, lastSent + throttle - now());
    if (wait === 0) sendProgress();
    else timer = setTimeout(sendProgress, wait);
  };

  const sink: EventSink = (event: EngineEvent) => {
    applyEvent(model, event, m, now());
    if (event.type === 'job-started') {
      sendProgress();
      return;
    }
    if (event.type === 'job-resumed') {
      post = 'maybe';
      sendProgress();
      return;
    }
    if (event.type !== 'job-finished') {
      schedule();
      return;
    }
    const result = event.result;
    // A job refused before it changed anything needs no checklist of its own when none was posted.
    if (post !== 'none' || result.outcome !== 'refused') sendProgress();
    const props = deps.resultProps?.(result);
    write(() => ({ kind: 'create', key: `result:${result.job.id}`, channel: deps.channel, message: renderResult(m, result, model, deps.timeZone), ...(props ? { props } : {}) }));
    const announcement = renderAnnouncement(m, result, deps.timeZone);
    if (announcement) write(() => ({ kind: 'create', key: `announce:${result.job.id}`, channel: deps.announceChannel, message: announcement }));
  };

  return {
    sink,
    settled: async () => {
      if (timer) sendProgress();
      await chain;
    },
  };
}

/**
 * Routes each job's events to its own reporter, made for the job when its first event
 * arrives (the channel it asks to be reported in is in `job.replyTo`). Jobs that `accept`
 * refuses are not reported in chat.
 */
export class ChatReporterHub {
  private readonly byJob = new Map<string, ChatReporter>();
  private readonly finishing = new Set<Promise<void>>();

  constructor(
    private readonly make: (job: JobInfo) => ChatReporter,
    private readonly accept: (job: JobInfo) => boolean = () => true,
    private readonly onError?: (err: Error) => void,
  ) {}

  /** Never throws into the engine: a message that cannot be rendered must not stop an upgrade. */
  readonly sink: EventSink = (event) => {
    try {
      this.route(event);
    } catch (err) {
      this.onError?.(err as Error);
    }
  };

  private route(event: EngineEvent): void {
    const job = event.type === 'job-finished' ? event.result.job : event.job;
    if (!this.accept(job)) return;
    let reporter = this.byJob.get(job.id);
    if (!reporter) {
      reporter = this.make(job);
      this.byJob.set(job.id, reporter);
    }
    reporter.sink(event);
    if (event.type === 'job-finished') {
      this.byJob.delete(job.id);
      const done = reporter.settled().finally(() => this.finishing.delete(done));
      this.finishing.add(done);
    }
  }

  /** Every message of every job so far is in the outbox. */
  async settled(): Promise<void> {
    await Promise.all([...[...this.byJob.values()].map((r) => r.settled()), ...this.finishing]);
  }
}
