/**
 * What `build X.Y.Z` will do, worked out before anything runs: the checkout and the version
 * its app Dockerfile builds, the repositories to tag (APP_IMAGE/DB_IMAGE, else the compose
 * file's), which tags exist already. Every refusal says what was expected and what to do.
 */
import { relative } from 'node:path';
import { BadInputError, PolicyError } from '../../common/errors.js';
import { parseVersion } from '../../common/version.js';
import { parseImageRef } from '../../docker/compose/image-ref.js';
import { resolveDeployment } from '../../docker/deployment.js';
import type { EngineDeps } from '../upgrade/deps.js';
import { readCheckout, type ImageRole } from './checkout.js';

export interface BuildRequest {
  version: string;
  /** The upstream checkout (`--context`, else BUILD_CONTEXT). */
  context: string | undefined;
  push: boolean;
  edition: string;
  /** Patch the checkout's MM_VERSION line when it names another version. */
  setVersion: boolean;
}

export interface PlannedImage {
  role: ImageRole;
  service: string;
  repository: string;
  context: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  /** The image each of its two tags named locally before the build (null: none), to put back. */
  before: Record<string, string | null>;
  imageId?: string;
  contextBytes?: number;
  buildMs?: number;
}

export interface BuildState {
  version: string;
  checkout: string;
  push: boolean;
  edition: string;
  /** The checkout builds another version: the line --set-version changes. */
  versionChange?: { from: string; file: string; line: number };
  /** Set once --set-version changed the Dockerfile: the diff. */
  versionDiff?: string[];
  images: PlannedImage[];
  unusedServices: string[];
  /** `repo:X.Y.Z` tags the registry holds already (a push replaces them). */
  replaces: string[];
  published: Array<{ ref: string; digest: string }>;
  local?: { removed: string[]; restored: string[]; kept: string[] };
}

const OFFICIAL = /^(?:docker\.io\/)?(?:mattermost\/|library\/|[a-z0-9._-]+$)/;

export async function planBuild(deps: EngineDeps, req: BuildRequest): Promise<BuildState> {
  const version = parseVersion(req.version).text;
  if (!req.context) throw new BadInputError('which checkout? expected --context <dir> (the upstream Docker packaging of Mattermost), or BUILD_CONTEXT');
  if (!/^[a-z][a-z0-9_-]*$/i.test(req.edition)) throw new BadInputError(`--edition must be a word such as team, got "${req.edition}"`);
  const checkout = readCheckout(req.context);
  const found = checkout.version;
  const file = relative(checkout.dir, checkout.appDockerfile);
  if (!found) {
    throw new BadInputError(`${file} names no MM_VERSION: expected a line such as ENV MM_VERSION=${version}`, 'Is this the upstream Docker packaging of Mattermost? Point --context at it.');
  }
  let versionChange: BuildState['versionChange'];
  if (found.version !== version) {
    if (!req.setVersion) {
      throw new BadInputError(
        `${file} builds Mattermost ${found.version} (line ${found.line}), not ${version}: nothing was built`,
        `Update the checkout to the packaging of ${version} (git pull), or add --set-version to change that line to ${version} in ${checkout.appDockerfile}.`,
        { key: 'build.version-mismatch', params: { file, found: found.version, line: found.line, version } },
      );
    }
    versionChange = { from: found.version, file: checkout.appDockerfile, line: found.line };
  }

  const repositories = await repositoriesOf(deps);
  const images: PlannedImage[] = [];
  for (const b of [checkout.app, checkout.db]) {
    const repository = repositories[b.role];
    const tags = [`${repository}:${version}`, `${repository}:latest`];
    const before: Record<string, string | null> = {};
    for (const t of tags) before[t] = (await deps.engine.inspectImage(t))?.Id ?? null;
    images.push({
      role: b.role,
      service: b.service,
      repository,
      context: b.context,
      dockerfile: b.dockerfile,
      buildArgs: b.role === 'app' ? { ...b.args, edition: req.edition } : b.args,
      before,
    });
  }
  const replaces: string[] = [];
  if (req.push) {
    for (const i of images) {
      const ref = `${i.repository}:${version}`;
      if (await deps.engine.registryManifest(ref).catch(() => undefined)) replaces.push(ref);
    }
  }
  return {
    version,
    checkout: checkout.dir,
    push: req.push,
    edition: req.edition,
    ...(versionChange ? { versionChange } : {}),
    images,
    unusedServices: checkout.unused,
    replaces,
    published: [],
  };
}

/** APP_IMAGE and DB_IMAGE, else the repositories the compose file pins; never Mattermost's or Docker's own. */
async function repositoriesOf(deps: EngineDeps): Promise<Record<ImageRole, string>> {
  const { config } = deps;
  let app = config.app.image;
  let db = config.db.image;
  if (!app || !db) {
    const d = await resolveDeployment(config, deps.engine);
    app ??= d.app.repository;
    db ??= d.db.repository;
  }
  for (const [role, repo, variable] of [['app', app, 'APP_IMAGE'], ['db', db, 'DB_IMAGE']] as const) {
    if (parseImageRef(repo).tag || parseImageRef(repo).digest) throw new BadInputError(`${variable} must be a repository without tag, got "${repo}"`);
    if (OFFICIAL.test(repo)) {
      throw new PolicyError(
        `the ${role} image is ${repo}, which is not the team's own: build publishes a team's own images`,
        `Set APP_IMAGE and DB_IMAGE to the repositories of your registry (for example registry.example.net:5000/pica-mattermost and …/pica-mattermost-db).`,
        { key: 'build.not-own', params: { role, repo } },
      );
    }
  }
  return { app, db };
}

export function describeBuildPlan(s: BuildState): string[] {
  const tag = (i: PlannedImage, t: string) => `${i.repository}:${t}`;
  const lines = [`build ${s.version} from ${s.checkout}${s.push ? ', push' : ''}`];
  if (s.versionChange) lines.push(`set MM_VERSION ${s.versionChange.from} → ${s.version} in ${s.versionChange.file} (line ${s.versionChange.line}; --set-version)`);
  for (const i of s.images) {
    const args = Object.entries(i.buildArgs).map(([k, v]) => `${k}=${v}`).join(' ');
    lines.push(`build ${tag(i, s.version)} from ${relative(s.checkout, i.context) || '.'}/${i.dockerfile}${args ? ` (${args})` : ''}, also tagged latest`);
  }
  if (s.unusedServices.length > 0) lines.push(`not built: ${s.unusedServices.join(', ')} (not used)`);
  if (s.push) {
    lines.push(`push ${s.images.map((i) => tag(i, s.version)).join(' and ')}, check their digests in the registry; then the two latest tags`);
    for (const r of s.replaces) lines.push(`${r} is in the registry already: the push replaces it`);
    lines.push('remove the local images this build made (never one a container uses)');
  } else {
    lines.push('keep the images local (no --push)');
  }
  return lines;
}
