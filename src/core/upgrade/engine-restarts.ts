/**
 * A rollback that meets a Docker engine going down or coming back (a host's package upgrade
 * restarting dockerd in the middle of the downtime) gets a 500 ("database not open") or no
 * answer at all. The put-back is idempotent: wait for the engine to answer again and run it
 * again, a few times, before asking a person.
 */
import { DockerError, ErrorCode } from '../../common/errors.js';
import type { EngineDeps } from './deps.js';

/** The engine itself failed (unreachable, or a 5xx while it shuts down), not the request. */
export function engineTrouble(err: unknown): boolean {
  return err instanceof DockerError && (err.code === ErrorCode.DockerUnavailable || (err.statusCode ?? 0) >= 500);
}

export async function throughEngineRestarts<T>(deps: EngineDeps, fn: () => Promise<T>, note: (message: string) => void, attempts = 5): Promise<T> {
  const { engine, clock } = deps;
  for (let attempt = 1, pause = 2_000; ; attempt++, pause *= 2) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !engineTrouble(err)) throw err;
      note(`the Docker engine failed (${(err as Error).message.split('\n')[0]}); waiting for it to answer again, then trying again`);
      // A daemon shutting down may still answer pings for a while: give it time first.
      await clock.sleep(pause);
      const deadline = clock.now() + 120_000;
      for (;;) {
        const up = await engine.ping().then(() => true, () => false);
        if (up || clock.now() > deadline) break;
        await clock.sleep(500);
      }
    }
  }
}
