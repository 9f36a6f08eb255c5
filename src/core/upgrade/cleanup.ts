/** After a successful upgrade: the images older than the previous version go. */
import { compareVersions, isStrictVersion } from '../../common/version.js';
import type { EngineDeps } from './deps.js';
import type { UpgradeState } from './state.js';

/** Images older than the previous version go; the previous stays so a rollback needs no pull. */
export async function removeOldImages(deps: EngineDeps, state: UpgradeState, warn: (m: string) => void): Promise<string[]> {
  const { engine } = deps;
  const inUse = new Set((await engine.findContainers({})).map((c) => c.imageId));
  const removed: string[] = [];
  for (const m of [state.app, state.db].filter((x) => x.moves)) {
    for (const image of await engine.listImages(m.repository)) {
      if (inUse.has(image.id)) continue;
      const tags = image.tags.filter((t) => t.startsWith(`${m.repository}:`)).map((t) => t.slice(m.repository.length + 1));
      if (tags.length === 0 || tags.includes(m.fromTag) || tags.includes(m.toTag)) continue;
      if (!isStrictVersion(m.fromTag) || !tags.every((t) => isStrictVersion(t) && compareVersions(t, m.fromTag) < 0)) continue;
      for (const t of tags) {
        try {
          await engine.removeImage(`${m.repository}:${t}`);
          removed.push(`${m.repository}:${t}`);
        } catch (err) {
          warn(`could not remove ${m.repository}:${t}: ${(err as Error).message}`);
        }
      }
    }
  }
  return removed;
}
