/** What the bot is configured with: the shape readConfig returns. */
import type { MaintenanceWindow } from '../schedule/window.js';

export type DockerHost = { kind: 'socket'; socketPath: string } | { kind: 'tcp'; host: string; port: number; protocol: 'http' | 'https' };
export type DbFollowsApp = 'auto' | 'true' | 'false';
export type Locale = 'en' | 'fr';
/** REHEARSAL: `auto` rehearses an upgrade that changes the minor or major version. */
export type RehearsalMode = 'auto' | 'always' | 'never';
/** `cli` needs the Mattermost URL only; `serve` also needs the bot's credentials; `register` its token and team. */
export type ConfigPurpose = 'cli' | 'serve' | 'register';

export interface Config {
  mattermost: {
    url: string;
    botToken: string | undefined;
    slashTokens: string[];
    team: string | undefined;
    announceChannel: string;
    adminChannel: string;
    allowedUsers: string[];
    registerCommand: boolean;
  };
  bot: {
    publicUrl: string;
    secret: string | undefined;
    port: number;
    /** The address `serve` listens on. */
    bindAddress: string;
    locale: Locale;
    confirmTtlMs: number;
    announceBeforeMs: number;
    stateDir: string;
  };
  docker: {
    host: DockerHost;
    hostText: string;
    /** REGISTRY_USER / REGISTRY_PASSWORD. */
    registryAuth: { username: string; password: string } | undefined;
    /** The Docker config file whose `auths` serve when REGISTRY_USER is not set. */
    configFile: string | undefined;
  };
  compose: { files: string[] | undefined; projectName: string | undefined; /** COMPOSE_CLI, split on spaces: the command that computes config hashes. */ cli: string[] | undefined };
  app: { service: string; container: string | undefined; image: string | undefined; stopTimeoutS: number };
  db: {
    service: string;
    container: string | undefined;
    image: string | undefined;
    followsApp: DbFollowsApp;
    name: string;
    /** DB_USER; when it is not set, resolveDeployment adopts the db container's POSTGRES_USER (else `postgres`). */
    user: string;
    /** Whether DB_USER was set (then it is never replaced). */
    userSet: boolean;
    stopTimeoutS: number;
  };
  upgrade: {
    healthTimeoutMs: number;
    verifyWindowMs: number;
    maintenanceWindow: MaintenanceWindow;
    timeZone: string;
    changelogUrl: string;
    /** Lines that count as errors: reported as warnings once the new version is healthy. */
    logErrorPatterns: RegExp[];
    /** Patterns written `fatal:<regex>`: a match in the verify window rolls back. */
    fatalLogPatterns: RegExp[];
  };
  backup: { dir: string; maxAgeMs: number; keep: number };
  schedules: { releaseWatchCron: string | undefined; backupCron: string | undefined; /** RELEASE_WATCH_IMAGE; undefined: the app image when it is Mattermost's own, else mattermost/mattermost-team-edition. */ releaseWatchImage: string | undefined };
  build: { context: string | undefined };
  /** REHEARSAL and REHEARSAL_TIMEOUT (default HEALTH_TIMEOUT). */
  rehearsal: { mode: RehearsalMode; timeoutMs: number };
  logLevel: string;
}
