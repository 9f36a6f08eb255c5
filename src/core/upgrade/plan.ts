/**
 * The upgrade job (and the rollback job, which is the same procedure towards the version
 * before the last upgrade): validate → precheck → backup → pull → compose → switch →
 * verify → cleanup. Steps change nothing until `compose`; each change registers its undo.
 */
import { takeBackup } from '../../backup/dump.js';
import { dbTarget } from '../../backup/psql.js';
import { formatDuration } from '../../config/parse.js';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { readServiceImage, restoreFileChange, setServiceTag, writeFileAtomic } from '../../docker/compose/index.js';
import type { JobDefinition, Step, UndoHandler } from '../plan/step.js';
import type { Assessor } from '../plan/runner.js';
import type { EngineDeps } from './deps.js';
import { ErrorCode, ServiceFailedError, UpgradeBotError, toBotError } from '../../common/errors.js';
import { watchNewVersion } from './health.js';
import { manualPutBack, putBackPrevious, switchImages, type PreviousDeployment } from './switch.js';
import type { UpgradeState } from './state.js';
import { composeWouldRecreate, describeUpD, hashPinned, upDOutlook } from './compose-hash.js';
import { checkPostgresMajor, planMove, precheck } from './validate.js';
import { removeOldImages } from './cleanup.js';
import { assertUnchangedSincePlan } from './compose-guard.js';
import { throughEngineRestarts } from './engine-restarts.js';
import { rehearsalStep, shouldRehearse, summaryOf } from '../rehearse/job.js';

export interface UpgradeRequest {
  target: string;
  force: boolean;
  owner: string;
}

type S = UpgradeState;

