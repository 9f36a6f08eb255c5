/**
 * An upstream checkout of Mattermost's Docker packaging, as `mm-upgrade build` reads it: the
 * `app` and `db` services of its docker-compose.yml and their `build:` (context, Dockerfile,
 * args), else the folders `app/` and `db/`. Other services (the `web` proxy) are not built.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BadInputError } from '../../common/errors.js';
import { parse as parseYaml } from '../../docker/compose/yaml.js';
import { readMmVersion, type VersionLine } from './upstream.js';

export type ImageRole = 'app' | 'db';

export interface ImageBuild {
  role: ImageRole;
  /** The compose service it comes from, or the folder's name. */
  service: string;
  /** Absolute path of the build context. */
  context: string;
  /** The Dockerfile, relative to the context. */
  dockerfile: string;
  /** The build arguments the compose file gives it. */
  args: Record<string, string>;
}

export interface Checkout {
  dir: string;
  app: ImageBuild;
  db: ImageBuild;
  /** Services with a build that are not built (the `web` proxy). */
  unused: string[];
  /** The app Dockerfile, and the version it builds. */
  appDockerfile: string;
  version: VersionLine | undefined;
}

const COMPOSE_NAMES = ['docker-compose.yml', 'docker-compose.yaml', 'compose.yml', 'compose.yaml'];
const EXPECTED = 'an upstream checkout of the Docker packaging: app/Dockerfile and db/Dockerfile, or a docker-compose.yml whose app and db services have a build';

export function readCheckout(path: string): Checkout {
  const dir = resolve(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BadInputError(`${dir} is not a folder: expected ${EXPECTED}`, 'Give the checkout with --context <dir> (or BUILD_CONTEXT).');
  const composeFile = COMPOSE_NAMES.map((n) => join(dir, n)).find((f) => existsSync(f));
  const services = composeFile ? buildsOf(composeFile) : {};
  const pick = (role: ImageRole): ImageBuild => {
    const b = services[role] ?? { role, service: role, context: join(dir, role), dockerfile: 'Dockerfile', args: {} };
    const file = join(b.context, b.dockerfile);
    if (!existsSync(file)) throw new BadInputError(`${file} does not exist: expected ${EXPECTED}`, 'Give the checkout with --context <dir> (or BUILD_CONTEXT).');
    return { ...b, role };
  };
  const app = pick('app');
  const db = pick('db');
  const appDockerfile = join(app.context, app.dockerfile);
  return {
    dir,
    app,
    db,
    unused: Object.keys(services).filter((s) => s !== 'app' && s !== 'db'),
    appDockerfile,
    version: readMmVersion(readFileSync(appDockerfile, 'utf8')),
  };
}

/** The services of a compose file that have a `build:`, keyed by service name. */
function buildsOf(file: string): Record<string, ImageBuild> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new BadInputError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const services = (doc as { services?: Record<string, { build?: unknown }> } | null)?.services ?? {};
  const base = join(file, '..');
  const out: Record<string, ImageBuild> = {};
  for (const [service, def] of Object.entries(services)) {
    const build = def?.build;
    if (typeof build === 'string') out[service] = { role: 'app', service, context: resolve(base, build), dockerfile: 'Dockerfile', args: {} };
    else if (build && typeof build === 'object') {
      const b = build as { context?: string; dockerfile?: string; args?: unknown };
      out[service] = { role: 'app', service, context: resolve(base, b.context ?? '.'), dockerfile: b.dockerfile ?? 'Dockerfile', args: argsOf(b.args) };
    }
  }
  return out;
}

/** `args:` as a list of `k=v` or a map (a bare `k` takes no value from the environment here: it is left out). */
function argsOf(args: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(args)) {
    for (const a of args) {
      const text = String(a);
      const eq = text.indexOf('=');
      if (eq > 0) out[text.slice(0, eq)] = text.slice(eq + 1);
    }
  } else if (args && typeof args === 'object') {
    for (const [k, v] of Object.entries(args)) if (v !== null && v !== undefined) out[k] = String(v);
  }
  return out;
}
