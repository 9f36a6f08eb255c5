import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConfig, loadEnvFile, parseDockerHost, secretsOf, DEFAULT_LOG_ERROR_PATTERNS } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/common/errors.js';
import { formatDuration, parseDuration } from '../../../src/config/parse.js';
import { parseWindow } from '../../../src/schedule/window.js';

const base = { MM_URL: 'https://chat.example.org' };
const serveEnv = {
  ...base,
  MM_BOT_TOKEN: 'bottoken1234567890abcdef',
  MM_SLASH_TOKENS: 'slashtok1111111111, slashtok2222222222',
  MM_TEAM: 'pica',
  BOT_SECRET: 'x'.repeat(40),
};

function problems(env: Record<string, string>, purpose: 'cli' | 'serve' = 'cli'): string[] {
  try {
    readConfig(env, { purpose });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    return [...err.problems];
  }
  return [];
}

describe('readConfig', () => {
  it('applies the SPEC defaults', () => {
    const c = readConfig(base, { cwd: '/srv/bot' });
    assert.equal(c.mattermost.url, 'https://chat.example.org');
    assert.equal(c.mattermost.announceChannel, 'town-square');
    assert.equal(c.mattermost.adminChannel, 'town-square');
    assert.deepEqual(c.mattermost.allowedUsers, []);
    assert.equal(c.bot.port, 3000);
    assert.equal(c.bot.publicUrl, 'http://localhost:3000');
    assert.deepEqual(c.docker.host, { kind: 'socket', socketPath: '/var/run/docker.sock' });
    assert.equal(c.compose.files, undefined);
    assert.equal(c.app.service, 'mattermost');
    assert.equal(c.db.service, 'mattermost-db');
    assert.equal(c.db.followsApp, 'auto');
    assert.equal(c.db.name, 'mattermost');
    assert.equal(c.db.user, 'postgres');
    assert.equal(c.app.stopTimeoutS, 10);
    assert.equal(c.db.stopTimeoutS, 60);
    assert.equal(c.upgrade.healthTimeoutMs, 300_000);
    assert.equal(c.upgrade.verifyWindowMs, 60_000);
    assert.equal(c.backup.dir, '/srv/bot/data/backups');
    assert.equal(c.backup.maxAgeMs, 24 * 3_600_000);
    assert.equal(c.backup.keep, 7);
    assert.deepEqual(c.upgrade.maintenanceWindow, { ranges: [{ start: 0, end: 1440 }], text: '00:00-24:00' });
    assert.equal(c.bot.stateDir, '/srv/bot/data');
    assert.equal(c.bot.locale, 'en');
    assert.equal(c.bot.confirmTtlMs, 600_000);
    assert.equal(c.bot.announceBeforeMs, 900_000);
    assert.equal(c.schedules.releaseWatchCron, '0 9 * * *');
    assert.equal(c.schedules.backupCron, undefined);
    assert.equal(c.mattermost.registerCommand, false);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.upgrade.logErrorPatterns.length, DEFAULT_LOG_ERROR_PATTERNS.length);
  });

  it('reads every variable it is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const compose = join(dir, 'docker-compose.yml');
    const second = join(dir, 'docker-compose.db.yml');
    writeFileSync(compose, 'services: {}\n');
    writeFileSync(second, 'services: {}\n');
    const c = readConfig(
      {
        ...serveEnv,
        MM_URL: 'http://127.0.0.1:8065/',
        MM_ANNOUNCE_CHANNEL: 'announcements',
        UPGRADE_ALLOWED_USERS: '@alice, bob',
        PORT: '8080',
        DOCKER_HOST: 'tcp://127.0.0.1:2375',
        COMPOSE_FILE: 'docker-compose.yml:docker-compose.db.yml',
        COMPOSE_PROJECT_NAME: 'Pica',
        DB_IMAGE_FOLLOWS_APP: 'FALSE',
        REGISTRY_USER: 'ci',
        REGISTRY_PASSWORD: 'registry-pass-123',
        HEALTH_TIMEOUT: '600',
        VERIFY_WINDOW: '2m',
        MAINTENANCE_WINDOW: '22:00-07:00',
        TZ: 'Europe/Paris',
        BACKUP_MAX_AGE: '1h30m',
        BACKUP_KEEP: '3',
        LOG_ERROR_PATTERNS: '["boom", "^ERROR"]',
        RELEASE_WATCH_CRON: '',
        BACKUP_CRON: '30 3 * * *',
        BOT_LOCALE: 'fr',
        MM_REGISTER_COMMAND: 'true',
      },
      { purpose: 'serve', cwd: dir },
    );
    assert.equal(c.mattermost.url, 'http://127.0.0.1:8065');
    assert.equal(c.mattermost.adminChannel, 'announcements', 'MM_ADMIN_CHANNEL defaults to MM_ANNOUNCE_CHANNEL');
    assert.deepEqual(c.mattermost.allowedUsers, ['alice', 'bob']);
    assert.deepEqual(c.mattermost.slashTokens, ['slashtok1111111111', 'slashtok2222222222']);
    assert.equal(c.bot.publicUrl, 'http://localhost:8080');
    assert.deepEqual(c.docker.host, { kind: 'tcp', host: '127.0.0.1', port: 2375, protocol: 'http' });
    assert.deepEqual(c.compose.files, [compose, second]);
    assert.equal(c.compose.projectName, 'pica');
    assert.equal(c.db.followsApp, 'false');
    assert.deepEqual(c.docker.registryAuth, { username: 'ci', password: 'registry-pass-123' });
    assert.equal(c.upgrade.healthTimeoutMs, 600_000);
    assert.equal(c.upgrade.verifyWindowMs, 120_000);
    assert.deepEqual(c.upgrade.maintenanceWindow, { ranges: [{ start: 22 * 60, end: 7 * 60 }], text: '22:00-07:00' });
    assert.equal(c.upgrade.timeZone, 'Europe/Paris');
    assert.equal(c.backup.maxAgeMs, 90 * 60_000);
    assert.deepEqual(c.upgrade.logErrorPatterns.map((r) => r.source), ['boom', '^ERROR']);
    assert.equal(c.schedules.releaseWatchCron, undefined, 'an empty RELEASE_WATCH_CRON means never');
    assert.equal(c.schedules.backupCron, '30 3 * * *');
    assert.equal(c.bot.locale, 'fr');
    assert.equal(c.mattermost.registerCommand, true);
  });

  it('names MM_URL and what it expects, in one line', () => {
    assert.deepEqual(problems({ MM_URL: 'nonsense' }), ['MM_URL must be an http(s) URL, got "nonsense"']);
    assert.deepEqual(problems({}), ['MM_URL is required (base URL of the Mattermost server, e.g. https://chat.example.org)']);
    assert.deepEqual(problems({ MM_URL: 'ftp://chat.example.org' }), ['MM_URL must be an http(s) URL, got "ftp://chat.example.org"']);
    const withPassword = problems({ MM_URL: 'https://admin:s3cret-pw@chat.example.org' });
    assert.deepEqual(withPassword, ['MM_URL must not carry credentials (user:password@): the bot authenticates with MM_BOT_TOKEN']);
  });

  it('reports every problem at once, one line each', () => {
    const found = problems({
      MM_URL: 'https://chat.example.org',
      PORT: 'eighty',
      DOCKER_HOST: '/var/run/docker.sock',
      DB_IMAGE_FOLLOWS_APP: 'maybe',
      HEALTH_TIMEOUT: '5m',
      VERIFY_WINDOW: 'soon',
      MAINTENANCE_WINDOW: '22h-7h',
      TZ: 'Mars/Olympus',
      BACKUP_KEEP: '0',
      LOG_ERROR_PATTERNS: '(unclosed',
      RELEASE_WATCH_CRON: 'every day',
      RELEASE_WATCH_IMAGE: 'mattermost/mattermost-team-edition:latest',
      BOT_LOCALE: 'de',
      LOG_LEVEL: 'loud',
      REGISTRY_USER: 'ci',
      COMPOSE_FILE: '/nonexistent/docker-compose.yml',
    });
    const expected = [
      /^PORT must be a TCP port \(1-65535\), got "eighty"$/,
      /^DOCKER_HOST must be unix:\/\/\/path\/to\/docker.sock or tcp:\/\/host:port, got "\/var\/run\/docker.sock"$/,
      /^DB_IMAGE_FOLLOWS_APP must be auto, true or false, got "maybe"$/,
      /^HEALTH_TIMEOUT must be a whole number of seconds, got "5m"$/,
      /^VERIFY_WINDOW must be a duration such as 90s, 10m or 24h, got "soon"$/,
      /^MAINTENANCE_WINDOW must be HH:MM-HH:MM, for example 22:00-07:00, several joined by commas, got "22h-7h"$/,
      /^TZ must be an IANA time zone such as Europe\/Paris, got "Mars\/Olympus"$/,
      /^BACKUP_KEEP must be a whole number of dumps, 1 or more, got "0"$/,
      /^LOG_ERROR_PATTERNS has an invalid regular expression "\(unclosed"/,
      /^RELEASE_WATCH_CRON must be a cron expression/,
      /^RELEASE_WATCH_IMAGE must be an image name without tag, such as mattermost\/mattermost-team-edition, got "mattermost\/mattermost-team-edition:latest"$/,
      /^BOT_LOCALE must be en or fr, got "de"$/,
      /^LOG_LEVEL must be error, warn, info/,
      /^REGISTRY_USER and REGISTRY_PASSWORD must be set together/,
      /^COMPOSE_FILE names \/nonexistent\/docker-compose.yml, which does not exist$/,
    ];
    for (const re of expected) assert.ok(found.some((p) => re.test(p)), `no problem matches ${re}; got:\n${found.join('\n')}`);
    assert.equal(found.length, expected.length, found.join('\n'));
  });

  it('asks for the bot credentials only to serve', () => {
    assert.deepEqual(problems(base, 'cli'), []);
    const found = problems(base, 'serve');
    for (const name of ['MM_BOT_TOKEN', 'MM_SLASH_TOKENS', 'MM_TEAM', 'BOT_SECRET']) {
      assert.ok(found.some((p) => p.startsWith(`${name} is required to run \`serve\``)), `${name} missing from ${found.join('\n')}`);
    }
    assert.deepEqual(problems({ ...serveEnv, BOT_SECRET: 'short' }, 'serve'), [
      'BOT_SECRET must be at least 32 characters long (try: openssl rand -hex 32)',
    ]);
  });

  it('never puts a secret in a problem line', () => {
    const found = problems({ ...serveEnv, BOT_SECRET: 'tooshort-secret', MM_URL: 'nonsense' }, 'serve');
    assert.ok(found.every((p) => !p.includes('tooshort-secret')));
  });

  it('lists the secrets to redact', () => {
    const c = readConfig({ ...serveEnv, REGISTRY_USER: 'ci', REGISTRY_PASSWORD: 'registry-pass-123' }, { purpose: 'serve' });
    assert.deepEqual(new Set(secretsOf(c)), new Set(['bottoken1234567890abcdef', 'slashtok1111111111', 'slashtok2222222222', 'x'.repeat(40), 'registry-pass-123']));
  });
});

