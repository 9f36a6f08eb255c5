/**
 * Fault suite: the bot killed with SIGKILL at every step boundary of an upgrade, of its
 * automatic rollback, and of a `rollback --with-db`, then started again. Each case ends
 * healthy on the old or the new version (or human-needed with its instructions), with the
 * rows intact (count and checksum, read in PostgreSQL).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mmUpgrade } from '../bed/cli.js';
import { fingerprint, recordCase, recoverAndCheck, stopAt, withDeployment } from './helpers/faults.js';

const UPGRADE_STEPS = ['validate', 'precheck', 'backup', 'pull', 'compose', 'switch', 'verify', 'cleanup'];
const ROLLBACK_STEPS = ['validate', 'precheck', 'backup', 'pull', 'compose', 'switch', 'verify'];
const boundaries = (steps: string[]): string[] => steps.flatMap((s) => [`step-started:${s}`, `step-done:${s}`]);

describe('kill -9 at every boundary of an upgrade 1.0.0 → 1.1.0', () => {
  for (const point of boundaries(UPGRADE_STEPS)) {
    it(`at ${point}: the next start completes or rolls back`, () => withDeployment(async (d) => {
      const before = await fingerprint(d);
      const job = await stopAt(['upgrade', '1.1.0', '--yes'], d.botEnv, point);
      await job.kill();
      const v = await recoverAndCheck(d, before, { from: '1.0.0', to: '1.1.0' });
      recordCase({ group: 'kill -9, upgrade 1.0.0 → 1.1.0', fault: `at ${point}`, outcome: v.outcome, serving: v.serving, rows: 'intact' });
    }));
  }
});

describe('kill -9 at every boundary of the automatic rollback of a failed upgrade (1.2.0 crashes at start)', () => {
  for (const point of ['undo-started:restore-previous', 'undo-done:restore-previous', 'undo-started:restore-compose', 'undo-done:restore-compose']) {
    it(`at ${point}: the next start finishes the rollback`, () => withDeployment(async (d) => {
      const before = await fingerprint(d);
      const job = await stopAt(['upgrade', '1.2.0', '--yes'], { ...d.botEnv, HEALTH_TIMEOUT: '6' }, point);
      await job.kill();
      const v = await recoverAndCheck(d, before, { from: '1.0.0', to: '1.2.0' });
      assert.equal(v.serving, '1.0.0');
      recordCase({ group: 'kill -9, automatic rollback of 1.2.0', fault: `at ${point}`, outcome: v.outcome, serving: v.serving, rows: 'intact' });
    }));
  }
});

describe('kill -9 at every boundary of `rollback --with-db` (1.1.0 → 1.0.0 with the dump restored)', () => {
  for (const point of boundaries(ROLLBACK_STEPS)) {
    it(`at ${point}: the next start completes or rolls back`, () => withDeployment(async (d) => {
      const before = await fingerprint(d);
      const up = await mmUpgrade(['upgrade', '1.1.0', '--yes'], d.botEnv);
      assert.equal(up.code, 0, up.stderr);
      const job = await stopAt(['rollback', '--with-db', '--yes'], d.botEnv, point);
      await job.kill();
      const v = await recoverAndCheck(d, before, { from: '1.1.0', to: '1.0.0' });
      recordCase({ group: 'kill -9, rollback --with-db 1.1.0 → 1.0.0', fault: `at ${point}`, outcome: v.outcome, serving: v.serving, rows: 'intact' });
    }));
  }
});
