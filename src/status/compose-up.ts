/**
 * `status`'s "On up -d" line: which containers a later `docker compose up -d` would recreate.
 * Compose's own config hashes decide when a compose command runs (no false alarm after a
 * rollback that put the original labels back); otherwise a guess from what the bot knows.
 */
import { COMPOSE_IMAGE_LABEL, type ComposeTool } from '../docker/compose-cli/index.js';
import { sameImage, type Deployment } from '../docker/deployment.js';
import type { DockerEngine } from '../docker/engine.js';
import { HASH_MARK_LABEL, lookAtCompose } from '../core/upgrade/compose-hash.js';
import { RECREATED_LABEL } from '../core/upgrade/switch.js';

export interface UpDCheck {
  /** Containers `up -d` would recreate, and why. */
  recreate: Array<{ service: string; container: string; reason: string }>;
  /** The compose command whose hashes were compared; null when the answer is a guess. */
  checkedWith: string | null;
  /** Why it is a guess. */
  guessBecause: string | null;
}

export async function checkUpD(engine: DockerEngine, d: Deployment, compose: ComposeTool | undefined): Promise<UpDCheck> {
  const targets = [d.app, d.db].filter((t) => t.container);
  if (targets.length === 0) return { recreate: [], checkedWith: null, guessBecause: 'no container runs' };
  const outlook = compose ? await lookAtCompose(compose, d) : undefined;
  const name = (t: (typeof targets)[number]) => t.container!.Name.replace(/^\//, '');

  if (outlook?.cli) {
    const recreate: UpDCheck['recreate'] = [];
    for (const t of targets) {
      const labels = t.container!.Config.Labels ?? {};
      if (outlook.pending.includes(t.service)) {
        const reason =
          labels[HASH_MARK_LABEL] === 'stale'
            ? `recreated by mm-upgrade at ${labels[RECREATED_LABEL] ?? '?'} with its previous config hash kept: the compose file holds changes not applied yet`
            : 'its config hash differs from the compose file\'s: changes not applied yet';
        recreate.push({ service: t.service, container: name(t), reason });
        continue;
      }
      // The Go flavour also compares the image ID it labelled the container with.
      if (outlook.flavour === 'v2' && labels[COMPOSE_IMAGE_LABEL]) {
        const pinned = await engine.inspectImage(t.compose.resolved);
        if (pinned && pinned.Id !== labels[COMPOSE_IMAGE_LABEL]) recreate.push({ service: t.service, container: name(t), reason: `${t.compose.resolved} is another image than the one it was created from` });
      }
    }
    return { recreate, checkedWith: outlook.cli, guessBecause: null };
  }

  const recreate = targets.flatMap((t) => {
    const labels = t.container!.Config.Labels ?? {};
    const at = labels[RECREATED_LABEL];
    // Recreated by this version without compose's hash, or by an older one (no mark).
    if (at && (labels[HASH_MARK_LABEL] === undefined || labels[HASH_MARK_LABEL] === 'stale')) {
      return [{ service: t.service, container: name(t), reason: `recreated by mm-upgrade at ${at}: its compose config hash is stale` }];
    }
    if (!sameImage(t.container!.Config.Image, t.compose.resolved)) return [{ service: t.service, container: name(t), reason: `the compose file pins ${t.compose.resolved}, another tag of the image it runs` }];
    return [];
  });
  return { recreate, checkedWith: null, guessBecause: outlook?.unavailable ?? 'no compose command configured' };
}