describe('loadEnvFile', () => {
  it('reads a .env file and returns nothing when there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    assert.deepEqual(loadEnvFile(join(dir, '.env')), {});
    writeFileSync(join(dir, '.env'), '# comment\nMM_URL=https://chat.example.org\nMM_TEAM="pica"\n');
    assert.deepEqual(loadEnvFile(join(dir, '.env')), { MM_URL: 'https://chat.example.org', MM_TEAM: 'pica' });
  });
});

describe('value parsers', () => {
  it('parses durations', () => {
    assert.equal(parseDuration('90'), 90_000);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('2d'), 172_800_000);
    assert.equal(parseDuration('500ms'), 500);
    for (const bad of ['', 'soon', '-5s', '1.5h', 'h']) assert.equal(parseDuration(bad), undefined, bad);
  });

  it('parses maintenance windows', () => {
    assert.deepEqual(parseWindow('22:00-07:00'), { ranges: [{ start: 1320, end: 420 }], text: '22:00-07:00' });
    assert.deepEqual(parseWindow('00:00-24:00'), { ranges: [{ start: 0, end: 1440 }], text: '00:00-24:00' });
    assert.deepEqual(parseWindow(' 12:00-13:00 , 22:00-06:00'), { ranges: [{ start: 720, end: 780 }, { start: 1320, end: 360 }], text: '12:00-13:00,22:00-06:00' });
    for (const bad of ['22-7', '25:00-01:00', '10:00-10:00', '24:00-01:00', '10:60-11:00', '22:00-07:00,', '']) assert.equal(parseWindow(bad), undefined, bad);
  });

  it('parses Docker endpoints', () => {
    assert.deepEqual(parseDockerHost('unix:///run/docker.sock'), { kind: 'socket', socketPath: '/run/docker.sock' });
    assert.deepEqual(parseDockerHost('tcp://docker.local:2376'), { kind: 'tcp', host: 'docker.local', port: 2376, protocol: 'http' });
    assert.equal(parseDockerHost('ssh://root@host'), undefined);
    assert.equal(parseDockerHost('tcp://host'), undefined);
  });
});

