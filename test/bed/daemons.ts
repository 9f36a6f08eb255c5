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
