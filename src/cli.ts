#!/usr/bin/env node
/**
 * `mm-upgrade`: the command line. Parses argv, builds the context, drives the same runner
 * and jobs as chat and schedules. Progress on stderr, the result on stdout; exit codes as
 * the SPEC says (0 done, 1 rolled back, 2 bad input or refused, 3 human needed, 4 locked).
 */
import { realpathSync } from 'node:fs';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { confirm } from './cli/prompt.js';
import { createCliReporter, renderResult, renderResultJson } from './cli/render.js';
import { BadInputError, ConfigError, ExitCode, LockHeldError, toBotError } from './common/errors.js';
import { exitCodeOf, fanOut, type JobResult } from './core/events.js';
import { backupJob, reindexJob, restoreJob } from './core/maintenance.js';
import type { JobDefinition } from './core/plan/step.js';
import { describePlan, upgradeJob } from './core/upgrade/plan.js';
import { buildJob } from './core/build/job.js';
import { planBuild } from './core/build/plan.js';
import { planRehearsal, rehearseJob } from './core/rehearse/job.js';
import { planRollback } from './core/upgrade/rollback.js';
import { planMove } from './core/upgrade/validate.js';
import { buildChatAdapters, buildChatNotifier, buildContext, buildEngine, type AppContext, type Engine } from './main.js';
import { registerCommand } from './mattermost/register.js';
import { serve } from './serve.js';
import { readHistory } from './state/history.js';
import { readJobLock } from './state/job-lock.js';
import { collectStatus } from './status/collect.js';
import { renderStatus } from './status/render.js';

const USAGE = `Usage: mm-upgrade <command> [options]

Commands:
  serve                                   run the webhook server, schedules and outbox
  upgrade <X.Y.Z> [--yes] [--dry-run] [--force] [--json]
                                          the whole procedure; asks first unless --yes
  rollback [--yes] [--with-db] [--json]   back to the version before the last upgrade
  status [--json]                         versions, health, drift, last backup, job, history
  backup [--json]                         take a verified dump now
  restore <dump> --yes [--json]           restore a dump (app stopped meanwhile)
  reindex [--yes] [--json]                backup, then REINDEX DATABASE
  build <X.Y.Z> [--context <dir>] [--push] [--edition team] [--set-version] [--json]
                                          build the app and db images from an upstream
                                          checkout (default BUILD_CONTEXT), tag X.Y.Z and
                                          latest; --push publishes them and removes the
                                          local copies
  rehearse <X.Y.Z> [--json]               run X.Y.Z on a scratch copy of the database,
                                          production untouched; report the migration
                                          time and log errors; remove what it made
  register-command [--json]               create or update /upgrade in MM_TEAM, print its token

Configuration comes from the environment and ./.env (see .env.example).
Exit codes: 0 done, 1 failed and rolled back (the previous version is serving),
2 bad input, configuration or refused (nothing changed), 3 failed and NOT healthy
(a human is needed), 4 another job holds the lock.`;

const HELP_HINT = 'Run `mm-upgrade --help` for the commands and their options.';
const SPEC_COMMANDS = ['serve', 'upgrade', 'rollback', 'status', 'backup', 'restore', 'reindex', 'build', 'rehearse', 'register-command'];

export interface Io {
  stdout: (text: string) => void;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
}

const defaultIo: Io = {
  stdout: (t) => void process.stdout.write(t),
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
};

type Handler = (args: string[], io: Io) => Promise<number>;

function parse(args: string[], options: ParseArgsConfig['options'], positionals = 0): { values: Record<string, unknown>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: positionals > 0, strict: true });
  } catch (err) {
    throw new BadInputError((err as Error).message.replace(/\. To specify .*$/s, ''), HELP_HINT);
  }
  if (parsed.positionals.length > positionals) throw new BadInputError(`unexpected argument "${parsed.positionals[positionals]}"`, HELP_HINT);
  return parsed as { values: Record<string, unknown>; positionals: string[] };
}

function owner(env: Record<string, string | undefined>): string {
  return `cli:${env.SUDO_USER || env.USER || userInfo().username}`;
}

/** How long the CLI tries to deliver its chat messages before it exits (they wait in the outbox after that). */
const CHAT_FLUSH_MS = 10_000;

/**
 * Context, engine and a renderer on stderr; interrupted jobs are recovered before anything
 * else. With MM_BOT_TOKEN, upgrades, rollbacks and restores also show in chat (MM_ADMIN_CHANNEL).
 */
