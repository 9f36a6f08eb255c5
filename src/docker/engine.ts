/**
 * The narrow interface the rest of the bot uses to talk to the Docker Engine. One
 * implementation (dockerode); tests run it against a real engine.
 */
import type { Readable, Writable } from 'node:stream';
import type Dockerode from 'dockerode';

export type ContainerInspect = Dockerode.ContainerInspectInfo;
export type ImageInspect = Dockerode.ImageInspectInfo;

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  imageId: string;
  state: string;
  labels: Record<string, string>;
}

export interface ImageSummary {
  id: string;
  tags: string[];
  created: Date;
  size: number;
}

export interface RegistryManifest {
  digest: string;
  platforms: Array<{ architecture: string; os: string }>;
}

export interface PullProgress {
  image: string;
  layer: string | undefined;
  status: string;
  current: number | undefined;
  total: number | undefined;
}

export interface ExecOptions {
  user?: string;
  env?: string[];
  /** Stream stdout here (with backpressure) instead of collecting it. */
  stdout?: Writable;
  /**
   * Feed this to the process's stdin (with backpressure); its end closes stdin, so the
   * process sees EOF. Consumed, or destroyed when the process exits before reading it all.
   */
  stdin?: Readable;
  /** Give up after this long (the process may go on inside the container). */
  timeoutMs?: number;
  /** Cap on collected output, per stream. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  exitCode: number;
  /** Empty when stdout was streamed. */
  stdout: string;
  stderr: string;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  time: Date | undefined;
  text: string;
}

/**
 * What it takes to create a container again with another image: the container's own
 * settings, with everything it merely inherited from its old image left out so that the
 * new image's defaults apply. Plain JSON, so it can be journaled.
 */
export interface ContainerSpec {
  name: string;
  /** The image reference it was created from, and that image's ID. */
  image: string;
  imageId: string;
  create: Record<string, unknown>;
  /** Networks to connect after creation (the Engine takes one at create time). */
  extraNetworks: Array<{ name: string; endpoint: Record<string, unknown> }>;
}

export interface BuildImageOptions {
  /** The folder sent as the build context (its `.dockerignore` honoured). */
  context: string;
  /** The Dockerfile, relative to the context. */
  dockerfile?: string;
  /** Every tag the image gets (`repo:X.Y.Z`, `repo:latest`). */
  tags: string[];
  buildArgs?: Record<string, string>;
  /** Each line of the build's output as it comes; `step` for a Dockerfile instruction ("Step 3/7 : ADD …"). */
  onLine?: (line: { kind: 'step' | 'output'; text: string }) => void;
}

export interface BuiltImage {
  imageId: string;
  /** Size of the context sent, after `.dockerignore`. */
  contextBytes: number;
}

export interface DockerEngine {
  /** Throws DockerError(DockerUnavailable) when the Engine does not answer. */
  ping(): Promise<void>;
  inspectContainer(idOrName: string): Promise<ContainerInspect | undefined>;
  findContainers(labels: Record<string, string>): Promise<ContainerSummary[]>;
  inspectImage(ref: string): Promise<ImageInspect | undefined>;
  listImages(repository?: string): Promise<ImageSummary[]>;
  /** The registry's manifest for `ref`, asked through the Engine (its auth and protocol); undefined when the tag does not exist. */
  registryManifest(ref: string): Promise<RegistryManifest | undefined>;
  pull(ref: string, onProgress?: (p: PullProgress) => void): Promise<void>;
  /** Removes a tag (the image too once it has no tag left); never forced: the Engine refuses (409) an image a container uses. */
  removeImage(ref: string): Promise<void>;
  /** Builds with the Engine's builder; a failing instruction throws BuildFailedError quoting it. */
  buildImage(opts: BuildImageOptions): Promise<BuiltImage>;
  /** Gives the image `source` (a reference or an ID) the tag `ref`. */
  tagImage(source: string, ref: string): Promise<void>;
  /**
   * Scratch resources (a rehearsal's): a container created from a raw Engine create body, a
   * volume, a network; found again by label; removed with their anonymous volumes. Never used
   * on production's containers, volumes or networks.
   */
  createContainer(body: Record<string, unknown>): Promise<string>;
  discardContainer(idOrName: string): Promise<void>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  removeVolume(name: string): Promise<void>;
  listVolumes(label: string): Promise<string[]>;
  createNetwork(name: string, opts: { internal: boolean; labels: Record<string, string> }): Promise<void>;
  removeNetwork(name: string): Promise<void>;
  listNetworks(label: string): Promise<string[]>;
  /** Pushes `repo:tag`; the digest of the manifest the registry stored. */
  pushImage(ref: string, onProgress?: (p: PullProgress) => void): Promise<{ digest: string }>;
  /** `already-stopped` when the Engine answers 304. */
  stopContainer(idOrName: string, timeoutS: number): Promise<'stopped' | 'already-stopped'>;
  startContainer(idOrName: string): Promise<void>;
  /** Removes the container, never its volumes. */
  removeContainer(idOrName: string): Promise<void>;
  captureSpec(idOrName: string): Promise<ContainerSpec>;
  /** Creates (not starts) a container from a captured spec with the image `ref`; returns its ID. */
  createFromSpec(spec: ContainerSpec, ref: string): Promise<string>;
  exec(idOrName: string, cmd: string[], opts?: ExecOptions): Promise<ExecResult>;
  logs(idOrName: string, opts?: { since?: Date; tail?: number }): Promise<LogLine[]>;
}
