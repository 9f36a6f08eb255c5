/**
 * Composition root: configuration, logger and adapters are built here and passed down;
 * nothing below reaches for a global.
 */
import { loadEnvFile, readConfig, secretsOf, type Config, type ConfigPurpose } from './config/index.js';
import { DockerodeEngine } from './docker/dockerode-engine.js';
import type { DockerEngine } from './docker/engine.js';
import { createLogger, type Logger } from './logging/logger.js';

export interface AppContext {
  config: Config;
  logger: Logger;
  engine: DockerEngine;
}

export function buildContext(
  purpose: ConfigPurpose,
  { env = process.env, style = 'text' as 'text' | 'json' }: { env?: Record<string, string | undefined>; style?: 'text' | 'json' } = {},
): AppContext {
  const config = readConfig({ ...loadEnvFile(), ...env }, { purpose });
  const logger = createLogger({ level: config.logLevel, secrets: secretsOf(config), style });
  const engine = new DockerodeEngine(config.docker.host, config.docker.registryAuth);
  return { config, logger, engine };
}
