/**
 * The release watch in chat: on RELEASE_WATCH_CRON, the new Mattermost versions are posted once
 * each in MM_ADMIN_CHANNEL with the changelog link and a *Plan upgrade* button (the same
 * planning as `/upgrade X.Y.Z`), or, for a team whose registry lacks that version yet, what to
 * build first. What is watched: the app image when it is Mattermost's own, else
 * RELEASE_WATCH_IMAGE (default mattermost/mattermost-team-edition).
 */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { skippedEsrs } from '../core/upgrade/rollback.js';
import { changelogUrl } from '../core/upgrade/state.js';
import { parseImageRef } from '../docker/compose/image-ref.js';
import { resolveDeployment } from '../docker/deployment.js';
import type { DockerEngine } from '../docker/engine.js';
import { RegistryCredentials } from '../docker/registry-auth.js';
import type { Messages } from '../i18n/index.js';
import type { Outbox } from '../mattermost/outbox.js';
import { listTags, repositoryOf } from '../registry/tags.js';
import { watchReleases, type Suggestion } from '../schedule/release-watch.js';
import { planUpgradeAttachment } from './plan-button.js';

const OFFICIAL = /(^|\/)mattermost\/mattermost-(team|enterprise)-edition$/;

export interface ReleaseWatchDeps {
  config: Config;
  messages: Messages;
  engine: DockerEngine;
  outbox: Outbox;
  now: () => number;
  log: { info(m: string, meta?: object): void; warn(m: string, meta?: object): void };
  schedule(expression: string, fn: () => void, timeZone: string): { stop(): unknown };
}

export class ReleaseWatch {
  private task: { stop(): unknown } | undefined;
  private running: Promise<Suggestion[]> | undefined;

  constructor(private readonly d: ReleaseWatchDeps) {}

  start(): void {
    const cron = this.d.config.schedules.releaseWatchCron;
    if (cron) this.task = this.d.schedule(cron, () => void this.run().catch(() => undefined), this.d.config.upgrade.timeZone);
  }

  stop(): void {
    void this.task?.stop();
  }

  /** One look (never two at once): the suggestions posted now. */
  run(): Promise<Suggestion[]> {
    this.running ??= this.look()
      .catch((err: unknown) => {
        this.d.log.warn('release watch: could not look for new releases', { error: (err as Error).message });
        throw err;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async look(): Promise<Suggestion[]> {
    const { config, engine } = this.d;
    const deployment = await resolveDeployment(config, engine);
    const app = deployment.app;
    const running = app.container ? (parseImageRef(app.container.Config.Image).tag ?? '') : '';
    const image = config.schedules.releaseWatchImage ?? (OFFICIAL.test(app.repository) ? app.repository : 'mattermost/mattermost-team-edition');
    const ownImage = parseImageRef(image).name === app.repository;
    const made = await watchReleases({
      running: async () => running,
      tags: () => listTags(repositoryOf(image), RegistryCredentials.of(config.docker).basicFor(image)),
      available: async (version) => ownImage || (await engine.registryManifest(`${app.repository}:${version}`)) !== undefined,
      stateFile: join(config.bot.stateDir, 'release-watch.json'),
      suggest: (s) => this.post(s, running, app.repository),
    });
    this.d.log.info(`release watch: ${image}, running ${running}: ${made.length === 0 ? 'nothing new' : `suggested ${made.map((s) => s.version).join(', ')}`}`);
    return made;
  }

  private async post(s: Suggestion, running: string, repository: string): Promise<void> {
    const { config, messages: m } = this.d;
    const lines = [m.releases.suggest(s.version, running, changelogUrl(config.upgrade.changelogUrl, s.version))];
    if (s.majorJump) lines.push(m.releases.major(skippedEsrs(running, s.version).at(-1) ?? `${running.split('.')[0]}.x`));
    if (!s.ready) lines.push(m.releases.buildFirst(s.version, repository));
    const props = s.ready ? { attachments: [planUpgradeAttachment(config, s.version, { name: m.releases.plan, text: m.releases.planFor(s.version) }, this.d.now())] } : undefined;
    await this.d.outbox.enqueue({ kind: 'create', key: `release:${s.version}:${s.ready ? 'ready' : 'build'}`, channel: { name: config.mattermost.adminChannel }, message: lines.join('\n\n'), ...(props ? { props } : {}) });
  }
}