describe('.env.example', () => {
  const example = new URL('../../../.env.example', import.meta.url).pathname;
  const SPEC_VARIABLES = [
    'MM_URL', 'MM_BOT_TOKEN', 'MM_SLASH_TOKENS', 'MM_TEAM', 'MM_ANNOUNCE_CHANNEL', 'MM_ADMIN_CHANNEL', 'UPGRADE_ALLOWED_USERS',
    'BOT_PUBLIC_URL', 'BOT_SECRET', 'PORT', 'DOCKER_HOST', 'COMPOSE_FILE', 'COMPOSE_PROJECT_NAME', 'APP_SERVICE', 'DB_SERVICE',
    'APP_CONTAINER', 'DB_CONTAINER', 'APP_IMAGE', 'DB_IMAGE', 'DB_IMAGE_FOLLOWS_APP', 'REGISTRY_USER', 'REGISTRY_PASSWORD',
    'DB_NAME', 'DB_USER', 'APP_STOP_TIMEOUT', 'DB_STOP_TIMEOUT', 'HEALTH_TIMEOUT', 'VERIFY_WINDOW', 'BACKUP_DIR', 'BACKUP_MAX_AGE',
    'BACKUP_KEEP', 'MAINTENANCE_WINDOW', 'TZ', 'CHANGELOG_URL', 'LOG_ERROR_PATTERNS', 'STATE_DIR', 'BOT_LOCALE', 'CONFIRM_TTL',
    'ANNOUNCE_BEFORE', 'RELEASE_WATCH_CRON', 'BACKUP_CRON', 'BUILD_CONTEXT', 'MM_REGISTER_COMMAND', 'LOG_LEVEL',
  ];

  it('documents every SPEC variable with a comment line above it', () => {
    const lines = Object.keys(loadEnvFile(example));
    const text = readFileSync(example, 'utf8').split('\n');
    for (const name of SPEC_VARIABLES) {
      assert.ok(lines.includes(name), `${name} missing from .env.example`);
      const at = text.findIndex((l) => l.startsWith(`${name}=`));
      assert.ok(text[at - 1]?.startsWith('#'), `${name} has no comment above it`);
    }
  });

  it('is valid as it stands once the required values are filled in', () => {
    const c = readConfig({ ...loadEnvFile(example), MM_URL: 'https://chat.example.org', COMPOSE_FILE: '' });
    assert.equal(c.upgrade.maintenanceWindow.text, '00:00-24:00');
    assert.equal(c.schedules.releaseWatchCron, '0 9 * * *');
    assert.equal(c.schedules.backupCron, undefined);
    assert.equal(c.mattermost.adminChannel, 'town-square');
  });
});

describe('formatDuration', () => {
  it('keeps the two most significant units', () => {
    assert.deepEqual([450, 45_000, 150_000, 3_602_000, 12_000_000, 187_200_000].map(formatDuration), ['450ms', '45s', '2m30s', '1h', '3h20m', '2d4h']);
  });
});
