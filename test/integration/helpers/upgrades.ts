/** What the CLI upgrade tests on the bed share: fresh deployments, downed when the file ends, and the bed's engine. */
import { after } from 'node:test';
import { parseDockerHost } from '../../../src/config/index.js';
import { DockerodeEngine } from '../../../src/docker/dockerode-engine.js';
import { deploy, type Deployment, type Layout } from '../../bed/deploy.js';
import { currentBed } from '../../bed/state.js';

export const bed = currentBed();
export const engine = new DockerodeEngine(parseDockerHost(bed.dockerHost)!);
const deployments: Deployment[] = [];

after(async () => {
  for (const d of deployments) await d.down().catch(() => undefined);
});

/** A deployment at 1.0.0 of `layout`, and the bot's environment for quick runs (short watch, 25 s to come up). */
export async function fresh(layout: Layout, opts: { registry?: string } = {}): Promise<Deployment & { botEnv: Record<string, string> }> {
  const d = await deploy(layout, { stopDelayMs: 100, ...opts });
  deployments.push(d);
  return { ...d, botEnv: { ...d.env, VERIFY_WINDOW: '2s', HEALTH_TIMEOUT: '25' } };
}
