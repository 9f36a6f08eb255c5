/**
 * Readiness checks with explicit timeouts and tight polling, never a fixed sleep: the
 * database answers pg_isready; the app runs, answers ping and reports the expected version.
 * A container that exits or restarts while we wait fails the wait at once, with the log
 * lines that explain why.
 */
import { dbTarget, pgIsReady } from '../../backup/psql.js';
import { secretsOf, type Config } from '../../config/index.js';
import { ServiceFailedError, TimeoutError } from '../../common/errors.js';
import type { DockerEngine, LogLine } from '../../docker/engine.js';
import { formatDuration } from '../../config/parse.js';
import { Redactor, secretsInEnv } from '../../logging/redact.js';
import type { Clock, EngineDeps } from './deps.js';
import type { UpgradeState } from './state.js';

/** Polls fast at first, then settles at `max` between tries. */
async function poll<T>(clock: Clock, timeoutMs: number, what: string, probe: () => Promise<T | undefined>, max = 250): Promise<T> {
  const deadline = clock.now() + timeoutMs;
  for (let delay = 20; ; delay = Math.min(max, delay * 2)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (clock.now() >= deadline) throw new TimeoutError(`${what} within ${Math.round(timeoutMs / 1000)} s`);
    await clock.sleep(Math.min(delay, Math.max(0, deadline - clock.now())));
  }
}

export async function waitDbReady(deps: EngineDeps, container: string, timeoutMs: number): Promise<number> {
  const { engine, config, clock } = deps;
  const start = clock.now();
  await poll(clock, timeoutMs, `PostgreSQL in ${container} did not accept connections`, async () => {
    const c = await engine.inspectContainer(container);
    if (!c || (!c.State.Running && !c.State.Restarting)) {
      throw new ServiceFailedError(`the database container ${container} is ${c ? c.State.Status : 'gone'}`, await errorLines(engine, container, config, undefined));
    }
    return (await pgIsReady(engine, dbTarget(container, config.db), 2)) ? true : undefined;
  }, 100);
  return clock.now() - start;
}

/**
 * Waits until the app container runs, Mattermost answers ping and reports `version`. The
 * container must not exit nor restart meanwhile: a crash loop hidden by a restart policy
 * fails the wait as soon as it shows.
 */
export async function waitAppHealthy(deps: EngineDeps, container: string, version: string, timeoutMs: number): Promise<number> {
  const { engine, config, clock, probe } = deps;
  const start = clock.now();
  const first = await engine.inspectContainer(container);
  const restarts = first?.RestartCount ?? 0;
  let last = 'no answer yet';
  try {
    await poll(clock, timeoutMs, `Mattermost did not report version ${version}`, async () => {
      const c = await engine.inspectContainer(container);
      if (!c) throw new ServiceFailedError(`the app container ${container} is gone`, []);
      if (c.RestartCount > restarts || c.State.Restarting || (!c.State.Running && c.State.Status !== 'created')) {
        throw new ServiceFailedError(
          `Mattermost ${version} ${c.State.Running || c.State.Restarting ? 'is restarting in a loop' : `exited with code ${c.State.ExitCode}`}`,
          await errorLines(engine, container, config, undefined),
        );
      }
      const p = await probe(config.mattermost.url);
      last = p.pingOk ? `reports version ${p.version ?? 'unknown'}` : (p.error ?? 'ping failed');
      return p.pingOk && p.version === version ? true : undefined;
    });
  } catch (err) {
    if (err instanceof TimeoutError) {
      throw new ServiceFailedError(`${err.message} (last: ${last})`, await errorLines(engine, container, config, undefined));
    }
    throw err;
  }
  return clock.now() - start;
}

export interface LogFinding {
  container: string;
  line: string;
  fatal: boolean;
}

/**
 * What masks a container's log lines before a job quotes them (in chat, its result, the
 * journal, the CLI's output): the bot's own secrets and those of the container's environment —
 * a database password, its data source's — which its logs may well print.
 */
async function logRedactor(engine: DockerEngine, container: string, config: Config): Promise<Redactor> {
  const c = await engine.inspectContainer(container).catch(() => undefined);
  return new Redactor([...secretsOf(config), ...secretsInEnv(c?.Config?.Env ?? [])]);
}

