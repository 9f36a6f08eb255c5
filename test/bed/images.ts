/**
 * Builds the test bed's images FROM scratch out of files on this machine, pushes every tag to the
 * bed's registry, then removes the local copies so that the engine under test has to pull them.
 *
 *   <registry>/pica-mattermost-db                 PostgreSQL 15 (1.0.0; 1.1.0 = 2.0.0 = 1.2.0 =
 *                                                 1.3.0 = 1.4.0 = 1.6.0 = 1.1.1 = 1.7.0; 3.0.0 = 1.5.0 claim PostgreSQL 16)
 *   <registry>/postgres:15                        the same database, versioned on its own
 *   <registry>/pica-mattermost                    Mattermost stand-in, a team's own layout
 *   <registry>/mattermost/mattermost-team-edition Mattermost stand-in, Mattermost's image layout
 *     app tags: 1.0.0 1.1.0 1.1.1 2.0.0 3.0.0 1.5.0 healthy, 1.6.0 healthy with a 2 s migration;
 *     1.2.0 crash; 1.3.0 unhealthy; 1.4.0 damage; 1.7.0 healthy, then crashes 20 s after start
 *
 * Each kind has one base image built from a context under opts.workDir (big layers first);
 * every tag is then a tiny `FROM base` build (ENV/LABEL only), so tags share their layers.
 * Test code only: it drives /usr/bin/docker (20.10 client, legacy builder).
 */
import { build as esbuild } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './proc.js';
import { DockerCli } from './docker-cli.js';
import { Rootfs } from './rootfs.js';

export interface BedImages {
  registry: string;
  app: string;
  db: string;
  mmApp: string;
  postgres: string;
  appTags: { healthy: string[]; crash: string; unhealthy: string; damage: string };
}

export interface BuildOptions {
  dockerHost: string;
  registry: string;
  workDir: string;
  log: (line: string) => void;
}

export type FailMode = 'crash' | 'unhealthy' | 'damage';

/** App tags: each is its own build with its version baked in. */
export const APP_VARIANTS: ReadonlyArray<{ tag: string; failMode?: FailMode; migrationMs?: number; crashAfterMs?: number }> = [
  { tag: '1.0.0' },
  { tag: '1.1.0' },
  { tag: '2.0.0' },
  { tag: '3.0.0' },
  { tag: '1.5.0' },
  // A healthy minor release whose schema migration takes a known time (rehearsals measure it).
  { tag: '1.6.0', migrationMs: 2_000 },
  // A patch release of 1.1.0 (REHEARSAL=auto does not rehearse it).
  { tag: '1.1.1' },
  { tag: '1.2.0', failMode: 'crash' },
  // Healthy, then dies 20 s after it started serving (the watch window must catch it).
  { tag: '1.7.0', crashAfterMs: 20_000 },
  { tag: '1.3.0', failMode: 'unhealthy' },
  { tag: '1.4.0', failMode: 'damage' },
];

/** Database images: every tag of a row points at the same image ID. */
export const DB_VARIANTS: ReadonlyArray<{ version: string; tags: string[]; pgMajor?: string; pgVersion?: string }> = [
  { version: '1.0.0', tags: ['1.0.0'] },
  { version: '1.1.0', tags: ['1.1.0', '2.0.0', '1.2.0', '1.3.0', '1.4.0', '1.6.0', '1.1.1', '1.7.0'] },
  // A PostgreSQL major change the engine must refuse; never started (its entrypoint would refuse
  // a version-15 data directory anyway). 1.5.0 is a minor release that brings it: only the
  // PostgreSQL check stands in its way.
  { version: '3.0.0', tags: ['3.0.0', '1.5.0'], pgMajor: '16', pgVersion: '16.9' },
];

/** The two app layouts: a team's own image, and the layout of Mattermost's image. */
const APP_LAYOUTS = [
  { suffix: 'team', dockerfile: 'Dockerfile.team', title: 'pica-mattermost' },
  { suffix: 'mattermost', dockerfile: 'Dockerfile.mattermost', title: 'mattermost-team-edition' },
] as const;

