/**
 * Planning a rollback: back to the version before the last successful upgrade, as the
 * history records it. Shared by every interface (CLI, chat) so they refuse alike.
 */
import { BadInputError } from '../../common/errors.js';
import type { HistoryEntry } from '../../state/history.js';
import type { EngineDeps } from './deps.js';
import type { UpgradeState } from './state.js';
import { planMove } from './validate.js';

export async function planRollback(deps: EngineDeps, history: HistoryEntry[], { withDb = false }: { withDb?: boolean } = {}): Promise<UpgradeState> {
  const last = history.filter((h) => h.kind === 'upgrade' && h.outcome === 'succeeded' && h.from && h.to).at(-1);
  if (!last) throw new BadInputError('no successful upgrade in the history: nothing to roll back to', 'mm-upgrade status shows the history.', { key: 'rollback.no-history' });
  const state = await planMove(deps, { kind: 'rollback', target: last.from!, force: true });
  if (state.from !== last.to) {
    throw new BadInputError(`the last upgrade went ${last.from} → ${last.to}, but ${state.from} is running now`, 'Roll back by hand with the compose file, or upgrade to the version you want.', {
      key: 'rollback.mismatch',
      params: { from: last.from!, to: last.to!, running: state.from },
    });
  }
  if (withDb) {
    if (!last.backup) throw new BadInputError(`the upgrade to ${last.to} recorded no dump to restore`, undefined, { key: 'rollback.no-dump', params: { to: last.to! } });
    state.restoreDump = last.backup;
  }
  return state;
}

/** The median downtime of the last successful upgrades, for a plan's estimate. */
export function expectedDowntime(history: HistoryEntry[], last = 5): { ms: number; samples: number } | undefined {
  const samples = history
    .filter((h) => (h.kind === 'upgrade' || h.kind === 'rollback') && h.outcome === 'succeeded' && typeof h.downtimeMs === 'number')
    .slice(-last)
    .map((h) => h.downtimeMs!)
    .sort((a, b) => a - b);
  if (samples.length === 0) return undefined;
  const mid = Math.floor(samples.length / 2);
  const ms = samples.length % 2 === 1 ? samples[mid]! : (samples[mid - 1]! + samples[mid]!) / 2;
  return { ms, samples: samples.length };
}

/** Mattermost's Extended Support Releases (major.minor), which upgrade paths should pass through. */
export const ESR_LINES = ['5.37', '6.3', '7.8', '8.1', '9.5', '9.11', '10.5', '10.11'];

/** The ESR lines strictly between two versions that a direct jump passes over. */
export function skippedEsrs(from: string, to: string): string[] {
  const num = (v: string): number => {
    const [major = 0, minor = 0] = v.split('.').map(Number);
    return major * 1000 + minor;
  };
  return ESR_LINES.filter((esr) => num(esr) > num(from) && num(esr) < num(to));
}
