/**
 * The secrets suite on the bed: a team deployment whose database password is a recognisable
 * secret (in the db container's POSTGRES_PASSWORD and, URL-encoded, in the app's data source),
 * a registry that wants a password, log lines that carry secrets written by the containers
 * themselves while the bot watches them, and a watch on every process's command line.
 */
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { startRegistry, type Registry } from '../../bed/daemons.js';
import { waitForApp, type Deployment } from '../../bed/deploy.js';
import { run } from '../../bed/proc.js';
import { engine } from '../../integration/helpers/upgrades.js';
import type { Leak, SecretScanner } from './secrets-scan.js';

const connect = async (d: Deployment, password: string): Promise<pg.Client> => {
  const client = new pg.Client({ host: '127.0.0.1', port: d.dbPort, user: d.dbUser, password, database: d.dbName, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  return client;
};

/**
 * Gives the deployment `password` as its database password, the way a team changes it: the
 * role's password in PostgreSQL, then DB_PASSWORD in the compose folder's `.env` (the data
 * source takes it URL-encoded, as it must), then `docker-compose up -d`, which recreates both
 * containers with it. (deploy() has no option for a password of one's own: see the report.)
 */
export async function useDbPassword(d: Deployment, password: string): Promise<void> {
  if (/['\\$#"]/.test(password)) throw new Error('keep the password free of quotes, $, # and backslashes (SQL literal, .env)');
  const client = await connect(d, d.dbPassword);
  try {
    await client.query(`ALTER ROLE ${d.dbUser} PASSWORD '${password}'`);
  } finally {
    await client.end();
  }
  const compose = d.composeFiles[0]!;
  const text = readFileSync(compose, 'utf8');
  if (!text.includes(':${DB_PASSWORD}@')) throw new Error(`the data source of ${compose} does not take \${DB_PASSWORD}`);
  writeFileSync(compose, text.replace(':${DB_PASSWORD}@', ':${DB_PASSWORD_URL}@'));
  const dotEnv = join(d.dir, '.env');
  writeFileSync(dotEnv, `DB_PASSWORD=${password}\nDB_PASSWORD_URL=${encodeURIComponent(password)}\n`);
  chmodSync(dotEnv, 0o600);
  await d.compose(['up', '-d', '--quiet-pull']);
  await waitForApp(d.appUrl, '1.0.0', 60_000);
  // The app reaches its database with the new password (its posts live there).
  const probe = await connect(d, password);
  await probe.end();
}

/**
 * The `/upgrade` command's token becomes `token`: Mattermost makes a random one (register-command
 * prints it); the stand-in keeps its commands in the deployment's PostgreSQL, where it is set.
 */
export async function setCommandToken(d: Deployment, dbPassword: string, token: string): Promise<void> {
  const client = await connect(d, dbPassword);
  try {
    const r = await client.query("UPDATE standin_docs SET doc = jsonb_set(doc, '{token}', to_jsonb($1::text)) WHERE kind = 'command'", [token]);
    if (r.rowCount !== 1) throw new Error(`expected one slash command in the stand-in, found ${r.rowCount}`);
  } finally {
    await client.end();
  }
}

/**
 * A registry on loopback that asks for `user` / `password` (Basic auth against an htpasswd file;
 * bcrypt at its lowest cost, 2^4: the registry checks it on every request of a push).
 */
export async function passwordRegistry(root: string, user: string, password: string): Promise<Registry> {
  const hash = (await run('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))'], { input: password })).stdout.trim();
  writeFileSync(join(root, 'htpasswd'), `${user}:${hash}\n`, { mode: 0o600 });
  return startRegistry(root, { name: 'registry-auth', htpasswd: join(root, 'htpasswd') });
}

/**
 * Once Mattermost `version` answers (the bot is watching it then, VERIFY_WINDOW), the
 * containers write lines that carry secrets to their own logs, as they do in life:
 * - the app (to its stdout, i.e. `docker logs`): an error with its data source as a URL, one
 *   with it in PostgreSQL's keyword form, a failed call with the bot's token;
 * - PostgreSQL: a password change typed without its closing quote — PostgreSQL logs the
 *   ERROR with the rest of the statement, password included (and the STATEMENT line).
 * Returns the markers to find in the quoted lines (they prove the lines reached the result).
 */
export async function secretsInContainerLogs(d: Deployment, version: string, s: { dbPassword: string; botToken: string; slashToken: string }): Promise<string[]> {
  await waitForApp(d.appUrl, version, 90_000);
  const port = d.dbPort;
  const lines = [
    JSON.stringify({ timestamp: '', level: 'error', msg: 'Failed to ping DB', caller: 'sqlstore/store.go:241', error: 'dial tcp: i/o timeout', datasource: `postgres://${d.dbUser}:${encodeURIComponent(s.dbPassword)}@127.0.0.1:${port}/mattermost?sslmode=disable` }),
    JSON.stringify({ timestamp: '', level: 'error', msg: 'Could not open the replica', caller: 'sqlstore/store.go:250', conninfo: `host=127.0.0.1 port=${port} user=${d.dbUser} password=${s.dbPassword} dbname=mattermost` }),
    JSON.stringify({ timestamp: '', level: 'error', msg: 'Outgoing call failed', caller: 'app/command.go:311', request: `POST /hooks/x Authorization: Token ${s.slashToken}`, bot: `Bearer ${s.botToken}` }),
  ];
  // On stdin, not as arguments: the command-line watch would see them there.
  const exec = await engine.exec(d.appContainer, ['sh', '-c', 'cat > /proc/1/fd/1'], { stdin: Readable.from([lines.join('\n') + '\n']) });
  if (exec.exitCode !== 0) throw new Error(`could not write to the app's log: ${exec.stderr}`);
  const client = await connect(d, s.dbPassword);
  try {
    await client.query(`ALTER ROLE ${d.dbUser} PASSWORD '${s.dbPassword}`).then(
      () => {
        throw new Error('the unterminated statement was accepted');
      },
      (err: Error) => {
        if (!/unterminated quoted string/.test(err.message)) throw err;
      },
    );
  } finally {
    await client.end();
  }
  return ['Failed to ping DB', 'Could not open the replica', 'Outgoing call failed', 'unterminated quoted string'];
}

/**
 * Reads every process's command line (what `ps` shows any user) every `intervalMs` until
 * stopped, and keeps those that hold a secret (a secret passed as an argument, even to a
 * process that lives a few milliseconds, e.g. a `psql -c` exec'd in a container).
 */
export function watchCommandLines(scanner: SecretScanner, intervalMs = 25): { stop(): Promise<Leak[]> } {
  let running = true;
  const found = new Map<string, Leak>();
  const self = String(process.pid);
  const loop = (async () => {
    while (running) {
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid) || pid === self) continue;
        let cmd: string;
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        } catch {
          continue;
        }
        if (!scanner.holds(cmd)) continue;
        for (const l of scanner.scan(cmd, `the command line of pid ${pid}`)) found.set(`${pid} ${l.form} ${l.secret}`, l);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return [...found.values()];
    },
  };
}
