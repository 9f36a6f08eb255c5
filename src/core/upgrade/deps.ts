/** What the engine's jobs are given: configuration and adapters, never reached for globally. */
import type { Config } from '../../config/index.js';
import type { ComposeTool } from '../../docker/compose-cli/index.js';
import type { DockerEngine } from '../../docker/engine.js';
import type { ServerProbe } from '../../mattermost/server-probe.js';

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface EngineDeps {
  config: Config;
  engine: DockerEngine;
  probe: (baseUrl: string) => Promise<ServerProbe>;
  clock: Clock;
  /** Runs the compose command for its config hashes. */
  compose: ComposeTool;
}
