/**
 * The bed's two daemons: a private dockerd on its own socket, data root, exec root and
 * pidfile, and a docker-registry on a free 127.0.0.1 port. Both are stopped by PID.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, writeFileSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, httpGet, run, stopPid, waitFor } from './proc.js';

export interface Daemon {
  pid: number;
  stop(): Promise<void>;
}

export interface Dockerd extends Daemon {
  socket: string;
  dockerHost: string;
  execRoot: string;
  dataRoot: string;
}

export interface Registry extends Daemon {
  /** host:port to use in image references, e.g. 127.0.0.1:41234 */
  host: string;
}

function spawnLogged(cmd: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: false });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  return child.pid;
}

/** A `docker-registry` on a free loopback port; with `htpasswd`, Basic auth against that file. */
export async function startRegistry(root: string, opts: { name?: string; htpasswd?: string } = {}): Promise<Registry> {
  const dir = join(root, opts.name ?? 'registry');
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(opts.htpasswd ? ['auth:', '  htpasswd:', '    realm: bed-registry', `    path: ${opts.htpasswd}`] : []),
      '',
    ].join('\n'),
  );
  const pid = spawnLogged('/usr/bin/docker-registry', ['serve', config], join(dir, 'registry.log'));
  const host = `127.0.0.1:${port}`;
  const up = opts.htpasswd ? [200, 401] : [200];
  await waitFor('the registry', async () => (up.includes((await httpGet(`http://${host}/v2/`)).status) ? true : undefined), {
    timeoutMs: 20_000,
  });
  return { pid, host, stop: () => stopPid(pid, 10_000) };
}

export async function startDockerd(root: string): Promise<Dockerd> {
  const dir = join(root, 'docker');
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'exec');
  mkdirSync(dataRoot, { recursive: true });
  mkdirSync(execRoot, { recursive: true });
  const socket = join(dir, 'docker.sock');
  const pidfile = join(dir, 'docker.pid');
  const args = [
    `--host=unix://${socket}`,
    `--data-root=${dataRoot}`,
    `--exec-root=${execRoot}`,
    `--pidfile=${pidfile}`,
    '--bridge=none',
    '--iptables=false',
    '--ip-masq=false',
    '--storage-driver=overlay2',
    '--shutdown-timeout=10',
    '--log-level=warn',
  ];
  const pid = spawnLogged('/usr/sbin/dockerd', args, join(dir, 'dockerd.log'));
  const stop = async (): Promise<void> => {
    // The fault suite may have restarted it (restartDockerd): the pidfile names the one running now.
    const current = dockerdPid(root);
    if (current !== undefined && current !== pid) await stopPid(current, 30_000);
    await stopPid(pid, 30_000);
    await unmountUnder(dir);
  };
  try {
    await waitFor(
      'dockerd',
      async () => ((await httpGet({ socketPath: socket, path: '/_ping' })).status === 200 ? true : undefined),
      { timeoutMs: 60_000 },
    );
  } catch (err) {
    const log = existsSync(join(dir, 'dockerd.log')) ? readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-3000) : '';
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return { pid, socket, dockerHost: `unix://${socket}`, execRoot, dataRoot, stop };
}

/** The PID in the bed's dockerd pidfile, if that process is a dockerd of this bed. */
export function dockerdPid(root: string): number | undefined {
  const pidfile = join(root, 'docker', 'docker.pid');
  if (!existsSync(pidfile)) return undefined;
  const pid = Number(readFileSync(pidfile, 'utf8').trim());
  const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
  return cmdline.includes(join(root, 'docker')) ? pid : undefined;
}

/**
 * For the fault suite: stops the bed's dockerd as a host's service manager would (SIGTERM:
 * containers stopped within --shutdown-timeout) and starts it again with the same arguments.
 * `whileDown` runs while no engine answers. Resolves once the new one answers /_ping.
 */
export async function restartDockerd(root: string, whileDown: () => Promise<void> = async () => undefined): Promise<{ downMs: number }> {
  const dir = join(root, 'docker');
  const pid = dockerdPid(root);
  if (pid === undefined) throw new Error(`no dockerd runs for ${root}`);
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1);
  const t0 = Date.now();
  await stopPid(pid, 60_000);
  await whileDown();
  spawnLogged('/usr/sbin/dockerd', args, join(dir, 'dockerd.log'));
  const socket = join(dir, 'docker.sock');
  await waitFor('dockerd after its restart', async () => ((await httpGet({ socketPath: socket, path: '/_ping' })).status === 200 ? true : undefined), { timeoutMs: 60_000, intervalMs: 50 });
  return { downMs: Date.now() - t0 };
}

/** Unmounts whatever is still mounted below `dir` (netns/default first), deepest first. */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    await run('umount', [m], { allowFailure: true }).then((r) =>
      r.code === 0 ? r : run('umount', ['-l', m], { allowFailure: true }),
    );
  }
}