export function upgradeSteps(deps: EngineDeps): Step<S>[] {
  const { config, engine, clock } = deps;
  const db = (state: S) => dbTarget(state.db.container, config.db);
  return [
    {
      id: 'validate',
      title: 'Check the request',
      run: async ({ state }) => {
        Object.assign(state, { ...(await planMove(deps, { kind: state.kind, target: state.target, force: state.force, ...(state.restoreDump ? { restoreDump: state.restoreDump } : {}) })), restoreDump: state.restoreDump });
        const moving = [state.app, state.db].filter((m) => m.moves).map((m) => m.service);
        return `${state.from} → ${state.target}; moving: ${moving.join(', ')}${state.db.moves ? '' : ` (${state.db.service} ${state.db.fromTag} is versioned on its own and keeps running)`}`;
      },
    },
    {
      id: 'precheck',
      title: 'Check the deployment',
      run: async ({ state }) => precheck(deps, state),
    },
    {
      id: 'backup',
      title: 'Back up the database',
      run: async (ctx) => {
        const started = clock.now();
        const result = await takeBackup(engine, db(ctx.state), {
          dir: config.backup.dir,
          version: ctx.state.from,
          keep: config.backup.keep,
          onProgress: (bytes) => ctx.progress('dumping', { current: bytes, unit: 'bytes' }),
          protect: ctx.state.restoreDump ? [ctx.state.restoreDump] : [],
        });
        ctx.state.backup = result;
        return `${result.path} (${(result.sizeBytes / 1e6).toFixed(1)} MB, ${result.entries} entries, verified, ${formatDuration(clock.now() - started)}); a restore from it would lose what is written after ${result.finishedAt}`;
      },
    },
    {
      id: 'pull',
      title: 'Pull the new images (no downtime yet)',
      run: async (ctx) => {
        const { state } = ctx;
        for (const m of [state.app, state.db].filter((x) => x.moves)) {
          const layers = new Map<string, { current: number; total: number }>();
          await engine.pull(m.toRef, (p) => {
            if (p.layer && p.total) layers.set(p.layer, { current: p.current ?? 0, total: p.total });
            const sum = [...layers.values()].reduce((a, l) => ({ current: a.current + l.current, total: a.total + l.total }), { current: 0, total: 0 });
            ctx.progress(`pulling ${m.toRef}`, { current: sum.current, total: sum.total, unit: 'bytes' });
          }).catch((err: unknown) => {
            // Nothing has changed yet (the point of pulling first): a refusal, not a failure to undo.
            const error = toBotError(err);
            throw new UpgradeBotError(ErrorCode.PolicyRefused, `${error.message.trim()}; nothing was changed, nothing stopped`, {
              cause: err,
              hint: `Check the registry (\`docker pull ${m.toRef}\` on this host), then start again.`,
              tag: { key: 'pull.failed', params: { ref: m.toRef } },
            });
          });
          const image = await engine.inspectImage(m.toRef);
          if (!image) throw new Error(`${m.toRef} is not there after the pull`);
          m.toImageId = image.Id;
          ctx.progress(`pulled ${m.toRef}`);
        }
        state.app.recreate = true;
        state.db.recreate = state.db.moves && state.db.toImageId !== state.db.fromImageId;
        if (state.db.recreate) await checkPostgresMajor(deps, state);
        return state.db.moves && !state.db.recreate ? `${state.db.toRef} is the same image as ${state.db.fromRef}: the database keeps running` : undefined;
      },
    },
    // Before the first change: the target on a scratch copy of the database (REHEARSAL).
    rehearsalStep<S>(
      deps,
      (s) => s,
      (s) => s.backup!.path,
      (s, r) => (s.rehearsal = r),
      (s, lines) => (s.logLines = lines),
      (s) => (s.kind === 'upgrade' && shouldRehearse(config.rehearsal.mode, s.from, s.target) ? undefined : s.kind === 'rollback' ? 'a rollback goes to a version that ran here' : `REHEARSAL=${config.rehearsal.mode}${config.rehearsal.mode === 'auto' ? ': a patch release' : ''}`),
    ),
    {
      id: 'compose',
      title: 'Pin the new tags in the compose file',
      run: async (ctx) => {
        const { state } = ctx;
        const changed: string[] = [];
        // Before the first write: an edit since the plan refuses, with nothing changed.
        await assertUnchangedSincePlan(state.files, state.composeDigests);
        for (const m of [state.app, state.db].filter((x) => x.moves)) {
          // Journaled before the write: a crash right after the rename must still find it.
          const file = (await readServiceImage(state.files, m.service)).tagSource.file;
          const before = await readFile(file);
          const saved = join(config.bot.stateDir, 'jobs', `${ctx.job.id}.${basename(file)}.orig`);
          if (!state.savedFiles.some((f) => f.file === file)) {
            // 0600 like the journal beside it: a compose file or its .env may hold passwords.
            await writeFileAtomic(saved, before, { mode: 0o600 });
            state.savedFiles.push({ file, saved });
          }
          await ctx.registerUndo('restore-compose', { file, before: before.toString('base64'), saved: state.savedFiles.find((f) => f.file === file)!.saved });
          const change = await setServiceTag(state.files, m.service, m.toTag);
          if (change.before.equals(change.after)) continue;
          changed.push(`${m.service} → ${m.toTag} in ${change.file}`);
        }
        // Compose's own hash of the pinned file, before the first stop (no downtime yet).
        const noHash = await hashPinned(deps, state);
        if (noHash) changed.push(noHash);
        if (state.db.moves && !state.db.recreate) {
          const current = await engine.inspectContainer(state.db.container);
          if (composeWouldRecreate(state, state.db, current?.Config.Labels)) {
            // Its tag moved onto the same image, but compose hashes the tag: the next `up -d` would
            // restart PostgreSQL by surprise. Better now, while the app is stopped anyway.
            state.db.recreate = true;
            changed.push(`${state.db.service} is recreated too: the next \`docker compose up -d\` would otherwise restart it for its new tag`);
          }
        }
        return changed.join('; ');
      },
    },
    {
      id: 'switch',
      title: 'Switch to the new images (downtime)',
      run: async (ctx) => {
        try {
          return await switchImages(deps, ctx.state, (m) => ctx.progress(m), async (previous) => {
            await ctx.registerUndo('restore-previous', previous);
          });
        } catch (err) {
          // The lines that say why go into the report (chat quotes them).
          if (err instanceof ServiceFailedError) ctx.state.logLines.push(...err.logLines);
          throw err;
        }
      },
    },
    {
      id: 'verify',
      title: `Watch the new version`,
      run: async (ctx) => watchNewVersion(deps, ctx.state, (m) => ctx.warn(m)),
    },
    {
      id: 'cleanup',
      title: 'Remove old images',
      skip: (state) => (state.kind === 'rollback' ? 'a rollback keeps every image' : undefined),
      run: async (ctx) => {
        // Best effort: the new version has passed its watch; nothing here may roll it back.
        ctx.state.removedImages = await removeOldImages(deps, ctx.state, (m) => ctx.warn(m)).catch((err: unknown) => {
          ctx.warn(`could not clean up old images: ${(err as Error).message}`);
          return [];
        });
        return ctx.state.removedImages.length > 0 ? `removed ${ctx.state.removedImages.join(', ')}` : 'nothing to remove';
      },
    },
  ];
}