/** The label carrying the PostgreSQL major version on pica-mattermost-db images. */
export const PG_MAJOR_LABEL = 'pica.postgres.major';
export const VERSION_LABEL = 'org.opencontainers.image.version';

const HERE = dirname(fileURLToPath(import.meta.url));
const IMAGE_FILES = join(HERE, 'images');
const SERVER_SOURCE = join(HERE, 'app', 'server.ts');
const CURL = '/usr/bin/curl';
const PG_HOME = '/usr/lib/postgresql/15';
const PG_SHARE = '/usr/share/postgresql/15';
/** Postgres modules left out: JIT (needs libLLVM, optional at run time), SELinux, build files. */
const PG_LIB_SKIP = new Set(['llvmjit.so', 'llvmjit_types.bc', 'sepgsql.so', 'bitcode', 'pgxs']);

export async function buildAndPushImages(opts: BuildOptions): Promise<BedImages> {
  const started = Date.now();
  const docker = new DockerCli(opts);
  const suffix = randomBytes(4).toString('hex');
  const images = bedImageNames(opts.registry);
  const dbBase = `bed-build/db-base:${suffix}`;
  const appBase = `bed-build/app-base:${suffix}`;
  const allRefs = Object.entries(bedImageTags(images)).flatMap(([repo, tags]) => tags.map((t) => `${repo}:${t}`));
  try {
    const db = await buildDbImages(docker, opts, images, dbBase);
    const app = await buildAppImages(docker, opts, images, appBase);
    opts.log(`images built in ${seconds(started)}`);

    const pushStart = Date.now();
    await pushAll(docker, [...db.refs, ...app.refs]);
    opts.log(`pushed ${db.refs.length + app.refs.length} tags in ${seconds(pushStart)}`);
  } finally {
    // Never leave local copies behind, even after a failure: the engine must pull. (Refs that
    // were never built just make rmi complain.)
    const bases = [dbBase, ...APP_LAYOUTS.map((l) => `${appBase}-${l.suffix}`)];
    await docker.run(['rmi', '--force', ...allRefs, ...bases], { allowFailure: true, quiet: true });
  }
  opts.log(`bed images ready in ${seconds(started)} (local copies removed)`);
  return images;
}

/** The image names and tags for a registry (what buildAndPushImages pushes there). */
export function bedImageNames(registry: string): BedImages {
  return {
    registry,
    app: `${registry}/pica-mattermost`,
    db: `${registry}/pica-mattermost-db`,
    mmApp: `${registry}/mattermost/mattermost-team-edition`,
    postgres: `${registry}/postgres`,
    appTags: {
      healthy: APP_VARIANTS.filter((v) => !v.failMode && !v.crashAfterMs).map((v) => v.tag),
      crash: tagFor('crash'),
      unhealthy: tagFor('unhealthy'),
      damage: tagFor('damage'),
    },
  };
}

/** Every reference buildAndPushImages pushes, grouped by repository. */
export function bedImageTags(images: BedImages): Record<string, string[]> {
  return {
    [images.db]: DB_VARIANTS.flatMap((v) => v.tags),
    [images.postgres]: ['15'],
    [images.app]: APP_VARIANTS.map((v) => v.tag),
    [images.mmApp]: APP_VARIANTS.map((v) => v.tag),
  };
}

function tagFor(mode: FailMode): string {
  const variant = APP_VARIANTS.find((v) => v.failMode === mode);
  if (!variant) throw new Error(`no app variant for ${mode}`);
  return variant.tag;
}

// -------------------------------------------------------------------------------------------
// The database images

