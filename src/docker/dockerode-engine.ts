/** DockerEngine over dockerode, honouring DOCKER_HOST. */
import { PassThrough, Writable, type Duplex, type Readable } from 'node:stream';
import { createRequire } from 'node:module';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import type { DockerHost } from '../config/index.js';
import { DockerError, ErrorCode, TimeoutError, UpgradeBotError } from '../common/errors.js';
import { parseImageRef } from './compose/image-ref.js';
import { specFromInspect } from './container-spec.js';
import { DemuxStdout, demuxBuffer } from './demux.js';
import type {
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

export interface RegistryAuth {
  username: string;
  password: string;
}

const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;

/** dockerode (and ssh2 under it) takes a fifth of a second to load: only when Docker is first asked. */
const load = (): typeof Docker => createRequire(import.meta.url)('dockerode') as typeof Docker;

export class DockerodeEngine implements DockerEngine {
  private client: Docker | undefined;

  constructor(
    private readonly host: DockerHost,
    private readonly registryAuth?: RegistryAuth,
    private readonly clock: { now(): number; sleep(ms: number): Promise<void> } = realClock,
  ) {}

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
      const data = (await this.docker.getImage(ref).distribution({ authconfig: this.authFor(ref) } as object)) as {
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
      () => this.docker.pull(ref, { authconfig: this.authFor(ref) }) as Promise<NodeJS.ReadableStream>,
      `pull ${ref}`,
    );
    await new Promise<void>((resolve, reject) => {
      let failure: string | undefined;
      this.docker.modem.followProgress(
        stream,
        (err: Error | null) => {
          if (err) reject(this.wrap(err, `pull ${ref}`));
          else if (failure) reject(new DockerError(ErrorCode.DockerRequestFailed, `pull ${ref} failed: ${failure}`));
          else resolve();
        },
        (event: { status?: string; id?: string; error?: string; errorDetail?: { message?: string }; progressDetail?: { current?: number; total?: number } }) => {
          if (event.error || event.errorDetail) {
            failure ??= event.errorDetail?.message ?? event.error;
            return;
          }
          onProgress?.({
            image: ref,
            layer: event.id,
            status: event.status ?? '',
            current: event.progressDetail?.current,
            total: event.progressDetail?.total,
          });
        },
      );
    });
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

  private authFor(ref: string): Record<string, string> | undefined {
    if (!this.registryAuth) return undefined;
    const name = parseImageRef(ref).name;
    const first = name.split('/')[0] ?? '';
    const serveraddress = name.includes('/') && /[.:]|^localhost$/.test(first) ? first : 'https://index.docker.io/v1/';
    return { username: this.registryAuth.username, password: this.registryAuth.password, serveraddress };
  }

  private async call<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.wrap(err, what);
    }
  }

  private async orUndefined<T>(fn: () => Promise<T>, what: string): Promise<T | undefined> {
    try {
      return await fn();
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

function isMissingManifest(err: unknown): boolean {
  const e = err as ModemError;
  const text = messageOf(err);
  return e.statusCode === 404 || e.statusCode === 401 || /manifest unknown|not found|does not exist/i.test(text);
}

/**
 * Pipes `input` into the hijacked connection with backpressure and, at its end, half-closes
 * the connection (shutdown of the write side only): the Engine then closes the process's
 * stdin while its output keeps coming back on the read side.
 */
class StdinFeeder {
  private inputError: Error | undefined;
  private finished = false;
  private readonly done: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly input: Readable,
    private readonly connection: Duplex,
  ) {
    this.done = new Promise<void>((resolve) => {
      this.finish = () => {
        if (this.finished) return;
        this.finished = true;
        this.input.unpipe(this.connection);
        resolve();
      };
    });
    input.once('error', (err: Error) => {
      this.inputError = err;
      // The process must not take a truncated input for a whole one.
      connection.destroy(err);
      this.finish();
    });
    input.once('end', () => {
      connection.end();
      this.finish();
    });
    // The process went away (or the Engine closed) before all of the input was sent.
    connection.once('close', () => this.finish());
    input.pipe(connection, { end: false });
  }

  /** Stops feeding (once the output has ended) and frees both ends; the input's error, if any. */
  async stop(): Promise<Error | undefined> {
    this.finish();
    await this.done;
    if (!this.input.readableEnded && !this.input.destroyed) this.input.destroy();
    if (!this.connection.destroyed) this.connection.destroy();
    return this.inputError;
  }
}

/**
 * The read side of a connection that is also being written to. A process that exits before
 * reading all of its stdin makes the Engine close the connection with our data unread, and
 * the kernel reports that as a reset (or our next write as a broken pipe) after the output
 * already queued: that is the end of the output, and the exit code says how the process
 * fared. Any other error ends the output with that error.
 */
function readSideOf(connection: Duplex): Readable {
  const out = new PassThrough();
  const dropped = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_WRITE_AFTER_END', 'ERR_STREAM_DESTROYED']);
  const endOnce = (err?: Error): void => {
    if (out.writableEnded || out.destroyed) return;
    if (err && !dropped.has((err as NodeJS.ErrnoException).code ?? '')) out.destroy(err);
    else out.end();
  };
  connection.on('error', endOnce);
  connection.once('close', () => endOnce());
  connection.pipe(out);
  return out;
}

class Collector {
  private chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;
  constructor(private readonly cap: number) {}
  add(chunk: Buffer): void {
    if (this.size >= this.cap) {
      this.truncated = true;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }
  writable(): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.add(chunk);
        done();
      },
    });
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8') + (this.truncated ? '\n[output truncated]' : '');
  }
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

