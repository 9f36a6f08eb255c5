/**
 * Running the compose command itself: a clean environment (only what reaches the Docker
 * engine, so the bot's own variables cannot change compose's interpolation: values come from
 * the `.env` beside the compose file, as for the bot's own reading), a time limit, and the
 * output kept small.
 */
import { execFile } from 'node:child_process';

export interface CommandResult {
  /** The exit code; -1 when the command could not start (not found) or was killed. */
  code: number;
  stdout: string;
  stderr: string;
}

export type CommandRunner = (argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }) => Promise<CommandResult>;

export const runCommand: CommandRunner = (argv, { cwd, env, timeoutMs }) =>
  new Promise((resolve) => {
    const [file, ...args] = argv;
    execFile(file!, args, { cwd, env, timeout: timeoutMs, maxBuffer: 1 << 20, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr || (err && code === -1 ? err.message : '')) });
    });
  });

const PASSED = ['PATH', 'HOME', 'DOCKER_CONFIG', 'DOCKER_CERT_PATH', 'DOCKER_TLS_VERIFY', 'XDG_RUNTIME_DIR', 'TMPDIR'];

/** What the compose command sees: the engine the bot talks to, nothing of the bot's configuration. */
export function composeEnv(dockerHost: string, from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { DOCKER_HOST: dockerHost, LANG: 'C.UTF-8', COMPOSE_INTERACTIVE_NO_CLI: '1' };
  for (const k of PASSED) if (from[k] !== undefined) env[k] = from[k];
  return env;
}