async function buildDbImages(
  docker: DockerCli,
  opts: BuildOptions,
  images: BedImages,
  base: string,
): Promise<{ refs: string[] }> {
  const t0 = Date.now();
  const context = join(opts.workDir, 'db-context');
  rmSync(context, { recursive: true, force: true });
  const rootfs = new Rootfs(join(opts.workDir, 'db-rootfs'));

  const bins = readdirSync(join(PG_HOME, 'bin')).map((b) => join(PG_HOME, 'bin', b));
  const modules = readdirSync(join(PG_HOME, 'lib'))
    .filter((m) => !PG_LIB_SKIP.has(m))
    .map((m) => join(PG_HOME, 'lib', m));
  rootfs.tree(join(PG_HOME, 'bin'));
  rootfs.tree(join(PG_HOME, 'lib'), undefined, (path) => !PG_LIB_SKIP.has(basename(path)));
  rootfs.tree(PG_SHARE);
  rootfs.tree('/usr/share/zoneinfo');
  await rootfs.sharedLibrariesOf([...bins, ...modules.filter((m) => m.endsWith('.so'))]);
  await rootfs.busybox();
  rootfs.etc(
    [
      ['postgres', 999, 'PostgreSQL administrator', '/var/lib/postgresql'],
      ['nobody', 65534, 'nobody', '/nonexistent'],
    ],
    { postgres: 999, nogroup: 65534 },
  );
  rootfs.dir('/var/lib/postgresql', { uid: 999, gid: 999 });
  rootfs.dir('/var/lib/postgresql/data', { mode: 0o1777, uid: 999, gid: 999 });
  rootfs.dir('/var/run/postgresql', { mode: 0o3777, uid: 999, gid: 999 });
  rootfs.dir('/docker-entrypoint-initdb.d');

  mkdirSync(context, { recursive: true });
  await rootfs.tar(join(context, 'rootfs.tar'));
  copyFileSync(join(IMAGE_FILES, 'db', 'Dockerfile'), join(context, 'Dockerfile'));
  copyFileSync(join(IMAGE_FILES, 'db', 'docker-entrypoint.sh'), join(context, 'docker-entrypoint.sh'));
  chmodSync(join(context, 'docker-entrypoint.sh'), 0o755);

  const pgVersion = await postgresVersion();
  await docker.build(base, { context, buildArgs: { PG_VERSION: pgVersion } });
  opts.log(`db base image (PostgreSQL ${pgVersion}) built in ${seconds(t0)}, ${await docker.sizeOf(base)}`);

  const refs: string[] = [];
  for (const variant of DB_VARIANTS) {
    const pgMajor = variant.pgMajor ?? '15';
    const lines = [`FROM ${base}`];
    if (variant.pgMajor) {
      lines.push(
        `ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/${pgMajor}/bin ` +
          `PG_MAJOR=${pgMajor} PG_VERSION=${variant.pgVersion ?? `${pgMajor}.0`}`,
      );
    }
    lines.push(
      `LABEL ${VERSION_LABEL}="${variant.version}" org.opencontainers.image.title="pica-mattermost-db" ` +
        `${PG_MAJOR_LABEL}="${pgMajor}"`,
    );
    const tags = variant.tags.map((t) => `${images.db}:${t}`);
    await docker.build(tags, { dockerfile: lines.join('\n') });
    refs.push(...tags);
  }
  // postgres:15 as in Mattermost's own compose file: like the official image, no labels.
  const postgres15 = `${images.postgres}:15`;
  await docker.build(postgres15, { dockerfile: `FROM ${base}\n` });
  refs.push(postgres15);
  opts.log(`db images tagged: ${refs.length} tags`);
  return { refs };
}

async function postgresVersion(): Promise<string> {
  const { stdout } = await run(join(PG_HOME, 'bin', 'postgres'), ['--version']);
  const match = /\(PostgreSQL\)\s+(\d+\.\d+)/.exec(stdout);
  if (!match?.[1]) throw new Error(`cannot read the PostgreSQL version from "${stdout.trim()}"`);
  if (!match[1].startsWith('15.')) throw new Error(`expected PostgreSQL 15, found ${match[1]}`);
  return match[1];
}

// -------------------------------------------------------------------------------------------
// The app images (Mattermost stand-in)

