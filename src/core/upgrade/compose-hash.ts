/**
 * Keeping `docker compose up -d` quiet after the bot recreated a container: the recreated
 * container carries the config hash compose itself computes for the pinned file (and the image
 * ID label the Go flavour compares), so the next routine `up -d` finds nothing to do. Changes
 * in the compose file that were never applied are not hidden: such a service keeps its stale
 * label, and the plan and the result say that `up -d` will apply them.
 */
import { dirname } from 'node:path';
import { COMPOSE_HASH_LABEL, COMPOSE_IMAGE_LABEL, COMPOSE_VERSION_LABEL, type ComposeFlavour, type ComposeProject, type ComposeTool } from '../../docker/compose-cli/index.js';
import { COMPOSE_LABELS, type Deployment } from '../../docker/deployment.js';
import type { ContainerSpec } from '../../docker/engine.js';
import type { EngineDeps } from './deps.js';
import type { ServiceMove, UpgradeState } from './state.js';

/** What compose says of the deployment, worked out before the pin and journaled with the job. */
export interface ComposeOutlook {
  /** The compose command asked, e.g. "docker-compose 1.29.2"; undefined when none could be. */
  cli: string | undefined;
  /** Its flavour (the Go one also compares `com.docker.compose.image`). */
  flavour?: ComposeFlavour;
  /** Why no compose command could be asked (the next `up -d` then restarts what is recreated). */
  unavailable: string | undefined;
  /** The `com.docker.compose.version` the containers carry: which flavour hashes for them. */
  createdBy: string | undefined;
  project: ComposeProject;
  /** Services whose container label differs from compose's hash of the file before the pin: changes never applied. */
  pending: string[];
  /** After the pin: the hash of each moving service, to be written on its new container. */
  pinned: Record<string, string> | undefined;
}

/**
 * Marks what the bot did with the compose labels of a container it recreated: `compose` (set to
 * compose's own hash), `kept` (the previous container's labels, put back with its file), `stale`
 * (left stale on purpose or for want of a compose command: the next `up -d` recreates it).
 */
export const HASH_MARK_LABEL = 'org.mattermost-upgrade-bot.config-hash';
export type HashMark = 'compose' | 'kept' | 'stale';

function composeProjectOf(d: Pick<Deployment, 'files' | 'project' | 'app'>): ComposeProject {
  const workingDir = d.app.container?.Config.Labels?.[COMPOSE_LABELS.workingDir] ?? dirname(d.files.files[0]!);
  return { files: d.files.files, project: d.project, workingDir };
}

/** Before the pin: which compose command applies, and which services hold changes never applied. */
export async function lookAtCompose(compose: ComposeTool, d: Deployment): Promise<ComposeOutlook> {
  const containers = [d.app, d.db].filter((t) => t.container);
  const createdBy = containers.map((t) => t.container!.Config.Labels?.[COMPOSE_VERSION_LABEL]).find((v) => v !== undefined);
  const project = composeProjectOf(d);
  const base = { createdBy, project, pending: [], pinned: undefined };
  const r = await compose.hashes(createdBy, project, containers.map((t) => t.service));
  if ('unavailable' in r) return { ...base, cli: undefined, unavailable: r.unavailable };
  const pending = containers.filter((t) => t.container!.Config.Labels?.[COMPOSE_HASH_LABEL] !== r.hashes[t.service]).map((t) => t.service);
  return { ...base, cli: r.cli, flavour: r.flavour, unavailable: undefined, pending };
}

/**
 * After the pin, before the first stop (docker-compose 1.x hashes the image ID: the pulled
 * image must be there): the hashes to write. Without them the outlook says why (the result
 * says it), and so does the returned line, for the step's report.
 */
export async function hashPinned(deps: EngineDeps, state: UpgradeState): Promise<string | undefined> {
  const outlook = state.compose;
  if (!outlook?.cli) return undefined;
  const moving = [state.app, state.db].filter((m) => m.moves).map((m) => m.service);
  const r = await deps.compose.hashes(outlook.createdBy, outlook.project, moving);
  if ('unavailable' in r) {
    outlook.cli = undefined;
    outlook.unavailable = r.unavailable;
    return `compose's own config hash could not be computed (${r.unavailable})`;
  }
  outlook.pinned = r.hashes;
  return undefined;
}

/** The labels a container recreated by the job gets on top of its previous ones. */
export function composeLabelsFor(state: UpgradeState, m: ServiceMove, spec: ContainerSpec): Record<string, string> {
  const hash = state.compose?.pinned?.[m.service];
  if (!hash || state.compose!.pending.includes(m.service)) return { [HASH_MARK_LABEL]: 'stale' };
  const old = (spec.create.Labels as Record<string, string> | undefined) ?? {};
  return {
    [COMPOSE_HASH_LABEL]: hash,
    ...(COMPOSE_IMAGE_LABEL in old && m.toImageId ? { [COMPOSE_IMAGE_LABEL]: m.toImageId } : {}),
    [HASH_MARK_LABEL]: 'compose',
  };
}

/** Whether compose would recreate the container of a moving service anyway (its hash changes with the pin). */
export function composeWouldRecreate(state: UpgradeState, m: ServiceMove, currentLabels: Record<string, string> | undefined): boolean {
  const hash = state.compose?.pinned?.[m.service];
  return hash !== undefined && !state.compose!.pending.includes(m.service) && currentLabels?.[COMPOSE_HASH_LABEL] !== hash;
}

/** What the result says of the next `up -d`. */
export interface UpDOutlook {
  cli?: string;
  unavailable?: string;
  /** Services the next `up -d` will apply pending changes to (a restart). */
  pending: string[];
  /** Containers recreated by the job that the next `up -d` will restart once more. */
  restarts: string[];
}

export function upDOutlook(state: UpgradeState): UpDOutlook | undefined {
  const o = state.compose;
  if (!o) return undefined;
  const recreated = [state.app, state.db].filter((m) => m.recreate);
  const restarts = recreated.filter((m) => o.pending.includes(m.service) || !o.pinned?.[m.service]).map((m) => m.service);
  return { ...(o.cli ? { cli: o.cli } : {}), ...(o.unavailable ? { unavailable: o.unavailable } : {}), pending: o.pending, restarts };
}

/** One line for the plan (CLI) and the result. */
export function describeUpD(o: UpDOutlook, phase: 'plan' | 'result'): string {
  const parts: string[] = [];
  if (o.pending.length > 0) {
    parts.push(`\`docker compose up -d\` will apply pending changes to ${o.pending.join(', ')}: a restart (the compose file holds changes that were never applied; they are left to you)`);
  }
  const others = o.restarts.filter((s) => !o.pending.includes(s));
  if (o.unavailable && (phase === 'plan' || others.length > 0)) {
    const who = phase === 'plan' ? 'the containers recreated here' : others.join(', ');
    parts.push(`the next \`docker compose up -d\` will restart ${who} once: no compose command to compute its config hash (${o.unavailable})`);
  }
  if (parts.length > 0) return parts.join('; ');
  if (phase === 'plan') return `the recreated containers get the config hash ${o.cli ?? 'compose'} computes: the next \`docker compose up -d\` changes nothing`;
  return o.cli ? `nothing to recreate (the config hash is ${o.cli}'s own)` : 'nothing to recreate';
}

/** A result's `upD` detail, read back from JSON. */
export function isUpD(v: unknown): v is UpDOutlook {
  return typeof v === 'object' && v !== null && Array.isArray((v as UpDOutlook).pending) && Array.isArray((v as UpDOutlook).restarts);
}
