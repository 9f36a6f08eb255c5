/**
 * `build X.Y.Z`: the team's publishing procedure as a job under the same lock, journal and
 * events as an upgrade. Build both images (tagged X.Y.Z and latest), push the two X.Y.Z
 * tags and check their digests in the registry, only then the two `latest` tags, then put
 * the local tags back as they were (the images this build made go; an image a container
 * uses never does). A failure before anything is published removes what the build made and
 * counts as refused (exit 2: nothing changed); once a tag is in the registry, nothing is
 * taken back: the result says what the registry holds and how to finish.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BadInputError, DockerError, ErrorCode, UpgradeBotError } from '../../common/errors.js';
import { formatBytes, formatDuration } from '../../config/parse.js';
import type { DockerEngine } from '../../docker/engine.js';
import type { Assessor } from '../plan/runner.js';
import type { JobDefinition, Step, StepContext, UndoHandler } from '../plan/step.js';
import type { EngineDeps } from '../upgrade/deps.js';
import { describeBuildPlan, type BuildState, type PlannedImage } from './plan.js';
import { readMmVersion, setMmVersion } from './upstream.js';

/** How often a long build step says it is still at it. */
const TICK_MS = 15_000;

type S = BuildState;

export function buildJob(deps: EngineDeps, state: BuildState, owner: string): JobDefinition<S> {
  const steps: Step<S>[] = [checkoutStep(), ...state.images.map((i) => buildStep(deps, i.role)), pushStep(deps, 'version'), pushStep(deps, 'latest'), removeLocalStep(deps)];
  return {
    kind: 'build',
    owner,
    title: `build ${state.version}${state.push ? ' and push' : ''}`,
    subject: { to: state.version },
    plan: describeBuildPlan(state),
    steps,
    state,
    undoneOutcome: 'refused',
    succeeded: (s) => ({
      summary: s.push
        ? `${s.version} published: ${s.images.map((i) => i.repository).join(' and ')}, tags ${s.version} and latest${s.local && s.local.kept.length > 0 ? '; some local images are kept (below)' : '; no local copy left'}`
        : `built ${refsOf(s).join(', ')} (kept local: no --push)`,
      details: detailsOf(s),
    }),
    failed: (s) => detailsOf(s),
  };
}

function refsOf(s: S): string[] {
  return s.images.flatMap((i) => [`${i.repository}:${s.version}`, `${i.repository}:latest`]);
}

function detailsOf(s: S): Record<string, unknown> {
  const digest = (ref: string) => s.published.find((p) => p.ref === ref)?.digest ?? null;
  return {
    to: s.version,
    references: refsOf(s).map((ref) => ({ ref, digest: digest(ref) })),
    images: s.images.filter((i) => i.imageId).map((i) => ({ role: i.role, image: `${i.repository}:${s.version}`, id: i.imageId, contextBytes: i.contextBytes, buildMs: i.buildMs })),
    ...(s.versionDiff ? { versionChanged: s.versionDiff } : {}),
    ...(s.local ? { localRemoved: s.local.removed, ...(s.local.kept.length > 0 ? { localKept: s.local.kept } : {}) } : {}),
  };
}

function checkoutStep(): Step<S> {
  return {
    id: 'checkout',
    title: 'Check the upstream checkout',
    run: async ({ state }) => {
      const change = state.versionChange;
      if (!change) return `${relative(state.checkout, state.images[0]!.context)}/${state.images[0]!.dockerfile} builds ${state.version}`;
      const text = readFileSync(change.file, 'utf8');
      const found = readMmVersion(text);
      if (found?.version === state.version) return `MM_VERSION is ${state.version} already`;
      if (found?.version !== change.from) throw new BadInputError(`${change.file} changed since the plan (MM_VERSION is now ${found?.version ?? 'gone'}): nothing was built`);
      const patched = setMmVersion(text, state.version)!;
      writeFileSync(change.file, patched.text);
      state.versionDiff = patched.diff;
      return `--set-version changed ${change.file}: ${patched.diff.slice(1).join(' ')}`;
    },
  };
}

function buildStep(deps: EngineDeps, role: PlannedImage['role']): Step<S> {
  return {
    id: `build-${role}`,
    title: `Build the ${role} image`,
    run: async (ctx) => {
      const image = ctx.state.images.find((i) => i.role === role)!;
      const tags = Object.keys(image.before);
      // Registered first: a crash during the build still puts the tags back.
      await ctx.registerUndo('local-tags', { tags: tags.map((ref) => ({ ref, before: image.before[ref] })) });
      const started = Date.now();
      let current = 'sending the context';
      const say = () => ctx.progress(`${current} (${formatDuration(Date.now() - started)})`);
      const ticker = setInterval(say, TICK_MS);
      try {
        const built = await deps.engine.buildImage({
          context: image.context,
          dockerfile: image.dockerfile,
          tags,
          buildArgs: image.buildArgs,
          onLine: (line) => {
            if (line.kind !== 'step') return;
            current = line.text;
            say();
          },
        });
        image.imageId = built.imageId;
        image.contextBytes = built.contextBytes;
        image.buildMs = Date.now() - started;
        return `${tags.join(', ')} = ${built.imageId.slice(0, 19)} (context ${formatBytes(built.contextBytes)}, ${formatDuration(image.buildMs)})`;
      } finally {
        clearInterval(ticker);
      }
    },
  };
}

