/** Runs the built `mm-upgrade` as a sysadmin would, with only the given environment. */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { run, type RunResult } from './proc.js';

export const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

/** This process's environment without anything that configures the bot, plus `env`. */
export function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(MM_|COMPOSE_|APP_|DB_|DOCKER_HOST|STATE_DIR|BACKUP_|VERIFY_|HEALTH_|BOT_|PORT$)/.test(k)));
  return { ...base, ...env } as NodeJS.ProcessEnv;
}

export function mmUpgrade(args: string[], env: Record<string, string>): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], { env: cleanEnv(env), allowFailure: true, cwd: tmpdir() });
}

/** Starts `mm-upgrade` in the background; resolves `stderrMatch` when a line matches. */
export function mmUpgradeBackground(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env), cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters.splice(0)) {
      if (w.re.test(stderr)) w.resolve();
      else waiters.push(w);
    }
  });
  const done = new Promise<RunResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return {
    child,
    done,
    output: () => ({ stdout, stderr }),
    waitFor(re: RegExp, timeoutMs = 60_000): Promise<void> {
      if (re.test(stderr)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} in mm-upgrade's stderr after ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}
