/**
 * Asking compose itself what a later `up -d` would compare: the config hash of each service
 * (and, for the Go flavour, the image ID it labels containers with). Never throws: when no
 * suitable compose command runs, the answer says why, and callers fall back to a guess.
 */
import { hashCommand, parseHashes, type ComposeProject } from './hash.js';
import { composeEnv, runCommand, type CommandRunner } from './run.js';
import { chooseComposeCli, describeCli, type ComposeCli } from './select.js';

export { candidatesFor, chooseComposeCli, describeCli, flavourOf, type ComposeCli, type ComposeFlavour } from './select.js';
export { hashCommand, parseHashes, type ComposeProject } from './hash.js';
export { composeEnv, runCommand, type CommandRunner, type CommandResult } from './run.js';

export const COMPOSE_HASH_LABEL = 'com.docker.compose.config-hash';
/** The image ID the Go flavour labels a container with, and compares at `up`. */
export const COMPOSE_IMAGE_LABEL = 'com.docker.compose.image';
export const COMPOSE_VERSION_LABEL = 'com.docker.compose.version';

export type Hashing = { cli: string; flavour: ComposeCli['flavour']; hashes: Record<string, string> } | { unavailable: string };

export interface ComposeToolOptions {
  /** COMPOSE_CLI split on spaces. */
  override: string[] | undefined;
  /** DOCKER_HOST as configured: compose must ask the same engine (docker-compose 1.x hashes the image ID). */
  dockerHost: string;
  run?: CommandRunner;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export class ComposeTool {
  private readonly run: CommandRunner;
  private readonly env: NodeJS.ProcessEnv;
  private readonly timeoutMs: number;
  /** A command found once is kept for the process's life; a miss is looked for again next time. */
  private readonly found = new Map<string, ComposeCli>();

  constructor(private readonly opts: ComposeToolOptions) {
    this.run = opts.run ?? runCommand;
    this.env = composeEnv(opts.dockerHost, opts.env);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** The hashes compose gives `services` of `project`, with the command of the flavour that created the containers (`createdBy`). */
  async hashes(createdBy: string | undefined, project: ComposeProject, services: string[]): Promise<Hashing> {
    const key = `${this.opts.override?.join(' ') ?? ''}|${createdBy ?? ''}`;
    let cli = this.found.get(key);
    if (!cli) {
      const choice = await chooseComposeCli({ override: this.opts.override, createdBy, probe: (argv) => this.version(argv, project.workingDir) });
      if ('unavailable' in choice) return choice;
      cli = choice.cli;
      this.found.set(key, cli);
    }
    const argv = hashCommand(cli, project, services);
    const r = await this.run(argv, { cwd: project.workingDir, env: this.env, timeoutMs: this.timeoutMs });
    const shown = `${cli.argv.join(' ')} config --hash`;
    if (r.code !== 0) {
      this.found.delete(key);
      return { unavailable: `\`${shown}\` failed${r.code > 0 ? ` (exit code ${r.code})` : ''}: ${firstLine(r.stderr) || 'no message'}` };
    }
    try {
      return { cli: describeCli(cli), flavour: cli.flavour, hashes: parseHashes(r.stdout, services) };
    } catch (err) {
      return { unavailable: `\`${shown}\` gave ${(err as Error).message}` };
    }
  }

  private async version(argv: string[], cwd: string): Promise<string | undefined> {
    const r = await this.run([...argv, 'version', '--short'], { cwd, env: this.env, timeoutMs: this.timeoutMs });
    const text = r.stdout.trim();
    return r.code === 0 && /^v?\d+\.\d+/.test(text) ? text : undefined;
  }
}

function firstLine(text: string): string {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