function pushStep(deps: EngineDeps, which: 'version' | 'latest'): Step<S> {
  return {
    id: which === 'version' ? 'push' : 'push-latest',
    title: which === 'version' ? 'Push the version tags' : 'Push the latest tags',
    skip: (s) => (s.push ? undefined : 'no --push'),
    run: async (ctx) => {
      const s = ctx.state;
      const lines: string[] = [];
      for (const image of s.images) {
        const ref = `${image.repository}:${which === 'version' ? s.version : 'latest'}`;
        const digest = await publish(deps.engine, ctx, ref);
        if (which === 'latest') {
          const own = s.published.find((p) => p.ref === `${image.repository}:${s.version}`)?.digest;
          if (digest !== own) throw halfWay(s, new DockerError(ErrorCode.DockerRequestFailed, `${ref} is ${digest} in the registry, not ${own} as ${s.version}`));
        }
        lines.push(`${ref}@${digest.slice(0, 19)}`);
      }
      return `${lines.join(', ')} (checked in the registry)`;
    },
  };
}

/**
 * Pushes one tag and checks that the registry serves the digest pushed. What the registry
 * held under that tag before is journaled first: a crash or a failure in the middle is then
 * judged by asking the registry whether the tag moved (see the `publishing` undo).
 */
async function publish(engine: DockerEngine, ctx: StepContext<S>, ref: string): Promise<string> {
  const s = ctx.state;
  let last = 0;
  let digest: string;
  const before = (await engine.registryManifest(ref).catch(() => undefined))?.digest ?? null;
  await ctx.registerUndo('publishing', { ref, before, version: s.version, checkout: s.checkout });
  try {
    ({ digest } = await engine.pushImage(ref, (p) => {
      if (Date.now() - last < 2_000 || !p.status) return;
      last = Date.now();
      ctx.progress(`${ref}: ${p.status}${p.layer ? ` ${p.layer}` : ''}`);
    }));
  } catch (err) {
    throw halfWay(s, err);
  }
  s.published.push({ ref, digest });
  const served = await engine.registryManifest(ref).catch((err: unknown) => {
    throw halfWay(s, err);
  });
  if (served?.digest !== digest) {
    throw halfWay(s, new DockerError(ErrorCode.DockerRequestFailed, `the registry serves ${ref} as ${served?.digest ?? 'nothing'}, not the pushed ${digest}`));
  }
  return digest;
}

/**
 * A failed push: with nothing published yet it is an ordinary failure (the local images are
 * removed, nothing changed); otherwise the registry holds part of the release: a person
 * finishes it, with the commands to do so.
 */
function halfWay(s: S, err: unknown): UpgradeBotError {
  const e = err instanceof UpgradeBotError ? err : new UpgradeBotError(ErrorCode.Unknown, (err as Error).message, { cause: err });
  if (s.published.length === 0) return e;
  const all = [...s.images.map((i) => `${i.repository}:${s.version}`), ...s.images.map((i) => `${i.repository}:latest`)];
  const missing = all.filter((r) => !s.published.some((p) => p.ref === r));
  return new UpgradeBotError(
    ErrorCode.HumanNeeded,
    `${e.message}; the registry now holds ${s.published.map((p) => `${p.ref} (${p.digest})`).join(', ')}, but not ${missing.join(', ')}`,
    {
      hint: `Or run \`mm-upgrade build ${s.version} --context ${s.checkout} --push\` again: it builds from the cached layers and pushes all four tags.${e.hint ? ` ${e.hint}` : ''}`,
      manual: missing.map((r) => `docker push ${r}`),
      cause: err,
    },
  );
}

function removeLocalStep(deps: EngineDeps): Step<S> {
  return {
    id: 'remove-local',
    title: 'Remove the local images',
    skip: (s) => (s.push ? undefined : 'no --push: the images stay local'),
    run: async (ctx) => {
      const s = ctx.state;
      // A tag that already named this very build (left by an earlier, unfinished run) is ours too.
      const tags = s.images.flatMap((i) => Object.entries(i.before).map(([ref, before]) => ({ ref, before: before === i.imageId ? null : before })));
      try {
        s.local = await putBackTags(deps.engine, tags);
      } catch (err) {
        // Everything is published: local leftovers are worth a warning, not a failed job.
        s.local = { removed: [], restored: [], kept: tags.map((t) => `${t.ref}: ${(err as Error).message}`) };
      }
      for (const k of s.local.kept) ctx.warn(`kept locally: ${k}`);
      const parts = [s.local.removed.length > 0 ? `removed ${s.local.removed.join(', ')}` : 'nothing to remove'];
      if (s.local.restored.length > 0) parts.push(`put back as before: ${s.local.restored.join(', ')}`);
      return parts.join('; ');
    },
  };
}

