/**
 * The journals of the jobs a runner has open, and the shutdown brake on them: once halted,
 * a job stops at its next journal write and waits there for ever, so that the process exits
 * at a journal boundary and the next start recovers the job as after a crash.
 */
import { within } from '../../common/within.js';
import { Journal } from '../../state/journal.js';

export class OpenJournals {
  /** Set by halt(): checks whether every open journal is parked. */
  private halted: (() => void) | undefined;
  private readonly parked = new Set<Journal>();
  private readonly open = new Set<Journal>();

  constructor(
    private readonly stateDir: string,
    private readonly now: () => Date,
  ) {}

  get isHalted(): boolean {
    return this.halted !== undefined;
  }

  get size(): number {
    return this.open.size;
  }

  async add(jobId: string): Promise<Journal> {
    let journal: Journal | undefined;
    const gate = async (): Promise<void> => {
      if (!this.halted || !journal) return;
      this.parked.add(journal);
      this.halted();
      await new Promise<never>(() => undefined);
    };
    journal = await Journal.open(this.stateDir, jobId, this.now, gate);
    this.open.add(journal);
    return journal;
  }

  async close(journal: Journal): Promise<void> {
    this.open.delete(journal);
    this.halted?.();
    await journal.close();
  }

  /**
   * Resolves once every open journal is parked (or none is open), or after `graceMs`; in
   * both cases once no journal write is under way.
   */
  async halt(graceMs: number): Promise<void> {
    let wake: () => void = () => undefined;
    const allParked = new Promise<void>((resolve) => (wake = resolve));
    this.halted = () => {
      if ([...this.open].every((j) => this.parked.has(j))) wake();
    };
    this.halted();
    await within(allParked, graceMs);
    await Promise.all([...this.open].map((j) => j.idle()));
  }
}
