/**
 * The bot's own image, built from deploy/Dockerfile on the bed with the substitutions a machine
 * without Internet needs: a Node base made from this machine's node binary (and its npm), the
 * npm cache that `npm ci` filled on this machine (so the Dockerfile's own `npm ci --offline`
 * runs), and no compose binary (docker/compose-bin cannot be pulled here).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerCli } from './docker-cli.js';
import { Rootfs } from './rootfs.js';
import type { Bed } from './state.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NPM_HOME = '/usr/lib/node_modules/npm';

export interface BotImage {
  ref: string;
  buildSeconds: number;
  sizeBytes: number;
}

export async function buildBotImage(bed: Bed, workDir: string, log: (line: string) => void): Promise<BotImage> {
  const docker = new DockerCli({ dockerHost: bed.dockerHost, workDir, log });
  const nodeBase = `${bed.registry}/bed-node:20`;
  const npmCache = `${bed.registry}/bed-npm-cache:local`;

  // A Node base shaped like the official one: node and npm in /usr/local, the `node` user (1000).
  const rootfs = new Rootfs(join(workDir, 'node-rootfs'));
  rootfs.file(process.execPath, '/usr/local/bin/node', 0o755);
  await rootfs.sharedLibrariesOf([process.execPath]);
  await rootfs.busybox();
  rootfs.symlink('/bin/busybox', '/usr/bin/env');
  rootfs.etc([['node', 1000, '', '/home/node']], { node: 1000 });
  rootfs.dir('/home/node', { uid: 1000, gid: 1000 });
  if (!existsSync(NPM_HOME)) throw new Error(`npm is not at ${NPM_HOME}: the bed's Node base needs it for the Dockerfile's npm ci`);
  rootfs.tree(NPM_HOME, '/usr/local/lib/node_modules/npm');
  rootfs.symlink('../lib/node_modules/npm/bin/npm-cli.js', '/usr/local/bin/npm');
  rootfs.symlink('../lib/node_modules/npm/bin/npx-cli.js', '/usr/local/bin/npx');
  const context = join(workDir, 'node-base-context');
  mkdirSync(context, { recursive: true });
  await rootfs.tar(join(context, 'rootfs.tar'));
  writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nADD rootfs.tar /\nENV PATH=/usr/local/bin:/usr/bin:/bin\nCMD ["node"]\n');
  await docker.build(nodeBase, { context, file: 'Dockerfile' });

  // This machine's npm cache, as an image whose root is the cache.
  const cacheDir = execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();
  if (!existsSync(join(cacheDir, '_cacache'))) throw new Error(`no npm cache in ${cacheDir}: run npm ci first`);
  const cache = new Rootfs(join(workDir, 'npm-cache-rootfs'));
  cache.tree(join(cacheDir, '_cacache'), '/_cacache');
  const cacheContext = join(workDir, 'npm-cache-context');
  mkdirSync(cacheContext, { recursive: true });
  await cache.tar(join(cacheContext, 'rootfs.tar'));
  writeFileSync(join(cacheContext, 'Dockerfile'), 'FROM scratch\nADD rootfs.tar /\n');
  await docker.build(npmCache, { context: cacheContext, file: 'Dockerfile' });
  await docker.push(nodeBase);
  await docker.push(npmCache);

  const ref = `${bed.registry}/mm-upgrade-bot:test`;
  const t0 = Date.now();
  await docker.buildKit(ref, {
    context: ROOT,
    file: join(ROOT, 'deploy', 'Dockerfile'),
    buildArgs: { NODE_IMAGE: nodeBase, COMPOSE_IMAGE: 'scratch', NPM_CACHE_IMAGE: npmCache, NPM_CI_FLAGS: '--offline' },
  });
  const buildSeconds = (Date.now() - t0) / 1000;
  const sizeBytes = Number((await docker.run(['image', 'inspect', '--format', '{{.Size}}', ref])).trim());
  log(`bot image built from deploy/Dockerfile in ${buildSeconds.toFixed(1)} s, ${(sizeBytes / 1e6).toFixed(1)} MB`);
  return { ref, buildSeconds, sizeBytes };
}