async function buildAppImages(
  docker: DockerCli,
  opts: BuildOptions,
  images: BedImages,
  baseName: string,
): Promise<{ refs: string[] }> {
  const t0 = Date.now();
  const context = join(opts.workDir, 'app-context');
  rmSync(context, { recursive: true, force: true });
  mkdirSync(join(context, 'bundle'), { recursive: true });

  // Layer 1: node, curl (Mattermost's image has it: the rehearsal asks the copy through it;
  // busybox's static wget crashes), the libraries they link, busybox (sh for
  // /mattermost/bin/mattermost), /etc.
  const runtime = new Rootfs(join(opts.workDir, 'app-rootfs'));
  runtime.file(process.execPath, '/usr/local/bin/node', 0o755);
  runtime.file(CURL, '/usr/bin/curl', 0o755);
  await runtime.sharedLibrariesOf([process.execPath, CURL]);
  await runtime.busybox();
  runtime.etc([['mattermost', 2000, '', '/mattermost']], { mattermost: 2000 });
  await runtime.tar(join(context, 'runtime.tar'));

  // Layer 2: the bundle.
  await bundleServer(join(context, 'bundle', 'server.js'));
  copyFileSync(join(IMAGE_FILES, 'app', 'healthcheck.cjs'), join(context, 'bundle', 'healthcheck.js'));

  // Layer 3 of Mattermost's layout: bin/mattermost and the directories the real image owns.
  const layout = new Rootfs(join(opts.workDir, 'app-mattermost-layout'));
  layout.dir('/mattermost', { uid: 2000, gid: 2000 });
  layout.file(join(IMAGE_FILES, 'app', 'mattermost.sh'), '/mattermost/bin/mattermost', 0o755);
  for (const d of ['bin', 'config', 'data', 'logs', 'plugins', 'client', 'client/plugins', 'bleve-indexes']) {
    layout.dir(`/mattermost/${d}`, { uid: 2000, gid: 2000 });
  }
  await layout.tar(join(context, 'mattermost-layout.tar'));

  for (const l of APP_LAYOUTS) copyFileSync(join(IMAGE_FILES, 'app', l.dockerfile), join(context, l.dockerfile));

  const layouts = APP_LAYOUTS.map((l) => ({
    ...l,
    base: `${baseName}-${l.suffix}`,
    repo: l.suffix === 'team' ? images.app : images.mmApp,
  }));
  const refs: string[] = [];
  for (const l of layouts) {
    await docker.build(l.base, { context, file: l.dockerfile });
    opts.log(`app base image ${l.dockerfile} built, ${await docker.sizeOf(l.base)}`);
    for (const variant of APP_VARIANTS) {
      const env = [`MM_BUILD_VERSION=${variant.tag}`];
      if (variant.failMode) env.push(`MM_TEST_FAIL_MODE=${variant.failMode}`);
      if (variant.migrationMs) env.push(`MM_TEST_MIGRATION_MS=${variant.migrationMs}`);
      if (variant.crashAfterMs) env.push(`MM_TEST_CRASH_AFTER_MS=${variant.crashAfterMs}`);
      const dockerfile = [
        `FROM ${l.base}`,
        `ENV ${env.join(' ')}`,
        `LABEL ${VERSION_LABEL}="${variant.tag}" org.opencontainers.image.title="${l.title}"` +
          (variant.failMode ? ` pica.test.fail-mode="${variant.failMode}"` : ''),
      ].join('\n');
      const ref = `${l.repo}:${variant.tag}`;
      await docker.build(ref, { dockerfile });
      refs.push(ref);
    }
  }
  opts.log(`app images built in ${seconds(t0)}: ${refs.length} tags`);
  return { refs };
}

/** test/bed/app/server.ts → one CommonJS file with pg inside (pg-native stays an optional require). */
async function bundleServer(outfile: string): Promise<void> {
  try {
    await esbuild({
      entryPoints: [SERVER_SOURCE],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['pg-native'],
      legalComments: 'none',
      logLevel: 'silent',
    });
  } catch (err) {
    throw new Error(`esbuild could not bundle ${SERVER_SOURCE}: ${(err as Error).message}`);
  }
}

// -------------------------------------------------------------------------------------------
// Pushing

/**
 * One push at a time: Debian's registry (2.8, filesystem storage) answers 500 now and then
 * when several pushes link the same blobs at once. Tags after the first of a repository
 * only add a manifest, so this costs a few seconds.
 */
async function pushAll(docker: DockerCli, refs: string[]): Promise<void> {
  for (const ref of refs) await docker.push(ref);
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}