/**
 * Puts each tag back where it was before the build: onto the image it named then, else
 * removed. An image left without a tag is removed too, unless a container uses it (the
 * Engine refuses, 409): that one is kept and said.
 */
export async function putBackTags(engine: DockerEngine, tags: Array<{ ref: string; before: string | null }>): Promise<{ removed: string[]; restored: string[]; kept: string[] }> {
  const out = { removed: [] as string[], restored: [] as string[], kept: [] as string[] };
  const left = new Set<string>();
  const remove = async (what: string, label = what): Promise<void> => {
    try {
      await engine.removeImage(what);
      out.removed.push(label);
    } catch (err) {
      if (!(err instanceof DockerError) || (err.statusCode !== 409 && err.code !== ErrorCode.NotFound)) throw err;
      if (err.statusCode === 409) out.kept.push(`${label}: ${err.message.replace(`could not remove image ${what}: `, '')}`);
    }
  };
  for (const { ref, before } of tags) {
    const now = (await engine.inspectImage(ref))?.Id;
    if (!now || now === before) continue;
    if (before && (await engine.inspectImage(before))) {
      await engine.tagImage(before, ref);
      out.restored.push(ref);
      left.add(now);
    } else {
      await remove(ref);
    }
  }
  for (const id of left) {
    const image = await engine.inspectImage(id);
    if (image && (image.RepoTags ?? []).length === 0) await remove(id, `${id.slice(0, 19)} (untagged)`);
  }
  return out;
}

export function buildUndoHandlers(deps: EngineDeps): Record<string, UndoHandler> {
  return {
    'local-tags': {
      describe: (data) => `put the local tags ${(data as { tags: Array<{ ref: string }> }).tags.map((t) => t.ref).join(', ')} back as they were`,
      run: async (data) => {
        await putBackTags(deps.engine, (data as { tags: Array<{ ref: string; before: string | null }> }).tags);
      },
      manual: (data) =>
        (data as { tags: Array<{ ref: string; before: string | null }> }).tags.map((t) => (t.before ? `docker tag ${t.before} ${t.ref}   # back onto the image it named before` : `docker rmi ${t.ref}`)),
    },
    publishing: {
      describe: (data) => `check that ${(data as { ref: string }).ref} did not move in the registry`,
      // Nothing can be taken back from a registry: a tag that moved leaves the job to a person.
      run: async (data) => {
        const { ref, before, version, checkout } = data as { ref: string; before: string | null; version: string; checkout: string };
        const now = await deps.engine.registryManifest(ref).catch((err: unknown) => {
          throw new UpgradeBotError(ErrorCode.HumanNeeded, `cannot tell whether ${ref} was published (the registry does not answer: ${(err as Error).message})`);
        });
        if ((now?.digest ?? null) === before) return;
        throw new UpgradeBotError(ErrorCode.HumanNeeded, `${ref} was published (${now?.digest ?? 'removed'}): a published tag is not taken back`, {
          hint: `Finish the publication: mm-upgrade build ${version} --context ${checkout} --push`,
        });
      },
      manual: (data) => {
        const { version, checkout, ref } = data as { version: string; checkout: string; ref: string };
        return [`mm-upgrade build ${version} --context ${checkout} --push   # publishes all four tags (${ref} may be in the registry already)`];
      },
    },
  };
}

/** An interrupted build is complete once everything it was to publish is in the registry (or, without --push, built). */
export function buildAssessor(deps: EngineDeps): Assessor {
  return async (raw) => {
    const s = raw as BuildState;
    const expected = s.images.length * 2;
    if (s.push && s.published.length === expected) {
      if (!s.local) {
        const tags = s.images.flatMap((i) => Object.entries(i.before).map(([ref, before]) => ({ ref, before: before === i.imageId ? null : before })));
        s.local = await putBackTags(deps.engine, tags).catch((err: unknown) => ({ removed: [], restored: [], kept: [`local images: ${(err as Error).message}`] }));
      }
      return { complete: true, summary: `all ${expected} tags were published; local images: ${s.local.removed.length} removed${s.local.kept.length > 0 ? `, kept: ${s.local.kept.join('; ')}` : ''}`, details: detailsOf(s) };
    }
    if (!s.push && s.images.every((i) => i.imageId)) return { complete: true, summary: 'both images were built', details: detailsOf(s) };
    return { complete: false, summary: `${s.published.length} of ${s.push ? expected : 0} tags published` };
  };
}
