/** Installs the bed's system packages when they are missing (root, Debian). */
import { existsSync } from 'node:fs';
import { run } from './proc.js';

const NEEDS: ReadonlyArray<{ pkg: string; path: string }> = [
  { pkg: 'docker.io', path: '/usr/sbin/dockerd' },
  { pkg: 'docker-registry', path: '/usr/bin/docker-registry' },
  { pkg: 'docker-compose', path: '/usr/bin/docker-compose' },
  { pkg: 'busybox-static', path: '/bin/busybox' },
  { pkg: 'postgresql-15', path: '/usr/lib/postgresql/15/bin/postgres' },
  { pkg: 'curl', path: '/usr/bin/curl' },
];

export async function ensurePackages(log: (line: string) => void): Promise<void> {
  const missing = NEEDS.filter((n) => !existsSync(n.path)).map((n) => n.pkg);
  if (missing.length === 0) return;
  log(`installing ${missing.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
  const still = NEEDS.filter((n) => !existsSync(n.path));
  if (still.length > 0) throw new Error(`apt-get did not provide ${still.map((n) => n.path).join(', ')}`);
}