export function upgradeJob(deps: EngineDeps, state: S, owner: string): JobDefinition<S> {
  const verb = state.kind === 'rollback' ? 'rollback' : 'upgrade';
  return {
    kind: state.kind,
    owner,
    title: `${verb} ${state.from} → ${state.target}`,
    subject: { from: state.from, to: state.target, ...(state.restoreDump ? { dump: state.restoreDump } : {}) },
    plan: describePlan(deps, state),
    steps: upgradeSteps(deps),
    state,
    // The rehearsal's size guard refuses before anything changed; any other failure is rolled back.
    undoneOutcome: (e) => (e.code === ErrorCode.PolicyRefused ? 'refused' : 'rolled-back'),
    succeeded: (s) => ({ summary: `${s.target} is serving`, details: details(s) }),
    failed: (s) => details(s, true),
  };
}

export function describePlan(deps: EngineDeps, s: S): string[] {
  const { config } = deps;
  const lines = [
    `${s.kind === 'rollback' ? 'Roll back' : 'Upgrade'} ${s.project}: ${s.from} → ${s.target}`,
    `back up database ${config.db.name} to ${config.backup.dir} and verify the dump`,
    `pull ${[s.app, s.db].filter((m) => m.moves).map((m) => m.toRef).join(' and ')} before any downtime`,
    ...(s.kind === 'upgrade' && shouldRehearse(config.rehearsal.mode, s.from, s.target)
      ? [`rehearse: start ${s.target} on a scratch copy of the database first (production keeps serving); a failure stops here, before any downtime`]
      : []),
    `pin ${[s.app, s.db].filter((m) => m.moves).map((m) => `${m.service} ${m.fromTag} → ${m.toTag}`).join(', ')} in ${s.app.moves ? 'the compose files' : ''}`.trim(),
    `stop ${s.app.container} (${config.app.stopTimeoutS} s grace)${s.db.moves ? `, then ${s.db.container} (${config.db.stopTimeoutS} s grace) if its image changes` : `; ${s.db.container} keeps running`}`,
    ...(s.restoreDump ? [`restore ${s.restoreDump} into ${config.db.name} (the current database is kept aside)`] : []),
    `start them again and wait for ${s.target} (up to ${Math.round(config.upgrade.healthTimeoutMs / 1000)} s), watch it for ${formatDuration(config.upgrade.verifyWindowMs)}`,
    `on failure: put ${s.from} back, restoring the dump if ${s.from} will not start on the database`,
  ];
  const upD = upDOutlook(s);
  if (upD) lines.push(describeUpD(upD, 'plan'));
  if (s.kind === 'upgrade') lines.push(`changelog: ${s.changelog}`);
  return lines;
}

