/**
 * A test hook, off unless MM_UPGRADE_TEST_STOP_AT names points: the fault suite stops a job
 * at a named boundary, does its damage (kill -9, a restarted engine, an edited file), and
 * then kills the process or lets it go on.
 *
 * Points: `recover` (before interrupted jobs are looked for), `lock` (before a job takes the
 * lock), `step-started:<step>` and `step-done:<step>` (right after the journal records them),
 * `undo-started:<kind>` and `undo-done:<kind>`.
 * Several points are separated by commas; each stops the process once. At a point, it writes
 * `<STATE_DIR>/test-hook/<pid>.json` ({ "point": … }) and waits for SIGUSR2 to go on.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Checkpoint = (point: string) => Promise<void>;

export function checkpointFrom(spec: string | undefined, stateDir: string): Checkpoint | undefined {
  const points = new Set((spec ?? '').split(',').map((p) => p.trim()).filter(Boolean));
  if (points.size === 0) return undefined;
  const dir = join(stateDir, 'test-hook');
  return async (point) => {
    if (!points.has(point)) return;
    points.delete(point); // each point stops once
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const marker = join(dir, `${process.pid}.json`);
    // Listening before the marker exists: a SIGUSR2 sent as soon as it appears is not missed.
    const resumed = new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()));
    const keepAlive = setInterval(() => undefined, 60_000);
    writeFileSync(marker, JSON.stringify({ point, pid: process.pid }));
    try {
      await resumed;
    } finally {
      clearInterval(keepAlive);
      rmSync(marker, { force: true });
    }
  };
}
