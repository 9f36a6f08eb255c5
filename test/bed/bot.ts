/** `mm-upgrade serve` as its own process, the way an admin runs it, on a free loopback port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { CLI, cleanEnv } from './cli.js';
import { waitFor } from './proc.js';

export interface BotProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function startBot(env: Record<string, string>): Promise<BotProcess> {
  const child = spawn(process.execPath, [CLI, 'serve'], { env: cleanEnv(env), cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const url = `http://127.0.0.1:${env.PORT}`;
  const started = Date.now();
  await waitFor(
    `the bot's /healthz at ${url}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`mm-upgrade serve exited with ${child.exitCode}:\n${out}`);
      const r = await fetch(`${url}/healthz`).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 20 },
  );
  const readyMs = Date.now() - started;
  return {
    url,
    child,
    output: () => `${out}\n(ready after ${readyMs} ms)`,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