/** Log lines of `container` (since `since`) that match LOG_ERROR_PATTERNS, newest last, secrets masked. */
export async function scanLogs(engine: DockerEngine, container: string, config: Config, since: Date | undefined): Promise<LogFinding[]> {
  let lines: LogLine[];
  try {
    lines = await engine.logs(container, since ? { since } : {});
  } catch {
    return [];
  }
  const out: LogFinding[] = [];
  for (const l of lines) {
    const fatal = config.upgrade.fatalLogPatterns.some((re) => re.test(l.text));
    if (fatal || config.upgrade.logErrorPatterns.some((re) => re.test(l.text))) out.push({ container, line: l.text, fatal });
  }
  if (out.length === 0) return out;
  const redactor = await logRedactor(engine, container, config);
  return out.map((f) => ({ ...f, line: redactor.text(f.line) }));
}

/** The error lines of `container` (LOG_ERROR_PATTERNS), else its last lines: what explains a failure. Secrets masked. */
export async function errorLines(engine: DockerEngine, container: string, config: Config, since: Date | undefined, max = 8): Promise<string[]> {
  const found = await scanLogs(engine, container, config, since);
  if (found.length > 0) return found.slice(-max).map((f) => f.line);
  const tail = await engine.logs(container, { tail: max }).catch(() => []);
  if (tail.length === 0) return [];
  const redactor = await logRedactor(engine, container, config);
  return tail.map((l) => redactor.text(l.text));
}

/**
 * After the new version is healthy: watch it for VERIFY_WINDOW. An exit, a restart (a crash loop
 * hidden by a restart policy) or three failed pings in a row fail it; error lines are reported,
 * `fatal:` ones fail it.
 */
export async function watchNewVersion(deps: EngineDeps, state: UpgradeState, warn: (m: string) => void): Promise<string> {
  const { engine, config, clock, probe } = deps;
  const until = clock.now() + config.upgrade.verifyWindowMs;
  const first = await engine.inspectContainer(state.app.container);
  const restarts = first?.RestartCount ?? 0;
  let failedPings = 0;
  let pings = 0;
  while (clock.now() < until) {
    const c = await engine.inspectContainer(state.app.container);
    if (!c || !c.State.Running || c.RestartCount > restarts) {
      const lines = (await scanLogs(engine, state.app.container, config, undefined)).map((f) => f.line).slice(-8);
      state.logLines.push(...lines);
      throw new ServiceFailedError(`Mattermost ${state.target} ${c ? `stopped (exit code ${c.State.ExitCode}, ${c.RestartCount - restarts} restarts)` : 'disappeared'} while being watched`, lines);
    }
    const p = await probe(config.mattermost.url);
    pings++;
    failedPings = p.pingOk ? 0 : failedPings + 1;
    if (failedPings >= 3) throw new ServiceFailedError(`Mattermost ${state.target} failed 3 pings in a row while being watched: ${p.error ?? 'ping failed'}`, []);
    await clock.sleep(Math.min(1_000, Math.max(0, until - clock.now())));
  }
  const since = state.appStoppedAt ? new Date(state.appStoppedAt) : undefined;
  const findings = [
    ...(await scanLogs(engine, state.app.container, config, undefined)),
    ...(await scanLogs(engine, state.db.container, config, since)),
  ];
  state.logLines.push(...findings.map((f) => `${f.container}: ${f.line}`));
  const fatal = findings.filter((f) => f.fatal);
  if (fatal.length > 0) throw new ServiceFailedError(`fatal lines in the logs (LOG_ERROR_PATTERNS fatal:)`, fatal.map((f) => `${f.container}: ${f.line}`));
  for (const f of findings.slice(-10)) warn(`error line in ${f.container}'s log: ${f.line}`);
  return `${state.target} stayed up for ${formatDuration(config.upgrade.verifyWindowMs)} (${pings} pings)${findings.length > 0 ? `, ${findings.length} error lines in the logs` : ', no error lines in the logs'}`;
}
