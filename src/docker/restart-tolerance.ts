/**
 * An engine that was answering and stops answering is, on a host, almost always restarting
 * (a package upgrade, `systemctl restart docker`): its socket refuses or is gone for a few
 * seconds. Calls made then wait for it, up to a grace period, instead of failing a job half-way
 * and sending its rollback into the same wall. An engine never reached since the process
 * started is a configuration problem and fails at once, as before.
 */

/** How long an engine that answered before may take to come back. */
export const ENGINE_RESTART_GRACE_MS = 90_000;

interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The request never reached the engine: safe to send again whatever it does. */
export function neverReached(err: unknown): boolean {
  const e = err as { code?: string; syscall?: string; statusCode?: number } | undefined;
  return e?.statusCode === undefined && e?.syscall === 'connect' && (e.code === 'ECONNREFUSED' || e.code === 'ENOENT');
}

/** The connection broke during the request: safe to send again only when the request changes nothing. */
export function cutShort(err: unknown): boolean {
  const e = err as { code?: string; statusCode?: number; message?: string } | undefined;
  return e?.statusCode === undefined && (e?.code === 'ECONNRESET' || e?.code === 'EPIPE' || /socket hang up/.test(String(e?.message)));
}

export class RestartTolerance {
  private seenUp = false;
  private downSince: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly graceMs = ENGINE_RESTART_GRACE_MS,
  ) {}

  /** Runs `fn`, again while the engine is away (see above); `readOnly` calls also after a cut connection. */
  async run<T>(fn: () => Promise<T>, readOnly: boolean): Promise<T> {
    for (let delay = 100; ; delay = Math.min(1_000, delay * 2)) {
      try {
        const value = await fn();
        this.seenUp = true;
        this.downSince = undefined;
        return value;
      } catch (err) {
        if (!this.seenUp || !(neverReached(err) || (readOnly && cutShort(err)))) throw err;
        this.downSince ??= this.clock.now();
        if (this.clock.now() - this.downSince >= this.graceMs) throw err;
        await this.clock.sleep(delay);
      }
    }
  }
}
