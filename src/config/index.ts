/**
 * Configuration: defaults → environment (with the `.env` file's values underneath) →
 * validated. Every problem is reported, one line each, naming the variable and what is
 * expected; the caller exits 2.
 */
import { readFileSync, existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import dotenv from 'dotenv';
import cron from 'node-cron';
import { ConfigError } from '../common/errors.js';
import { parseBool, parseDuration, parseList } from './parse.js';
import { parseWindow } from '../schedule/window.js';

import type { Config, ConfigPurpose, DbFollowsApp, DockerHost, Locale, RehearsalMode } from './types.js';

export type { Config, ConfigPurpose, DbFollowsApp, DockerHost, Locale, RehearsalMode } from './types.js';

export const DEFAULT_CHANGELOG_URL = 'https://docs.mattermost.com/product-overview/mattermost-v{major}-changelog.html';

/** Mattermost's JSON log levels, Go panics, PostgreSQL's FATAL/PANIC lines. */
export const DEFAULT_LOG_ERROR_PATTERNS = [
  String.raw`"level"\s*:\s*"(error|fatal|critical|panic)"`,
  String.raw`^panic: `,
  String.raw`\b(FATAL|PANIC):\s`,
];

const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'];
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The values of a `.env` file in `dir` (none when absent); the process environment wins over them. */
export function loadEnvFile(path = resolve('.env')): Record<string, string> {
  if (!existsSync(path)) return {};
  return dotenv.parse(readFileSync(path));
}

export function readConfig(
  env: Record<string, string | undefined> = process.env,
  { purpose = 'cli', cwd = process.cwd() }: { purpose?: ConfigPurpose; cwd?: string } = {},
): Config {
  const problems: string[] = [];
  const raw = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const str = (name: string, fallback: string): string => raw(name) ?? fallback;
  const required = (name: string, why: string): string | undefined => {
    const v = raw(name);
    if (v === undefined) problems.push(`${name} is required ${why}`);
    return v;
  };
  const check = <T>(name: string, fallback: string, parse: (v: string) => T | undefined, expected: string): T => {
    const text = str(name, fallback);
    const value = parse(text);
    if (value === undefined) {
      problems.push(`${name} must be ${expected}, got "${text}"`);
      return parse(fallback) as T;
    }
    return value;
  };
  const seconds = (name: string, fallback: string): number =>
    check(name, fallback, (v) => (/^\d+$/.test(v) ? Number(v) : undefined), 'a whole number of seconds');
  const duration = (name: string, fallback: string): number =>
    check(name, fallback, (v) => parseDuration(v), 'a duration such as 90s, 10m or 24h');
  const name = (variable: string, fallback: string | undefined): string | undefined => {
    const v = raw(variable) ?? fallback;
    if (v !== undefined && !NAME.test(v)) problems.push(`${variable} must be a name (letters, digits, _ . -), got "${v}"`);
    return v;
  };
  const serving = purpose === 'serve';
  const registering = purpose === 'register';
  const forServe = 'to run `serve`';
  const forRegister = 'to register the /upgrade command';

  const mmUrl = required('MM_URL', '(base URL of the Mattermost server, e.g. https://chat.example.org)');
  if (mmUrl !== undefined && !isHttpUrl(mmUrl)) problems.push(`MM_URL must be an http(s) URL, got "${mmUrl}"`);
  else if (mmUrl !== undefined && /^[a-z]+:\/\/[^/]*@/i.test(mmUrl)) problems.push('MM_URL must not carry credentials (user:password@): the bot authenticates with MM_BOT_TOKEN');
  const registerCommand = check('MM_REGISTER_COMMAND', 'false', parseBool, 'true or false');
  const botToken = serving || registering ? required('MM_BOT_TOKEN', `${serving ? forServe : forRegister} (a bot or personal access token)`) : raw('MM_BOT_TOKEN');
  const slashTokens = parseList(
    serving && !registerCommand ? (required('MM_SLASH_TOKENS', `${forServe} (the /upgrade command's token; mm-upgrade register-command prints it)`) ?? '') : str('MM_SLASH_TOKENS', ''),
  );
  const team = serving || registering ? required('MM_TEAM', `${serving ? forServe : forRegister} (the team's name as in its URL)`) : raw('MM_TEAM');
  const secret = serving ? required('BOT_SECRET', `${forServe} (a random key of 32 characters or more)`) : raw('BOT_SECRET');
  if (secret !== undefined && secret.length < 32) problems.push('BOT_SECRET must be at least 32 characters long (try: openssl rand -hex 32)');
  const announceChannel = name('MM_ANNOUNCE_CHANNEL', 'town-square')!;
  const adminChannel = name('MM_ADMIN_CHANNEL', announceChannel)!;

  const port = check('PORT', '3000', (v) => (/^\d+$/.test(v) && Number(v) > 0 && Number(v) < 65536 ? Number(v) : undefined), 'a TCP port (1-65535)');
  const publicUrl = str('BOT_PUBLIC_URL', `http://localhost:${port}`);
  if (!isHttpUrl(publicUrl)) problems.push(`BOT_PUBLIC_URL must be an http(s) URL, got "${publicUrl}"`);
  const bindAddress = str('BIND_ADDRESS', isLoopbackUrl(publicUrl) ? '127.0.0.1' : '0.0.0.0');
  if (isIP(bindAddress) === 0) problems.push(`BIND_ADDRESS must be an IP address such as 127.0.0.1 or 0.0.0.0, got "${bindAddress}"`);

  const dockerHostText = str('DOCKER_HOST', 'unix:///var/run/docker.sock');
  const dockerHost = parseDockerHost(dockerHostText);
  if (!dockerHost) problems.push(`DOCKER_HOST must be unix:///path/to/docker.sock or tcp://host:port, got "${dockerHostText}"`);

  const registryUser = raw('REGISTRY_USER');
  const registryPassword = raw('REGISTRY_PASSWORD');
  if ((registryUser === undefined) !== (registryPassword === undefined)) {
    problems.push('REGISTRY_USER and REGISTRY_PASSWORD must be set together (or neither)');
  }

  const composeText = raw('COMPOSE_FILE');
  const composeFiles = composeText?.split(':').filter((f) => f !== '').map((f) => resolve(cwd, f));
  for (const f of composeFiles ?? []) if (!existsSync(f)) problems.push(`COMPOSE_FILE names ${f}, which does not exist`);

  const followsApp = check<DbFollowsApp>(
    'DB_IMAGE_FOLLOWS_APP',
    'auto',
    (v) => (['auto', 'true', 'false'].includes(v.toLowerCase()) ? (v.toLowerCase() as DbFollowsApp) : undefined),
    'auto, true or false',
  );

  const timeZone = str('TZ', Intl.DateTimeFormat().resolvedOptions().timeZone);
  if (!isTimeZone(timeZone)) problems.push(`TZ must be an IANA time zone such as Europe/Paris, got "${timeZone}"`);

  const changelogUrl = str('CHANGELOG_URL', DEFAULT_CHANGELOG_URL);
  if (!isHttpUrl(changelogUrl.replace(/\{(version|major|minor|patch)\}/g, '1'))) {
    problems.push(`CHANGELOG_URL must be an http(s) URL template ({version}, {major}, {minor}, {patch}), got "${changelogUrl}"`);
  }

  const logPatterns = parsePatterns(raw('LOG_ERROR_PATTERNS'), problems);
  const watchImage = raw('RELEASE_WATCH_IMAGE');
  if (watchImage !== undefined && !/^(?:[\w.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(watchImage)) {
    problems.push(`RELEASE_WATCH_IMAGE must be an image name without tag, such as mattermost/mattermost-team-edition, got "${watchImage}"`);
  }

  const cronOf = (variable: string, fallback: string): string | undefined => {
    const v = env[variable] === undefined ? fallback : env[variable]!.trim();
    if (v === '') return undefined;
    if (!cron.validate(v)) problems.push(`${variable} must be a cron expression such as "0 9 * * *" (or empty for never), got "${v}"`);
    return v;
  };

  const healthS = seconds('HEALTH_TIMEOUT', '300');
  const config: Config = {
    mattermost: {
      url: (mmUrl ?? '').replace(/\/+$/, ''),
      botToken,
      slashTokens,
      team,
      announceChannel,
      adminChannel,
      allowedUsers: parseList(str('UPGRADE_ALLOWED_USERS', '')).map((u) => u.replace(/^@/, '')),
      registerCommand,
    },
    bot: {
      publicUrl: publicUrl.replace(/\/+$/, ''),
      secret,
      port,
      bindAddress,
      locale: check<Locale>('BOT_LOCALE', 'en', (v) => (v === 'en' || v === 'fr' ? v : undefined), 'en or fr'),
      confirmTtlMs: duration('CONFIRM_TTL', '10m'),
      announceBeforeMs: duration('ANNOUNCE_BEFORE', '15m'),
      stateDir: resolve(cwd, str('STATE_DIR', './data')),
    },
    docker: {
      host: dockerHost ?? { kind: 'socket', socketPath: '/var/run/docker.sock' },
      hostText: dockerHostText,
      registryAuth: registryUser && registryPassword ? { username: registryUser, password: registryPassword } : undefined,
      configFile: dockerConfigFile(raw('DOCKER_CONFIG'), raw('HOME'), cwd),
    },
    compose: { files: composeFiles, projectName: name('COMPOSE_PROJECT_NAME', undefined)?.toLowerCase(), cli: raw('COMPOSE_CLI')?.split(/\s+/).filter((w) => w !== '') },
    app: {
      service: name('APP_SERVICE', 'mattermost')!,
      container: name('APP_CONTAINER', undefined),
      image: raw('APP_IMAGE'),
      stopTimeoutS: seconds('APP_STOP_TIMEOUT', '10'),
    },
    db: {
      service: name('DB_SERVICE', 'mattermost-db')!,
      container: name('DB_CONTAINER', undefined),
      image: raw('DB_IMAGE'),
      followsApp,
      name: name('DB_NAME', 'mattermost')!,
      user: name('DB_USER', 'postgres')!,
      userSet: raw('DB_USER') !== undefined,
      stopTimeoutS: seconds('DB_STOP_TIMEOUT', '60'),
    },
    upgrade: {
      healthTimeoutMs: healthS * 1000,
      verifyWindowMs: duration('VERIFY_WINDOW', '60s'),
      maintenanceWindow: check('MAINTENANCE_WINDOW', '00:00-24:00', parseWindow, 'HH:MM-HH:MM, for example 22:00-07:00, several joined by commas'),
      timeZone,
      changelogUrl,
      logErrorPatterns: logPatterns.errors,
      fatalLogPatterns: logPatterns.fatal,
    },
    backup: {
      dir: resolve(cwd, str('BACKUP_DIR', './data/backups')),
      maxAgeMs: duration('BACKUP_MAX_AGE', '24h'),
      keep: check('BACKUP_KEEP', '7', (v) => (/^\d+$/.test(v) && Number(v) >= 1 ? Number(v) : undefined), 'a whole number of dumps, 1 or more'),
    },
    schedules: { releaseWatchCron: cronOf('RELEASE_WATCH_CRON', '0 9 * * *'), backupCron: cronOf('BACKUP_CRON', ''), releaseWatchImage: watchImage },
    rehearsal: {
      mode: check<RehearsalMode>('REHEARSAL', 'auto', (v) => (['auto', 'always', 'never'].includes(v.toLowerCase()) ? (v.toLowerCase() as RehearsalMode) : undefined), 'auto, always or never'),
      timeoutMs: seconds('REHEARSAL_TIMEOUT', String(healthS)) * 1000,
    },
    build: { context: raw('BUILD_CONTEXT') === undefined ? undefined : resolve(cwd, raw('BUILD_CONTEXT')!) },
    logLevel: check('LOG_LEVEL', 'info', (v) => (LOG_LEVELS.includes(v) ? v : undefined), LOG_LEVELS.join(', ')),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Values that must never reach a log line or a chat message. */
export function secretsOf(config: Config): string[] {
  return [
    config.mattermost.botToken,
    ...config.mattermost.slashTokens,
    config.bot.secret,
    config.docker.registryAuth?.password,
  ].filter((s): s is string => typeof s === 'string' && s.length >= 4);
}

/** The Docker client's config file (`docker login` writes registry credentials there): $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
function dockerConfigFile(dir: string | undefined, home: string | undefined, cwd: string): string | undefined {
  if (dir) return join(resolve(cwd, dir), 'config.json');
  return home ? join(home, '.docker', 'config.json') : undefined;
}

export function parseDockerHost(text: string): DockerHost | undefined {
  const unix = /^unix:\/\/(\/.+)$/.exec(text);
  if (unix) return { kind: 'socket', socketPath: unix[1]! };
  const tcp = /^(tcp|http|https):\/\/([^/:]+|\[[^\]]+\]):(\d{1,5})\/?$/.exec(text);
  if (tcp) {
    return { kind: 'tcp', host: tcp[2]!.replace(/^\[|\]$/g, ''), port: Number(tcp[3]), protocol: tcp[1] === 'https' ? 'https' : 'http' };
  }
  return undefined;
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Whether Mattermost reaches the bot on this machine only (then `serve` need not listen beyond loopback). */
function isLoopbackUrl(text: string): boolean {
  try {
    const host = new URL(text).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * A JSON array of regular expressions, or a single regular expression. An entry written
 * `fatal:<regex>` makes a match roll the upgrade back instead of only warning.
 */
function parsePatterns(text: string | undefined, problems: string[]): { errors: RegExp[]; fatal: RegExp[] } {
  let sources = DEFAULT_LOG_ERROR_PATTERNS;
  if (text !== undefined) {
    if (text.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) throw new Error('not a list of strings');
        sources = parsed;
      } catch {
        problems.push(`LOG_ERROR_PATTERNS must be a JSON array of regular expressions or one regular expression, got "${text}"`);
      }
    } else sources = [text];
  }
  const out = { errors: [] as RegExp[], fatal: [] as RegExp[] };
  for (const entry of sources) {
    const fatal = entry.startsWith('fatal:');
    const source = fatal ? entry.slice('fatal:'.length) : entry;
    try {
      (fatal ? out.fatal : out.errors).push(new RegExp(source, 'm'));
    } catch (err) {
      problems.push(`LOG_ERROR_PATTERNS has an invalid regular expression "${source}": ${(err as Error).message}`);
    }
  }
  return out;
}
