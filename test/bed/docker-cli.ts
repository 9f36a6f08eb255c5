/**
 * The docker CLI as the bed drives it: /usr/bin/docker (the 20.10 client) against the bed's
 * engine, with its own config folder. The legacy builder unless BuildKit is asked for.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.js';

const DOCKER = '/usr/bin/docker';

export interface DockerCliOptions {
  dockerHost: string;
  workDir: string;
  log: (line: string) => void;
}


export class DockerCli {
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly opts: DockerCliOptions) {
    const config = join(opts.workDir, 'docker-config');
    mkdirSync(config, { recursive: true });
    this.env = { ...process.env, DOCKER_HOST: opts.dockerHost, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: config };
  }

  async run(args: string[], extra: { input?: string; allowFailure?: boolean; quiet?: boolean } = {}): Promise<string> {
    try {
      const { quiet, ...runOpts } = extra;
      const result = await run(DOCKER, args, { env: this.env, ...runOpts });
      if (result.code !== 0 && !quiet) this.opts.log(`docker ${args[0]} exited ${result.code}: ${result.stderr.trim()}`);
      return result.stdout;
    } catch (err) {
      throw new Error(`docker ${args[0]} failed (DOCKER_HOST=${this.opts.dockerHost}): ${(err as Error).message}`);
    }
  }

  /** Builds from a context directory, or from a Dockerfile alone (no context). */
  async build(
    tags: string | string[],
    from: { context: string; file?: string; buildArgs?: Record<string, string> } | { dockerfile: string },
  ): Promise<void> {
    const args = ['build', '--quiet', '--force-rm'];
    for (const t of Array.isArray(tags) ? tags : [tags]) args.push('--tag', t);
    if ('dockerfile' in from) {
      await this.run([...args, '-'], { input: from.dockerfile + '\n' });
      return;
    }
    if (from.file) args.push('--file', join(from.context, from.file));
    for (const [k, v] of Object.entries(from.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
    await this.run([...args, from.context]);
  }

  /** A BuildKit build of a real Dockerfile (multi-stage, RUN --mount), its output kept for a failure. */
  async buildKit(tag: string, from: { context: string; file: string; buildArgs?: Record<string, string> }): Promise<void> {
    // --network none: the bed's engine has no bridge, and nothing here may reach out anyway.
    const args = ['build', '--progress', 'plain', '--network', 'none', '--tag', tag, '--file', from.file];
    for (const [k, v] of Object.entries(from.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
    const result = await run(DOCKER, [...args, from.context], { env: { ...this.env, DOCKER_BUILDKIT: '1' }, allowFailure: true });
    if (result.code !== 0) throw new Error(`docker build (BuildKit) of ${tag} failed:\n${(result.stdout + result.stderr).trim().split('\n').slice(-30).join('\n')}`);
  }

  async push(ref: string): Promise<void> {
    await this.run(['push', '--quiet', ref]);
  }

  async sizeOf(ref: string): Promise<string> {
    const bytes = Number((await this.run(['image', 'inspect', '--format', '{{.Size}}', ref])).trim());
    return `${(bytes / 1e6).toFixed(1)} MB`;
  }
}
