#!/usr/bin/env node
/**
 * `mm-upgrade`: the command line. Parses argv, builds the context, calls the same code
 * chat and schedules use. Result on stdout, progress and errors on stderr; exit codes
 * as the SPEC says (0 done, 1 rolled back, 2 bad input, 3 human needed, 4 locked).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BadInputError, ConfigError, ExitCode, toBotError } from './core/errors.js';
import { buildContext } from './main.js';
import { collectStatus } from './status/collect.js';
import { renderStatus } from './status/render.js';

const USAGE = `Usage: mm-upgrade <command> [options]

Commands:
  serve                                   run the webhook server, schedules and outbox
  upgrade <X.Y.Z> [--yes] [--dry-run] [--force]
  rollback [--yes] [--with-db]
  status [--json]                         versions, health, drift, last backup, running job
  backup                                  take a verified dump now
  restore <dump> --yes
  reindex [--yes]
  build <X.Y.Z> --context <dir> [--push]
  register-command

Configuration comes from the environment and ./.env (see .env.example).
Exit codes: 0 done, 1 failed and rolled back, 2 bad input or configuration,
3 failed and NOT healthy (a human is needed), 4 another job holds the lock.`;

type Handler = (args: string[]) => Promise<number>;

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: Io = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

const HELP_HINT = 'Run `mm-upgrade --help` for the commands and their options.';
const SPEC_COMMANDS = ['serve', 'upgrade', 'rollback', 'status', 'backup', 'restore', 'reindex', 'build', 'register-command'];

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

export function commands(io: Io): Record<string, Handler> {
  return {
    status: async (args) => {
      const { values } = parse(args, { json: { type: 'boolean' } });
      const ctx = buildContext('cli', { style: values.json ? 'json' : 'text' });
      const report = await collectStatus({ config: ctx.config, engine: ctx.engine });
      io.stdout(values.json ? JSON.stringify(report, null, 2) + '\n' : renderStatus(report));
      return report.healthy ? ExitCode.Ok : ExitCode.HumanNeeded;
    },
  };
}

export async function runCli(argv: string[], io: Io = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout(USAGE + '\n');
    return command === undefined ? ExitCode.BadInput : ExitCode.Ok;
  }
  const handler = commands(io)[command];
  if (!handler) {
    io.stderr(
      SPEC_COMMANDS.includes(command)
        ? `mm-upgrade: "${command}" is not available in this version yet.\n`
        : `mm-upgrade: unknown command "${command}": expected one of ${SPEC_COMMANDS.join(', ')}.\n`,
    );
    return ExitCode.BadInput;
  }
  try {
    return await handler(rest);
  } catch (err) {
    const e = toBotError(err);
    if (e instanceof ConfigError) {
      for (const p of e.problems) io.stderr(`mm-upgrade: ${p}\n`);
    } else {
      io.stderr(`mm-upgrade: ${e.message}\n`);
      if (e.hint) io.stderr(`  ${e.hint}\n`);
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
