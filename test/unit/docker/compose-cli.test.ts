/** Which compose command hashes for which containers, its command line, its output, its environment. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseComposeCli, composeEnv, ComposeTool, flavourOf, hashCommand, parseHashes, type CommandRunner } from '../../../src/docker/compose-cli/index.js';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);
const project = { files: ['/srv/mm/docker-compose.yml', '/srv/mm/docker-compose.postgres.yml'], project: 'mm', workingDir: '/srv/mm' };

/** A PATH holding these commands, each answering `version --short` with its version. */
function path(commands: Record<string, string>) {
  const asked: string[] = [];
  const probe = async (argv: string[]) => {
    asked.push(argv.join(' '));
    return commands[argv.join(' ')];
  };
  return { probe, asked };
}

describe('compose flavour', () => {
  it('1.x is docker-compose (Python); 2.x and later (5.0.0 too) the Go rewrite', () => {
    assert.equal(flavourOf('1.29.2'), 'v1');
    assert.equal(flavourOf('2.29.7'), 'v2');
    assert.equal(flavourOf('v2.20.2'), 'v2');
    assert.equal(flavourOf('5.0.0'), 'v2');
    assert.equal(flavourOf(undefined), undefined);
    assert.equal(flavourOf('nonsense'), undefined);
  });

  it('containers made by 2.x: the docker compose plugin first', async () => {
    const p = path({ 'docker compose': '2.29.7', 'docker-compose': '1.29.2' });
    assert.deepEqual(await chooseComposeCli({ override: undefined, createdBy: '2.24.0', probe: p.probe }), { cli: { argv: ['docker', 'compose'], version: '2.29.7', flavour: 'v2' } });
  });

  it('containers made by 2.x and no plugin: a standalone docker-compose 2.x, never a 1.x', async () => {
    const standalone = path({ 'docker-compose': 'v2.29.7' });
    assert.deepEqual(await chooseComposeCli({ override: undefined, createdBy: '2.24.0', probe: standalone.probe }), { cli: { argv: ['docker-compose'], version: '2.29.7', flavour: 'v2' } });
    assert.deepEqual(standalone.asked, ['docker compose', 'docker-compose']);
    const old = path({ 'docker-compose': '1.29.2' });
    const r = await chooseComposeCli({ override: undefined, createdBy: '2.24.0', probe: old.probe });
    assert.ok('unavailable' in r);
    assert.match(r.unavailable, /neither `docker compose` nor a docker-compose 2\.x or later on PATH \(the containers were created by docker compose 2\.24\.0; set COMPOSE_CLI/);
  });

  it('containers made by 1.29.2: docker-compose 1.x only, not the plugin', async () => {
    const p = path({ 'docker compose': '2.29.7', 'docker-compose': '1.29.2' });
    assert.deepEqual(await chooseComposeCli({ override: undefined, createdBy: '1.29.2', probe: p.probe }), { cli: { argv: ['docker-compose'], version: '1.29.2', flavour: 'v1' } });
    assert.deepEqual(p.asked, ['docker-compose']);
    const plugin = path({ 'docker compose': '2.29.7' });
    const r = await chooseComposeCli({ override: undefined, createdBy: '1.29.2', probe: plugin.probe });
    assert.deepEqual(r, { unavailable: 'no docker-compose 1.x on PATH (the containers were created by docker compose 1.29.2; set COMPOSE_CLI to name it)' });
  });

  it('COMPOSE_CLI wins whatever the labels say; one that does not run is said', async () => {
    const p = path({ '/opt/compose/bin/docker-compose': '2.30.0' });
    assert.deepEqual(await chooseComposeCli({ override: ['/opt/compose/bin/docker-compose'], createdBy: '1.29.2', probe: p.probe }), {
      cli: { argv: ['/opt/compose/bin/docker-compose'], version: '2.30.0', flavour: 'v2' },
    });
    const r = await chooseComposeCli({ override: ['docker', 'compose'], createdBy: '2.1.0', probe: path({}).probe });
    assert.deepEqual(r, { unavailable: 'COMPOSE_CLI="docker compose" does not run (`docker compose version --short` failed)' });
  });

  it('containers docker compose did not create: no command is asked', async () => {
    const p = path({ 'docker compose': '2.29.7' });
    const r = await chooseComposeCli({ override: undefined, createdBy: undefined, probe: p.probe });
    assert.ok('unavailable' in r && /no com\.docker\.compose\.version label/.test(r.unavailable));
    assert.deepEqual(p.asked, []);
  });
});

describe('config --hash', () => {
  it('the v2 command line: plugin, project, project directory, every file, the services joined by commas', () => {
    assert.deepEqual(hashCommand({ argv: ['docker', 'compose'], version: '2.29.7', flavour: 'v2' }, project, ['mattermost', 'postgres']), [
      'docker', 'compose', '-p', 'mm', '--project-directory', '/srv/mm', '-f', '/srv/mm/docker-compose.yml', '-f', '/srv/mm/docker-compose.postgres.yml', 'config', '--hash=mattermost,postgres',
    ]);
  });

  it('the v1 command line', () => {
    assert.deepEqual(hashCommand({ argv: ['docker-compose'], version: '1.29.2', flavour: 'v1' }, { ...project, files: ['/srv/mm/docker-compose.yml'] }, ['mattermost']), [
      'docker-compose', '-p', 'mm', '--project-directory', '/srv/mm', '-f', '/srv/mm/docker-compose.yml', 'config', '--hash=mattermost',
    ]);
  });

  it('reads `service hash` lines, ignores the rest, and says which service is missing', () => {
    assert.deepEqual(parseHashes(`mattermost ${H1}\npostgres ${H2}\n`, ['postgres', 'mattermost']), { postgres: H2, mattermost: H1 });
    assert.deepEqual(parseHashes(`WARNING: something\nmattermost ${H1}\n`, ['mattermost']), { mattermost: H1 });
    assert.throws(() => parseHashes(`mattermost ${H1}\n`, ['mattermost', 'postgres']), /no hash for postgres/);
    assert.throws(() => parseHashes('mattermost not-a-hash\n', ['mattermost']), /no hash for mattermost/);
  });

  it("runs with the bot's engine and none of the bot's own variables", () => {
    const env = composeEnv('unix:///run/docker.sock', { PATH: '/usr/bin', HOME: '/root', MM_BOT_TOKEN: 'secret', COMPOSE_FILE: '/x.yml', DB_PASSWORD: 'pw', DOCKER_CONFIG: '/root/.docker' });
    assert.deepEqual(env, { DOCKER_HOST: 'unix:///run/docker.sock', LANG: 'C.UTF-8', COMPOSE_INTERACTIVE_NO_CLI: '1', PATH: '/usr/bin', HOME: '/root', DOCKER_CONFIG: '/root/.docker' });
  });
});

describe('ComposeTool', () => {
  const runner = (answers: Record<string, { code: number; stdout?: string; stderr?: string }>) => {
    const calls: Array<{ argv: string[]; cwd: string; env: NodeJS.ProcessEnv }> = [];
    const run: CommandRunner = async (argv, opts) => {
      calls.push({ argv, cwd: opts.cwd, env: opts.env });
      const key = argv.includes('version') ? `${argv.slice(0, -2).join(' ')} version` : `${argv[0]} config`;
      const a = answers[key] ?? { code: -1, stderr: 'spawn ENOENT' };
      return { code: a.code, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
    };
    return { run, calls };
  };

  it('finds the command once, runs config --hash in the working directory with DOCKER_HOST, and gives the hashes', async () => {
    const r = runner({ 'docker-compose version': { code: 0, stdout: '1.29.2\n' }, 'docker-compose config': { code: 0, stdout: `mattermost ${H1}\nmattermost-db ${H2}\n` } });
    const tool = new ComposeTool({ override: undefined, dockerHost: 'unix:///tmp/d.sock', run: r.run, env: { PATH: '/usr/bin' } });
    const services = ['mattermost', 'mattermost-db'];
    assert.deepEqual(await tool.hashes('1.29.2', project, services), { cli: 'docker-compose 1.29.2', flavour: 'v1', hashes: { mattermost: H1, 'mattermost-db': H2 } });
    await tool.hashes('1.29.2', project, services);
    assert.equal(r.calls.filter((c) => c.argv.includes('version')).length, 1, 'the version is asked once');
    const hashCall = r.calls.find((c) => c.argv.includes('config'))!;
    assert.equal(hashCall.cwd, '/srv/mm');
    assert.equal(hashCall.env.DOCKER_HOST, 'unix:///tmp/d.sock');
  });

  it('a failing compose gives its first error line, never throws', async () => {
    const r = runner({ 'docker-compose version': { code: 0, stdout: '1.29.2' }, 'docker-compose config': { code: 1, stderr: '\nERROR: Couldn\'t connect to Docker daemon\nmore\n' } });
    const tool = new ComposeTool({ override: undefined, dockerHost: 'unix:///tmp/d.sock', run: r.run });
    assert.deepEqual(await tool.hashes('1.29.2', project, ['mattermost']), { unavailable: "`docker-compose config --hash` failed (exit code 1): ERROR: Couldn't connect to Docker daemon" });
    const none = new ComposeTool({ override: undefined, dockerHost: 'unix:///tmp/d.sock', run: runner({}).run });
    assert.match(((await none.hashes('1.29.2', project, ['mattermost'])) as { unavailable: string }).unavailable, /no docker-compose 1\.x on PATH/);
  });
});
