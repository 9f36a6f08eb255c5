/**
 * Finds the deployment the bot looks after: the compose file(s), the compose project, and
 * for the app and db services their image as the compose file pins it and the container
 * that runs it (by name, else by compose labels of project and service).
 */
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { ComposeError, DockerError, ErrorCode } from '../common/errors.js';
import { composeFilesFrom, parseImageRef, readServiceImage, type ComposeFiles, type ServiceImage } from './compose/index.js';
import type { ContainerInspect, DockerEngine } from './engine.js';

export const COMPOSE_LABELS = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  configFiles: 'com.docker.compose.project.config_files',
  workingDir: 'com.docker.compose.project.working_dir',
} as const;

export type Role = 'app' | 'db';

export interface ServiceTarget {
  role: Role;
  service: string;
  /** The image as the compose file(s) pin it. */
  compose: ServiceImage;
  /** Image repository without tag: APP_IMAGE / DB_IMAGE, else the compose file's. */
  repository: string;
  /** Container name used to find it; undefined when found by labels. */
  containerName: string | undefined;
  /** The container, when one exists. */
  container: ContainerInspect | undefined;
}

export interface Deployment {
  files: ComposeFiles;
  project: string;
  app: ServiceTarget;
  db: ServiceTarget;
}

/** docker-compose's own rule for a project name taken from a folder. */
export function projectNameFromDir(dir: string): string {
  return basename(dir).toLowerCase().replace(/[^-_a-z0-9]/g, '');
}

export async function resolveDeployment(config: Config, engine: DockerEngine): Promise<Deployment> {
  await engine.ping();
  const appByLabel = config.compose.files && config.app.container ? undefined : await findByLabels(engine, config.compose.projectName, config.app.service);
  const files = config.compose.files ? { ...composeFilesFrom(config.compose.files.join(':')) } : filesFromLabels(appByLabel, config);
  const project =
    config.compose.projectName ?? appByLabel?.Config.Labels?.[COMPOSE_LABELS.project] ?? projectNameFromDir(dirname(files.files[0]!));
  const target = async (role: Role): Promise<ServiceTarget> => {
    const settings = role === 'app' ? config.app : config.db;
    const compose = await readServiceImage(files, settings.service);
    const containerName = settings.container ?? compose.containerName;
    const container = containerName
      ? await engine.inspectContainer(containerName)
      : role === 'app' && appByLabel && appByLabel.Config.Labels?.[COMPOSE_LABELS.project] === project
        ? appByLabel
        : await findByLabels(engine, project, settings.service);
    return {
      role,
      service: settings.service,
      compose,
      repository: settings.image ?? compose.ref.name,
      containerName,
      container,
    };
  };
  const deployment = { files, project, app: await target('app'), db: await target('db') };
  adoptDbUser(config, deployment.db.container);
  return deployment;
}

/**
 * DB_USER unset: the role is the one the official postgres image created from the container's
 * POSTGRES_USER (Mattermost's own deployment sets it in `.env`), else `postgres`.
 */
function adoptDbUser(config: Config, db: ContainerInspect | undefined): void {
  if (config.db.userSet) return;
  const fromEnv = db?.Config.Env?.find((e) => e.startsWith('POSTGRES_USER='))?.slice('POSTGRES_USER='.length);
  config.db.user = fromEnv || 'postgres';
}

async function findByLabels(engine: DockerEngine, project: string | undefined, service: string): Promise<ContainerInspect | undefined> {
  const labels: Record<string, string> = { [COMPOSE_LABELS.service]: service };
  if (project) labels[COMPOSE_LABELS.project] = project;
  const found = await engine.findContainers(labels);
  if (found.length === 0) return undefined;
  if (found.length > 1) {
    throw new DockerError(
      ErrorCode.BadInput,
      `${found.length} containers carry the compose labels of service "${service}"${project ? ` in project "${project}"` : ''}: ${found.map((c) => c.name).join(', ')}`,
      { hint: 'Set COMPOSE_PROJECT_NAME, or APP_CONTAINER / DB_CONTAINER, to say which one.' },
    );
  }
  return engine.inspectContainer(found[0]!.id);
}

function filesFromLabels(app: ContainerInspect | undefined, config: Config): ComposeFiles {
  const labels = app?.Config.Labels ?? {};
  const listed = labels[COMPOSE_LABELS.configFiles];
  if (!listed) {
    throw new ComposeError(
      ErrorCode.ComposeInvalid,
      app
        ? `container ${app.Name.replace(/^\//, '')} has no ${COMPOSE_LABELS.configFiles} label, so the compose file is unknown`
        : `no container of service "${config.app.service}" was found, so the compose file is unknown`,
      { hint: 'Set COMPOSE_FILE to the compose file(s) of the Mattermost deployment.' },
    );
  }
  const workingDir = labels[COMPOSE_LABELS.workingDir] ?? process.cwd();
  const paths = listed.split(',').map((f) => (isAbsolute(f) ? f : resolve(workingDir, f)));
  return composeFilesFrom(paths.join(':'));
}

/**
 * Whether the container runs what the compose file pins: the same reference, or another
 * tag of the very same image (a db tag that moved with the app onto an unchanged image).
 */
export async function runsPinnedImage(engine: DockerEngine, target: ServiceTarget): Promise<boolean> {
  const c = target.container;
  if (!c) return false;
  if (sameImage(c.Config.Image, target.compose.resolved)) return true;
  return (await engine.inspectImage(target.compose.resolved))?.Id === c.Image;
}

/** Compares two image references the way the Engine resolves them (docker.io/library/ implied, tag latest implied). */
export function sameImage(a: string, b: string): boolean {
  const norm = (ref: string): string => {
    const r = parseImageRef(ref);
    let name = r.name;
    const first = name.split('/')[0]!;
    const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
    if (!hasRegistry) name = `docker.io/${name.includes('/') ? name : `library/${name}`}`;
    return `${name}:${r.tag ?? 'latest'}${r.digest ? `@${r.digest}` : ''}`;
  };
  return norm(a) === norm(b);
}
