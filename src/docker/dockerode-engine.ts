/** DockerEngine over dockerode, honouring DOCKER_HOST. */
import type { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import type { DockerHost } from '../config/index.js';
import { BuildFailedError, DockerError, ErrorCode, TimeoutError, UpgradeBotError } from '../common/errors.js';
import { packContext } from './build-context.js';
import { followJson, type JsonMessage } from './json-stream.js';
import type { RegistryCredentials } from './registry-auth.js';
import { parseImageRef } from './compose/image-ref.js';
import { specFromInspect } from './container-spec.js';
import { DemuxStdout, demuxBuffer } from './demux.js';
import { Collector, StdinFeeder, readSideOf } from './exec-io.js';
import { RestartTolerance } from './restart-tolerance.js';
import type {
  BuildImageOptions,
  BuiltImage,
  ContainerInspect,
  ContainerSpec,
  ContainerSummary,
  DockerEngine,
  ExecOptions,
  ExecResult,
  ImageInspect,
  ImageSummary,
  LogLine,
  PullProgress,
  RegistryManifest,
} from './engine.js';

interface ModemError extends Error {
  statusCode?: number;
  json?: { message?: string } | string | null;
  reason?: string;
}

const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;

/** dockerode (and ssh2 under it) takes a fifth of a second to load: only when Docker is first asked. */
const load = (): typeof Docker => createRequire(import.meta.url)('dockerode') as typeof Docker;

export class DockerodeEngine implements DockerEngine {
  private client: Docker | undefined;
  private readonly restarts: RestartTolerance;

  constructor(
    private readonly host: DockerHost,
    private readonly auth?: RegistryCredentials,
    private readonly clock: { now(): number; sleep(ms: number): Promise<void> } = realClock,
  ) {
    this.restarts = new RestartTolerance(clock);
  }

  private get docker(): Docker {
    if (!this.client) {
      const Client = load();
      const host = this.host;
      this.client = host.kind === 'socket' ? new Client({ socketPath: host.socketPath }) : new Client({ host: host.host, port: host.port, protocol: host.protocol });
    }
    return this.client;
  }

  private get where(): string {
    return this.host.kind === 'socket' ? `unix://${this.host.socketPath}` : `${this.host.protocol}://${this.host.host}:${this.host.port}`;
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new DockerError(ErrorCode.DockerUnavailable, `Docker is not reachable at ${this.where}: ${messageOf(err)}`, {
        cause: err,
        hint: 'Check DOCKER_HOST and that this user may use the Docker socket.',
      });
    }
  }

  async inspectContainer(idOrName: string): Promise<ContainerInspect | undefined> {
    return this.orUndefined(() => this.docker.getContainer(idOrName).inspect(), `inspect container ${idOrName}`);
  }

  async findContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const list = await this.call(
      () => this.docker.listContainers({ all: true, filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } }),
      'list containers',
    );
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      image: c.Image,
      imageId: c.ImageID,
      state: c.State,
      labels: c.Labels ?? {},
    }));
  }

  async inspectImage(ref: string): Promise<ImageInspect | undefined> {
    return this.orUndefined(() => this.docker.getImage(ref).inspect(), `inspect image ${ref}`);
  }

  async listImages(repository?: string): Promise<ImageSummary[]> {
    const list = await this.call(
      () => this.docker.listImages(repository ? { filters: { reference: [repository] } } : {}),
      'list images',
    );
    return list.map((i) => ({
      id: i.Id,
      tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
      created: new Date(i.Created * 1000),
      size: i.Size,
    }));
  }

  async registryManifest(ref: string): Promise<RegistryManifest | undefined> {
    try {
      const data = (await this.docker.getImage(ref).distribution({ authconfig: this.auth?.for(ref) } as object)) as {
        Descriptor?: { digest?: string };
        Platforms?: Array<{ architecture: string; os: string }>;
      };
      return { digest: data.Descriptor?.digest ?? '', platforms: data.Platforms ?? [] };
    } catch (err) {
      if (isMissingManifest(err)) return undefined;
      throw this.wrap(err, `ask the registry about ${ref}`);
    }
  }

  async pull(ref: string, onProgress?: (p: PullProgress) => void): Promise<void> {
    const stream = await this.call(
      () => this.docker.pull(ref, { authconfig: this.auth?.for(ref) }) as Promise<NodeJS.ReadableStream>,
      `pull ${ref}`,
    );
    const { error } = await this.call(() => followJson(this.docker.modem, stream, (m) => !m.error && !m.errorDetail && onProgress?.(progressOf(ref, m))), `pull ${ref}`);
    if (error) throw new DockerError(ErrorCode.DockerRequestFailed, `pull ${ref} failed: ${error}`, authHint(error, this.auth?.describe(ref)));
  }

  async buildImage(opts: BuildImageOptions): Promise<BuiltImage> {
    const dockerfile = opts.dockerfile ?? 'Dockerfile';
    const what = `build ${opts.tags[0] ?? opts.context}`;
    const context = packContext(opts.context, dockerfile);
    const stream = await this.call(
      () =>
        this.docker.buildImage(context.stream as unknown as NodeJS.ReadableStream, {
          t: opts.tags,
          dockerfile,
          buildargs: opts.buildArgs ?? {},
          rm: true,
          forcerm: true,
          // Credentials for the FROM images, as `docker build` sends them.
          ...(this.auth ? { registryconfig: this.auth.registryConfig(opts.tags) } : {}),
        } as unknown as Docker.ImageBuildOptions) as Promise<NodeJS.ReadableStream>,
      what,
    );
    let step: string | undefined;
    let imageId: string | undefined;
    const output: string[] = [];
    const { error } = await this.call(
      () =>
        followJson(this.docker.modem, stream, (m) => {
          if (typeof m.aux?.ID === 'string') imageId = m.aux.ID;
          for (const line of (m.stream ?? '').split('\n').map((l) => l.trimEnd())) {
            if (line.trim() === '') continue;
            if (/^Step \d+\/\d+ : /.test(line)) {
              step = line;
              output.length = 0;
              opts.onLine?.({ kind: 'step', text: line });
            } else {
              imageId = /^Successfully built ([0-9a-f]{12,})$/.exec(line)?.[1] ?? imageId;
              output.push(line);
              if (output.length > 20) output.shift();
              opts.onLine?.({ kind: 'output', text: line });
            }
          }
        }),
      what,
    );
    if (error) throw new BuildFailedError(step, error, output.filter((l) => !/^ ---> /.test(l)).slice(-10));
    const built = await this.inspectImage(opts.tags[0] ?? imageId ?? '');
    if (!built) throw new DockerError(ErrorCode.DockerRequestFailed, `${what}: the Engine reported no error, but the image is not there`);
    return { imageId: built.Id, contextBytes: context.bytes() };
  }

  async createContainer(body: Record<string, unknown>): Promise<string> {
    const created = await this.call(() => this.docker.createContainer(body as Docker.ContainerCreateOptions), `create container ${String(body.name ?? '')}`);
    return created.id;
  }

  async discardContainer(idOrName: string): Promise<void> {
    await this.orUndefined(() => this.docker.getContainer(idOrName).remove({ force: true, v: true }), `remove container ${idOrName}`);
  }

  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    await this.call(() => this.docker.createVolume({ Name: name, Labels: labels }), `create volume ${name}`);
  }

  async removeVolume(name: string): Promise<void> {
    await this.orUndefined(() => this.docker.getVolume(name).remove(), `remove volume ${name}`);
  }

  async listVolumes(label: string): Promise<string[]> {
    const r = await this.call(() => this.docker.listVolumes({ filters: { label: [label] } }), 'list volumes');
    return (r.Volumes ?? []).map((v) => v.Name);
  }

  async createNetwork(name: string, opts: { internal: boolean; labels: Record<string, string> }): Promise<void> {
    await this.call(() => this.docker.createNetwork({ Name: name, Internal: opts.internal, Labels: opts.labels, CheckDuplicate: true }), `create network ${name}`);
  }

  async removeNetwork(name: string): Promise<void> {
    await this.orUndefined(() => this.docker.getNetwork(name).remove(), `remove network ${name}`);
  }

  async listNetworks(label: string): Promise<string[]> {
    const r = await this.call(() => this.docker.listNetworks({ filters: { label: [label] } }), 'list networks');
    return r.map((n) => n.Name);
  }

  async tagImage(source: string, ref: string): Promise<void> {
    const { name, tag } = parseImageRef(ref);
    await this.call(() => this.docker.getImage(source).tag({ repo: name, tag: tag ?? 'latest' }), `tag ${source} as ${ref}`);
  }

  async pushImage(ref: string, onProgress?: (p: PullProgress) => void): Promise<{ digest: string }> {
    const { name, tag } = parseImageRef(ref);
    // The Engine wants an X-Registry-Auth header even for an anonymous push: `{}` then.
    const stream = await this.call(
      () => this.docker.getImage(name).push({ tag: tag ?? 'latest', authconfig: this.auth?.for(ref) ?? {} }) as Promise<NodeJS.ReadableStream>,
      `push ${ref}`,
    );
    let digest: string | undefined;
    const { error } = await this.call(
      () =>
        followJson(this.docker.modem, stream, (m) => {
          if (typeof m.aux?.Digest === 'string') digest = m.aux.Digest;
          digest ??= /digest: (sha256:[0-9a-f]{64})/.exec(m.status ?? '')?.[1];
          if (!m.error && !m.errorDetail) onProgress?.(progressOf(ref, m));
        }),
      `push ${ref}`,
    );
    if (error) throw new DockerError(ErrorCode.DockerRequestFailed, `push ${ref} failed: ${error}`, authHint(error, this.auth?.describe(ref)));
    if (!digest) throw new DockerError(ErrorCode.DockerRequestFailed, `push ${ref}: the Engine did not report the digest the registry stored`);
    return { digest };
  }

  async removeImage(ref: string): Promise<void> {
    await this.call(() => this.docker.getImage(ref).remove({ noprune: false }), `remove image ${ref}`);
  }

  async stopContainer(idOrName: string, timeoutS: number): Promise<'stopped' | 'already-stopped'> {
    try {
      await this.docker.getContainer(idOrName).stop({ t: timeoutS });
      return 'stopped';
    } catch (err) {
      if ((err as ModemError).statusCode === 304) return 'already-stopped';
      throw this.wrap(err, `stop container ${idOrName}`);
    }
  }

  async startContainer(idOrName: string): Promise<void> {
    try {
      await this.docker.getContainer(idOrName).start();
    } catch (err) {
      if ((err as ModemError).statusCode === 304) return;
      throw this.wrap(err, `start container ${idOrName}`);
    }
  }

  async removeContainer(idOrName: string): Promise<void> {
    await this.call(() => this.docker.getContainer(idOrName).remove({ v: false, force: false }), `remove container ${idOrName}`);
  }

  async captureSpec(idOrName: string): Promise<ContainerSpec> {
    const container = await this.inspectContainer(idOrName);
    if (!container) throw new DockerError(ErrorCode.NotFound, `container ${idOrName} does not exist`);
    const image = await this.inspectImage(container.Image);
    if (!image) {
      throw new DockerError(ErrorCode.NotFound, `the image of container ${idOrName} (${container.Image}) is gone; cannot tell its own settings from the image's`);
    }
    return specFromInspect(container, image);
  }

  async createFromSpec(spec: ContainerSpec, ref: string): Promise<string> {
    const created = await this.call(
      () => this.docker.createContainer({ ...(spec.create as Docker.ContainerCreateOptions), Image: ref, name: spec.name }),
      `create container ${spec.name} from ${ref}`,
    );
    for (const net of spec.extraNetworks) {
      await this.call(
        () => this.docker.getNetwork(net.name).connect({ Container: created.id, EndpointConfig: net.endpoint }),
        `connect ${spec.name} to network ${net.name}`,
      );
    }
    return created.id;
  }

  async exec(idOrName: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const container = this.docker.getContainer(idOrName);
    const what = `exec ${cmd[0] ?? ''} in ${idOrName}`;
    const withStdin = opts.stdin !== undefined;
    const exec = await this.call(
      () =>
        container.exec({
          Cmd: cmd,
          AttachStdin: withStdin,
          AttachStdout: true,
          AttachStderr: true,
          ...(opts.user ? { User: opts.user } : {}),
          ...(opts.env ? { Env: opts.env } : {}),
        }),
      what,
    );
    // hijack: the Engine answers 101 and hands over the raw connection; stdin, when asked
    // for, makes docker-modem leave the request open so that we write into that connection.
    const stream = await this.call(() => exec.start({ hijack: true, stdin: withStdin }), what);
    const feeder = opts.stdin ? new StdinFeeder(opts.stdin, stream) : undefined;
    const cap = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const stderr = new Collector(cap);
    const stdout = opts.stdout ? undefined : new Collector(cap);
    const sink: Writable = opts.stdout ?? stdout!.writable();
    const demux = new DemuxStdout((chunk) => stderr.add(chunk));
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => stream.destroy(new TimeoutError(`${what} did not finish within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    let outputError: unknown;
    try {
      await pipeline(feeder ? readSideOf(stream) : stream, demux, sink);
    } catch (err) {
      outputError = err;
    } finally {
      clearTimeout(timer);
    }
    if (feeder) {
      // The output ends when the process has exited: whatever it did not read is dropped.
      const inputError = await feeder.stop();
      if (inputError) {
        throw new UpgradeBotError(ErrorCode.Unknown, `${what}: could not read the input to send: ${messageOf(inputError)}`, { cause: inputError });
      }
    }
    if (outputError !== undefined) throw outputError;
    const exitCode = await this.execExitCode(exec, what);
    return { exitCode, stdout: stdout?.text() ?? '', stderr: stderr.text() };
  }

  /** The stream ends as the process exits; inspect can lag a moment behind. */
  private async execExitCode(exec: Docker.Exec, what: string): Promise<number> {
    const deadline = this.clock.now() + 10_000;
    for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
      const info = await this.call(() => exec.inspect(), what);
      if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) return info.ExitCode;
      if (this.clock.now() > deadline) throw new TimeoutError(`${what}: the Engine did not report an exit code`);
      await this.clock.sleep(delay);
    }
  }

  async logs(idOrName: string, opts: { since?: Date; tail?: number } = {}): Promise<LogLine[]> {
    const container = this.docker.getContainer(idOrName);
    const info = await this.inspectContainer(idOrName);
    if (!info) throw new DockerError(ErrorCode.NotFound, `container ${idOrName} does not exist`);
    const raw = (await this.call(
      () =>
        container.logs({
          stdout: true,
          stderr: true,
          follow: false,
          timestamps: true,
          ...(opts.since ? { since: Math.floor(opts.since.getTime() / 1000) } : {}),
          ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
        }),
      `read logs of ${idOrName}`,
    )) as unknown as Buffer;
    const { stdout, stderr } = demuxBuffer(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)), Boolean(info.Config.Tty));
    const lines = [...toLines(stdout, 'stdout'), ...toLines(stderr, 'stderr')];
    const since = opts.since?.getTime();
    return lines
      .filter((l) => since === undefined || l.time === undefined || l.time.getTime() >= since)
      .sort((a, b) => (a.time?.getTime() ?? 0) - (b.time?.getTime() ?? 0));
  }

  private async call<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await this.restarts.run(fn, false);
    } catch (err) {
      throw this.wrap(err, what);
    }
  }

  /** For reads (inspect) and idempotent removals: a 404 is `undefined`. */
  private async orUndefined<T>(fn: () => Promise<T>, what: string): Promise<T | undefined> {
    try {
      return await this.restarts.run(fn, true);
    } catch (err) {
      if ((err as ModemError).statusCode === 404) return undefined;
      throw this.wrap(err, what);
    }
  }

  private wrap(err: unknown, what: string): DockerError {
    if (err instanceof DockerError || err instanceof TimeoutError) return err as DockerError;
    const e = err as ModemError;
    if (e.statusCode === undefined && /ECONNREFUSED|ENOENT|EACCES|ECONNRESET|socket hang up/.test(String(e.message))) {
      return new DockerError(ErrorCode.DockerUnavailable, `Docker is not reachable at ${this.where} (${what}): ${messageOf(err)}`, {
        cause: err,
      });
    }
    const code = e.statusCode === 404 ? ErrorCode.NotFound : ErrorCode.DockerRequestFailed;
    return new DockerError(code, `could not ${what}: ${messageOf(err)}`, {
      cause: err,
      ...(e.statusCode !== undefined ? { statusCode: e.statusCode } : {}),
    });
  }
}

const realClock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };

function messageOf(err: unknown): string {
  const e = err as ModemError;
  const json = e?.json;
  if (json && typeof json === 'object' && typeof json.message === 'string') return json.message;
  if (typeof json === 'string' && json.trim() !== '') return json.trim();
  return e instanceof Error ? e.message.replace(/^\(HTTP code \d+\) [a-z ]+ - /, '') : String(err);
}

function progressOf(ref: string, m: JsonMessage): PullProgress {
  return { image: ref, layer: m.id, status: m.status ?? '', current: m.progressDetail?.current, total: m.progressDetail?.total };
}

/** A registry that refused the credentials (or wanted some): say which were used, never the password. */
function authHint(error: string, used: string | undefined): { hint?: string } {
  if (!/unauthori[sz]ed|authentication required|denied|no basic auth credentials|401/i.test(error)) return {};
  return { hint: `The registry refused the credentials used: ${used ?? 'none (anonymous)'}. Check REGISTRY_USER and REGISTRY_PASSWORD (or \`docker login\` for the user the bot runs as).` };
}

function isMissingManifest(err: unknown): boolean {
  const e = err as ModemError;
  const text = messageOf(err);
  return e.statusCode === 404 || e.statusCode === 401 || /manifest unknown|not found|does not exist/i.test(text);
}

function toLines(buf: Buffer, stream: 'stdout' | 'stderr'): LogLine[] {
  const out: LogLine[] = [];
  for (const line of buf.toString('utf8').split('\n')) {
    if (line === '') continue;
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (.*)$/.exec(line);
    if (m) out.push({ stream, time: new Date(m[1]!), text: m[2]!.replace(/\r$/, '') });
    else out.push({ stream, time: undefined, text: line.replace(/\r$/, '') });
  }
  return out;
}