async function start(io: Io, json: boolean, showPlan = true): Promise<{ ctx: AppContext; engine: Engine; recovered: JobResult[]; close(): Promise<void> }> {
  const ctx = buildContext('cli', { env: io.env, style: json ? 'json' : 'text' });
  const reporter = createCliReporter({ stream: io.stderr, env: io.env, showPlan });
  const chat = buildChatNotifier(ctx);
  const engine = buildEngine(ctx, chat ? fanOut(reporter.sink, chat.sink) : reporter.sink);
  const recovered = await engine.runner.recoverInterrupted();
  for (const r of recovered) io.stderr.write(`Recovered an interrupted job: ${r.job.title} (by ${r.job.owner}): ${r.outcome.toUpperCase()}: ${r.summary}\n`);
  return {
    ctx,
    engine,
    recovered,
    close: async () => {
      reporter.close();
      if (!chat) return;
      const { left, wrote } = await chat.finish(CHAT_FLUSH_MS);
      if (wrote && left > 0) {
        io.stderr.write(
          `${left} chat message${left > 1 ? 's' : ''} could not be delivered yet (Mattermost does not answer); ${left > 1 ? 'they wait' : 'it waits'} in ${ctx.config.bot.stateDir}/outbox/ and \`mm-upgrade serve\` or the next run delivers ${left > 1 ? 'them' : 'it'}.\n`,
        );
      }
    },
  };
}

/** A second job is refused at once, before any planning, naming the one that runs. */
async function refuseIfLocked(ctx: AppContext): Promise<void> {
  const holder = await readJobLock(ctx.config.bot.stateDir);
  if (holder?.alive) throw new LockHeldError(holder);
}

async function askOrRefuse(io: Io, yes: boolean, plan: string[], question: string): Promise<void> {
  if (yes) return;
  if (io.stdin.isTTY !== true) {
    throw new BadInputError('confirmation needed and there is no terminal to ask on: nothing was changed', 'Add --yes to run it without asking (or --dry-run to see the plan).');
  }
  io.stderr.write(plan.map((l, i) => (i === 0 ? `${l}\n` : `  - ${l}\n`)).join(''));
  if (!(await confirm(question, { input: io.stdin, output: io.stderr }))) throw new BadInputError('not confirmed: nothing was changed');
}

async function runJob<S>(io: Io, engine: Engine, job: JobDefinition<S>, json: boolean): Promise<number> {
  const result = await engine.runner.run(job);
  io.stdout(json ? renderResultJson(result) : renderResult(result));
  return exitCodeOf(result.outcome);
}