/** `rolledBack`: the previous containers came back with their own labels; only pending changes remain for `up -d`. */
function details(s: S, rolledBack = false): Record<string, unknown> {
  const outlook = upDOutlook(s);
  const upD = outlook && rolledBack ? (outlook.pending.length > 0 ? { ...outlook, restarts: [] } : undefined) : outlook;
  const downtimeMs = s.appStoppedAt && s.healthyAt ? Date.parse(s.healthyAt) - Date.parse(s.appStoppedAt) : undefined;
  return {
    from: s.from,
    to: s.target,
    ...(s.backup ? { backup: s.backup.path, restoreLoses: `writes made after ${s.backup.finishedAt}` } : {}),
    ...(downtimeMs !== undefined ? { downtimeMs } : {}),
    ...(s.kind === 'upgrade' ? { changelog: s.changelog } : {}),
    ...(s.logLines.length > 0 ? { logLines: s.logLines } : {}),
    ...(s.rehearsal ? { rehearsal: summaryOf(s.rehearsal), ...(s.rehearsal.migrationMs !== undefined ? { migrationMs: s.rehearsal.migrationMs } : {}) } : {}),
    ...(s.removedImages.length > 0 ? { removedImages: s.removedImages } : {}),
    dbRecreated: s.db.recreate,
    ...(s.overrideWindow ? { override: `outside the maintenance window, by @${s.overrideWindow}` } : {}),
    ...(upD ? { upD } : {}),
  };
}

export function upgradeUndoHandlers(deps: EngineDeps): Record<string, UndoHandler> {
  return {
    'restore-compose': {
      describe: (data) => `put back ${(data as { file: string }).file}`,
      run: async (data) => {
        const { file, before } = data as { file: string; before: string };
        await restoreFileChange({ file, before: Buffer.from(before, 'base64'), after: Buffer.alloc(0) });
      },
      manual: (data) => {
        const { file, saved } = data as { file: string; saved?: string };
        return [saved ? `cp '${saved}' '${file}'   # the file as it was before the job` : `cp '${file}.bak' '${file}'   # check it pins the previous tags`];
      },
    },
    'restore-previous': {
      describe: (data) => `put ${(data as PreviousDeployment).app.version} back`,
      run: async (data, ctx) => {
        const stage = (name: string, message: string, ok?: boolean): void => ctx.stage(name, message, ok);
        await throughEngineRestarts(deps, () => putBackPrevious(deps, data as PreviousDeployment, stage), (m) => stage('engine', m));
      },
      manual: (data) => manualPutBack(data as PreviousDeployment, (data as PreviousDeployment).dbUser ?? deps.config.db.user, deps.config.db.name),
    },
  };
}

/** After a crash: the upgrade is complete when the target runs, healthy, as the compose file says. */
export function upgradeAssessor(deps: EngineDeps): Assessor {
  return async (raw) => {
    const state = raw as S;
    if (!state?.app?.container || !state.target) return { complete: false, summary: 'the job had not started switching' };
    const app = await deps.engine.inspectContainer(state.app.container);
    if (!app?.State.Running || app.Config.Image !== state.app.toRef) return { complete: false, summary: `${state.target} is not running` };
    const p = await deps.probe(deps.config.mattermost.url);
    if (!p.pingOk || p.version !== state.target) return { complete: false, summary: `${state.target} is not healthy (${p.error ?? `reports ${p.version}`})` };
    const pinned = await readServiceImage(state.files, state.app.service).catch(() => undefined);
    if (pinned?.ref.tag !== state.app.toTag) return { complete: false, summary: `the compose file does not pin ${state.target}` };
    return { complete: true, summary: `${state.target} is running, healthy, and pinned in the compose file`, details: details(state) };
  };
}
