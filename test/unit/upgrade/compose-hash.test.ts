/** What the plan, the result and status say of the next `docker compose up -d`, in the CLI and in chat. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderResult as renderCliResult } from '../../../src/cli/render.js';
import { renderPlan, renderStatus } from '../../../src/chat/render.js';
import { readConfig } from '../../../src/config/index.js';
import type { JobResult } from '../../../src/core/events.js';
import { composeLabelsFor, composeWouldRecreate, describeUpD, hashPinned, upDOutlook, type ComposeOutlook } from '../../../src/core/upgrade/compose-hash.js';
import { describePlan } from '../../../src/core/upgrade/plan.js';
import type { EngineDeps } from '../../../src/core/upgrade/deps.js';
import type { ServiceMove, UpgradeState } from '../../../src/core/upgrade/state.js';
import type { ContainerSpec } from '../../../src/docker/engine.js';
import { ComposeTool, type CommandRunner } from '../../../src/docker/compose-cli/index.js';
import { messagesFor } from '../../../src/i18n/index.js';
import { emptyProgress } from '../../../src/mattermost/progress.js';
import { renderResult as renderChatResult } from '../../../src/mattermost/result.js';
import type { StatusReport } from '../../../src/status/collect.js';

const H_OLD = '1'.repeat(64);
const H_NEW = '2'.repeat(64);
const config = readConfig({ MM_URL: 'http://127.0.0.1:1', TZ: 'UTC' });

const move = (role: 'app' | 'db', service: string, over: Partial<ServiceMove> = {}): ServiceMove => ({
  role,
  service,
  container: `pica-${role}`,
  repository: `registry.example.net:5000/pica-mattermost${role === 'db' ? '-db' : ''}`,
  fromTag: '1.0.0',
  toTag: '1.1.0',
  fromRef: `registry.example.net:5000/pica-mattermost${role === 'db' ? '-db' : ''}:1.0.0`,
  toRef: `registry.example.net:5000/pica-mattermost${role === 'db' ? '-db' : ''}:1.1.0`,
  fromImageId: `sha256:${role}old`,
  toImageId: `sha256:${role}new`,
  moves: true,
  recreate: true,
  spec: undefined,
  ...over,
});

function state(compose: Partial<ComposeOutlook> | undefined): UpgradeState {
  return {
    kind: 'upgrade',
    from: '1.0.0',
    target: '1.1.0',
    force: false,
    restoreDump: undefined,
    files: { files: ['/srv/pica/docker-compose.yml'], envFile: '/srv/pica/.env' },
    project: 'pica',
    app: move('app', 'mattermost'),
    db: move('db', 'mattermost-db'),
    backup: undefined,
    appStoppedAt: undefined,
    healthyAt: undefined,
    logLines: [],
    changelog: 'https://example.net/changelog',
    removedImages: [],
    savedFiles: [],
    ...(compose
      ? { compose: { cli: 'docker-compose 1.29.2', unavailable: undefined, createdBy: '1.29.2', project: { files: ['/srv/pica/docker-compose.yml'], project: 'pica', workingDir: '/srv/pica' }, pending: [], pinned: undefined, ...compose } }
      : {}),
  };
}

const spec = (labels: Record<string, string>): ContainerSpec => ({ name: 'pica-app', image: 'x', imageId: 'sha256:appold', create: { Labels: labels }, extraNetworks: [] });
const deps = { config } as EngineDeps;

describe("labels on a recreated container", () => {
  it("compose's hash, the image label when compose 2.x had set one, and the mark", () => {
    const s = state({ pinned: { mattermost: H_NEW, 'mattermost-db': H_NEW } });
    assert.deepEqual(composeLabelsFor(s, s.app, spec({ 'com.docker.compose.config-hash': H_OLD })), {
      'com.docker.compose.config-hash': H_NEW,
      'org.mattermost-upgrade-bot.config-hash': 'compose',
    });
    assert.deepEqual(composeLabelsFor(s, s.app, spec({ 'com.docker.compose.config-hash': H_OLD, 'com.docker.compose.image': 'sha256:appold' })), {
      'com.docker.compose.config-hash': H_NEW,
      'com.docker.compose.image': 'sha256:appnew',
      'org.mattermost-upgrade-bot.config-hash': 'compose',
    });
  });

  it('pending changes or no hash: the old label stays, marked stale', () => {
    const pending = state({ pending: ['mattermost'], pinned: { mattermost: H_NEW } });
    assert.deepEqual(composeLabelsFor(pending, pending.app, spec({})), { 'org.mattermost-upgrade-bot.config-hash': 'stale' });
    const none = state({ cli: undefined, unavailable: 'no docker-compose 1.x on PATH' });
    assert.deepEqual(composeLabelsFor(none, none.app, spec({})), { 'org.mattermost-upgrade-bot.config-hash': 'stale' });
    const old = state(undefined);
    assert.deepEqual(composeLabelsFor(old, old.app, spec({})), { 'org.mattermost-upgrade-bot.config-hash': 'stale' }, 'a journal from an older version');
  });

  it('a db whose tag moved onto the same image is recreated when compose would do it anyway, not when its change is pending', () => {
    const s = state({ pinned: { mattermost: H_NEW, 'mattermost-db': H_NEW } });
    assert.equal(composeWouldRecreate(s, s.db, { 'com.docker.compose.config-hash': H_OLD }), true);
    assert.equal(composeWouldRecreate(s, s.db, { 'com.docker.compose.config-hash': H_NEW }), false);
    const pending = state({ pending: ['mattermost-db'], pinned: { 'mattermost-db': H_NEW } });
    assert.equal(composeWouldRecreate(pending, pending.db, { 'com.docker.compose.config-hash': H_OLD }), false);
    assert.equal(composeWouldRecreate(state(undefined), s.db, {}), false);
  });
});

describe('hashing the pinned file', () => {
  const tool = (config: { code: number; stdout?: string; stderr?: string }) => {
    const run: CommandRunner = async (argv) => (argv.includes('version') ? { code: 0, stdout: '1.29.2', stderr: '' } : { stdout: '', stderr: '', ...config });
    return new ComposeTool({ override: undefined, dockerHost: 'unix:///d.sock', run });
  };

  it('keeps the hashes of the moving services', async () => {
    const s = state({});
    assert.equal(await hashPinned({ ...deps, compose: tool({ code: 0, stdout: `mattermost ${H_NEW}\nmattermost-db ${H_NEW}\n` }) }, s), undefined);
    assert.deepEqual(s.compose!.pinned, { mattermost: H_NEW, 'mattermost-db': H_NEW });
  });

  it('a compose that worked for the plan but fails now: the old behaviour, and the reason for the report and the result', async () => {
    const s = state({});
    const line = await hashPinned({ ...deps, compose: tool({ code: 1, stderr: 'ERROR: Cannot connect to the Docker daemon' }) }, s);
    assert.equal(line, "compose's own config hash could not be computed (`docker-compose config --hash` failed (exit code 1): ERROR: Cannot connect to the Docker daemon)");
    assert.equal(s.compose!.cli, undefined);
    assert.deepEqual(composeLabelsFor(s, s.app, spec({})), { 'org.mattermost-upgrade-bot.config-hash': 'stale' });
    assert.deepEqual(upDOutlook(s)!.restarts, ['mattermost', 'mattermost-db']);
  });
});

describe('what is said of the next up -d', () => {
  it('the CLI plan: one line, naming the pending service or why there is no compose command', () => {
    const line = (s: UpgradeState) => describePlan(deps, s).filter((l) => /up -d/.test(l));
    assert.deepEqual(line(state({})), ['the recreated containers get the config hash docker-compose 1.29.2 computes: the next `docker compose up -d` changes nothing']);
    assert.deepEqual(line(state({ pending: ['mattermost'] })), [
      '`docker compose up -d` will apply pending changes to mattermost: a restart (the compose file holds changes that were never applied; they are left to you)',
    ]);
    assert.deepEqual(line(state({ cli: undefined, unavailable: 'no docker-compose 1.x on PATH' })), [
      'the next `docker compose up -d` will restart the containers recreated here once: no compose command to compute its config hash (no docker-compose 1.x on PATH)',
    ]);
    assert.deepEqual(line(state(undefined)), []);
  });

  it('the result: restarts are the recreated services without a fresh hash', () => {
    const done = state({ pinned: { mattermost: H_NEW, 'mattermost-db': H_NEW } });
    assert.deepEqual(upDOutlook(done), { cli: 'docker-compose 1.29.2', pending: [], restarts: [] });
    assert.equal(describeUpD(upDOutlook(done)!, 'result'), "nothing to recreate (the config hash is docker-compose 1.29.2's own)");
    const none = state({ cli: undefined, unavailable: 'no docker-compose 1.x on PATH' });
    none.db.recreate = false;
    assert.equal(describeUpD(upDOutlook(none)!, 'result'), 'the next `docker compose up -d` will restart mattermost once: no compose command to compute its config hash (no docker-compose 1.x on PATH)');
  });

  const result = (upD: unknown): JobResult => ({
    job: { id: 'j1', kind: 'upgrade', owner: 'cli:ana', startedAt: '2026-12-06T02:00:00.000Z', title: 'upgrade 1.0.0 → 1.1.0', subject: { from: '1.0.0', to: '1.1.0' } },
    outcome: 'succeeded',
    summary: '1.1.0 is serving',
    details: { from: '1.0.0', to: '1.1.0', upD },
    warnings: [],
    manualSteps: [],
    finishedAt: '2026-12-06T02:01:00.000Z',
    durationMs: 60_000,
  });

  it('the CLI result has an "On up -d" line', () => {
    assert.match(renderCliResult(result({ pending: ['mattermost'], restarts: ['mattermost'], cli: 'docker-compose 1.29.2' })), /^On up -d: +`docker compose up -d` will apply pending changes to mattermost: a restart/m);
  });

  it('chat: the plan warns, the result has its row, in English and in French', () => {
    const facts = { kind: 'upgrade' as const, newestBackup: undefined, history: [], requestedBy: 'ana', now: Date.parse('2026-12-06T02:00:00Z') };
    assert.match(renderPlan(messagesFor('en'), config, { ...facts, state: state({ pending: ['mattermost'] }) }), /- :warning: `docker compose up -d` will apply pending changes to `mattermost`: a restart\./);
    assert.match(renderPlan(messagesFor('fr'), config, { ...facts, state: state({ cli: undefined, unavailable: 'no docker-compose 1.x on PATH' }) }), /- :warning: Le prochain `docker compose up -d` redémarrera une fois les conteneurs recréés/);
    assert.doesNotMatch(renderPlan(messagesFor('en'), config, { ...facts, state: state({}) }), /up -d/, 'nothing to warn about');
    const chat = (upD: unknown, locale: 'en' | 'fr') => renderChatResult(messagesFor(locale), result(upD), emptyProgress(), 'UTC');
    assert.match(chat({ pending: [], restarts: [], cli: 'docker-compose 1.29.2' }, 'en'), /\| On `up -d` \| nothing to recreate \(config hash computed by docker-compose 1\.29\.2\) \|/);
    assert.match(chat({ pending: [], restarts: ['mattermost', 'mattermost-db'], unavailable: 'no docker-compose 1.x on PATH' }, 'fr'), /\| Au prochain `up -d` \| redémarrera une fois `mattermost`, `mattermost-db` \(aucune commande compose : no docker-compose 1\.x on PATH\) \|/);
  });

  it('chat status says whether the "On up -d" line was compared with compose or guessed', () => {
    const report = {
      app: { service: 'mattermost', container: 'pica-app', state: 'running', health: 'none', restartCount: 0, tag: '1.1.0', composeTag: '1.1.0', version: '1.1.0', server: { reachable: true, pingOk: true, version: '1.1.0' } },
      db: { service: 'mattermost-db', container: 'pica-db', state: 'running', health: 'none', restartCount: 0, tag: '1.1.0', composeTag: '1.1.0', version: '1.1.0', ready: true },
      drift: [],
      backup: { dir: '/b', newest: null },
      job: null,
      history: [],
      healthy: true,
      composeWouldRecreate: [],
      composeCheck: { checkedWith: 'docker-compose 1.29.2', guessBecause: null },
    } as unknown as StatusReport;
    assert.match(renderStatus(messagesFor('en'), report, 'UTC'), /docker-compose would change nothing _\(compared with the config hashes of docker-compose 1\.29\.2\)_/);
    const guessed = { ...report, composeWouldRecreate: [{ service: 'mattermost', container: 'pica-app', reason: 'r' }], composeCheck: { checkedWith: null, guessBecause: 'no docker-compose 1.x on PATH' } };
    assert.match(renderStatus(messagesFor('en'), guessed, 'UTC'), /docker-compose would recreate `pica-app` _\(a guess: no docker-compose 1\.x on PATH\)_/);
  });
});