const commands: Record<string, Handler> = {
  serve: async (args, io) => {
    parse(args, {});
    return serve(buildContext('serve', { env: io.env }));
  },

  'register-command': async (args, io) => {
    const { values } = parse(args, { json: { type: 'boolean' } });
    const ctx = buildContext('register', { env: io.env });
    const r = await registerCommand(buildChatAdapters(ctx)!.api, { team: ctx.config.mattermost.team!, publicUrl: ctx.config.bot.publicUrl });
    if (values.json) {
      io.stdout(JSON.stringify(r, null, 2) + '\n');
      return ExitCode.Ok;
    }
    const did = { created: 'Created', updated: 'Updated', unchanged: 'Found, already up to date:' }[r.action];
    io.stdout(`${did} the /upgrade command in team ${r.team} (id ${r.id}); Mattermost calls ${r.url} with POST.\n`);
    io.stdout(`Put its token in the bot's MM_SLASH_TOKENS (and restart serve):\n\nMM_SLASH_TOKENS=${r.token}\n`);
    return ExitCode.Ok;
  },

  status: async (args, io) => {
    const { values } = parse(args, { json: { type: 'boolean' } });
    const json = Boolean(values.json);
    const s = await start(io, json);
    try {
      const report = await collectStatus({ config: s.ctx.config, engine: s.ctx.engine, compose: s.ctx.compose, history: await readHistory(s.ctx.config.bot.stateDir) });
      io.stdout(json ? JSON.stringify({ ...report, recovered: s.recovered }, null, 2) + '\n' : renderStatus(report));
      return report.healthy ? ExitCode.Ok : ExitCode.HumanNeeded;
    } finally {
      await s.close();
    }
  },

  upgrade: async (args, io) => {
    const { values, positionals } = parse(args, { yes: { type: 'boolean', short: 'y' }, 'dry-run': { type: 'boolean' }, force: { type: 'boolean' }, json: { type: 'boolean' } }, 1);
    if (positionals[0] === undefined) throw new BadInputError('which version? expected `mm-upgrade upgrade X.Y.Z`, for example `mm-upgrade upgrade 10.11.4`');
    const json = Boolean(values.json);
    const s = await start(io, json, Boolean(values.yes));
    try {
      await refuseIfLocked(s.ctx);
      const state = await planMove(s.engine.deps, { kind: 'upgrade', target: positionals[0], force: Boolean(values.force) });
      const plan = describePlan(s.engine.deps, state);
      if (values['dry-run']) {
        io.stdout(json ? JSON.stringify({ dryRun: true, plan, from: state.from, to: state.target }, null, 2) + '\n' : plan.map((l, i) => (i === 0 ? `${l}\n` : `  - ${l}\n`)).join('') + 'Dry run: nothing was changed.\n');
        return ExitCode.Ok;
      }
      await askOrRefuse(io, Boolean(values.yes), plan, `Upgrade ${state.from} → ${state.target} now?`);
      return await runJob(io, s.engine, upgradeJob(s.engine.deps, state, owner(io.env)), json);
    } finally {
      await s.close();
    }
  },

  rollback: async (args, io) => {
    const { values } = parse(args, { yes: { type: 'boolean', short: 'y' }, 'with-db': { type: 'boolean' }, json: { type: 'boolean' } });
    const json = Boolean(values.json);
    const s = await start(io, json, Boolean(values.yes));
    try {
      await refuseIfLocked(s.ctx);
      const state = await planRollback(s.engine.deps, await readHistory(s.ctx.config.bot.stateDir), { withDb: Boolean(values['with-db']) });
      const plan = describePlan(s.engine.deps, state);
      await askOrRefuse(io, Boolean(values.yes), plan, `Roll back ${state.from} → ${state.target}${state.restoreDump ? ' and restore the database' : ''} now?`);
      return await runJob(io, s.engine, upgradeJob(s.engine.deps, state, owner(io.env)), json);
    } finally {
      await s.close();
    }
  },

  backup: async (args, io) => {
    const { values } = parse(args, { json: { type: 'boolean' } });
    const s = await start(io, Boolean(values.json));
    try {
      return await runJob(io, s.engine, backupJob(s.engine.deps, owner(io.env)), Boolean(values.json));
    } finally {
      await s.close();
    }
  },

  restore: async (args, io) => {
    const { values, positionals } = parse(args, { yes: { type: 'boolean', short: 'y' }, json: { type: 'boolean' } }, 1);
    if (positionals[0] === undefined) throw new BadInputError('which dump? expected `mm-upgrade restore <file.dump> --yes`');
    const s = await start(io, Boolean(values.json), Boolean(values.yes));
    try {
      await refuseIfLocked(s.ctx);
      const job = restoreJob(s.engine.deps, owner(io.env), positionals[0]);
      await askOrRefuse(io, Boolean(values.yes), [job.title, ...job.plan], 'Restore this dump now? The app is stopped meanwhile.');
      return await runJob(io, s.engine, job, Boolean(values.json));
    } finally {
      await s.close();
    }
  },

  build: async (args, io) => {
    const { values, positionals } = parse(
      args,
      { context: { type: 'string' }, push: { type: 'boolean' }, edition: { type: 'string' }, 'set-version': { type: 'boolean' }, json: { type: 'boolean' } },
      1,
    );
    if (positionals[0] === undefined) throw new BadInputError('which version? expected `mm-upgrade build X.Y.Z --context <dir> --push`, for example `mm-upgrade build 10.11.4 --context ./docker --push`');
    const json = Boolean(values.json);
    const s = await start(io, json);
    try {
      await refuseIfLocked(s.ctx);
      const state = await planBuild(s.engine.deps, {
        version: positionals[0],
        context: (values.context as string | undefined) ?? s.ctx.config.build.context,
        push: Boolean(values.push),
        edition: (values.edition as string | undefined) ?? 'team',
        setVersion: Boolean(values['set-version']),
      });
      return await runJob(io, s.engine, buildJob(s.engine.deps, state, owner(io.env)), json);
    } finally {
      await s.close();
    }
  },

  rehearse: async (args, io) => {
    const { values, positionals } = parse(args, { json: { type: 'boolean' } }, 1);
    if (positionals[0] === undefined) throw new BadInputError('which version? expected `mm-upgrade rehearse X.Y.Z`, for example `mm-upgrade rehearse 10.11.4`');
    const json = Boolean(values.json);
    const s = await start(io, json);
    try {
      await refuseIfLocked(s.ctx);
      const state = await planRehearsal(s.engine.deps, positionals[0]);
      return await runJob(io, s.engine, rehearseJob(s.engine.deps, state, owner(io.env)), json);
    } finally {
      await s.close();
    }
  },

  reindex: async (args, io) => {
    const { values } = parse(args, { yes: { type: 'boolean', short: 'y' }, json: { type: 'boolean' } });
    const s = await start(io, Boolean(values.json), Boolean(values.yes));
    try {
      await refuseIfLocked(s.ctx);
      const job = reindexJob(s.engine.deps, owner(io.env));
      await askOrRefuse(io, Boolean(values.yes), [job.title, ...job.plan], 'Reindex now?');
      return await runJob(io, s.engine, job, Boolean(values.json));
    } finally {
      await s.close();
    }
  },
};

export async function runCli(argv: string[], io: Io = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout(USAGE + '\n');
    return command === undefined ? ExitCode.BadInput : ExitCode.Ok;
  }
  const handler = commands[command];
  if (!handler) {
    io.stderr.write(
      SPEC_COMMANDS.includes(command)
        ? `mm-upgrade: "${command}" is not available in this version yet.\n`
        : `mm-upgrade: unknown command "${command}": expected one of ${SPEC_COMMANDS.join(', ')}.\n`,
    );
    return ExitCode.BadInput;
  }
  try {
    return await handler(rest, io);
  } catch (err) {
    const e = toBotError(err);
    if (e instanceof ConfigError) {
      for (const p of e.problems) io.stderr.write(`mm-upgrade: ${p}\n`);
    } else {
      io.stderr.write(`mm-upgrade: ${e.message}\n`);
      if (e.hint) io.stderr.write(`  ${e.hint}\n`);
    }
    return e.exitCode;
  }
}

function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`mm-upgrade: ${(err as Error).message}\n`);
      process.exit(ExitCode.HumanNeeded);
    },
  );
}
