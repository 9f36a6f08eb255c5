/** The Docker adapter against the bed's real dockerd, registry and compose deployments. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDockerHost } from '../../src/config/index.js';
import { DockerError, ErrorCode } from '../../src/common/errors.js';
import { DockerodeEngine } from '../../src/docker/dockerode-engine.js';
import type { PullProgress } from '../../src/docker/engine.js';
import { deploy, readRows, waitForApp, type Deployment } from '../bed/deploy.js';
import { run, waitFor } from '../bed/proc.js';
import { currentBed } from '../bed/state.js';

const bed = currentBed();
const engine = new DockerodeEngine(parseDockerHost(bed.dockerHost)!);
const docker = (args: string[]) => run('docker', args, { env: { ...process.env, DOCKER_HOST: bed.dockerHost } });

describe('DockerodeEngine', () => {
  let team: Deployment;
  before(async () => {
    team = await deploy('team', { stopDelayMs: 50 });
  });
  after(async () => {
    await team?.down();
  });

  it('answers ping, and says clearly when the Engine is not there', async () => {
    await engine.ping();
    const nowhere = new DockerodeEngine({ kind: 'socket', socketPath: '/nonexistent/docker.sock' });
    await assert.rejects(nowhere.ping(), (err: unknown) => err instanceof DockerError && err.code === ErrorCode.DockerUnavailable && /not reachable at unix:\/\/\/nonexistent\/docker.sock/.test(err.message));
  });

  it('asks the registry about a tag without pulling it', async () => {
    const ref = `${bed.images.app}:1.1.0`;
    // Other test files upgrade to 1.1.0 on the same engine: start without a local copy.
    if (await engine.inspectImage(ref)) await engine.removeImage(ref);
    const manifest = await engine.registryManifest(ref);
    assert.match(manifest?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(await engine.inspectImage(ref), undefined, 'asking must not pull');
    assert.equal(await engine.registryManifest(`${bed.images.app}:9.9.9`), undefined, 'a missing tag');
    assert.equal(await engine.registryManifest(`${bed.registry}/no-such-repository:1.0.0`), undefined, 'a missing repository');
  });

  it('pulls with progress, and fails on a missing tag with the registry\'s reason', async () => {
    const ref = `${bed.images.app}:2.0.0`;
    // Other test files upgrade to 2.0.0 on the same engine: start without a local copy, so layers download.
    if (await engine.inspectImage(ref)) await engine.removeImage(ref);
    const events: PullProgress[] = [];
    await engine.pull(ref, (p) => events.push(p));
    assert.ok((await engine.inspectImage(ref)) !== undefined);
    assert.ok(events.some((e) => /Download complete|Pull complete|Already exists/.test(e.status)), JSON.stringify(events.slice(0, 5)));
    assert.ok(events.some((e) => e.status.startsWith('Status:')));
    await assert.rejects(engine.pull(`${bed.images.app}:9.9.9`), (err: unknown) => err instanceof DockerError && /9\.9\.9/.test(err.message) && /not found|manifest unknown/i.test(err.message));
    const listed = await engine.listImages(bed.images.app);
    assert.ok(listed.some((i) => i.tags.includes(ref)));
  });

  it('finds containers by name and by compose labels', async () => {
    const byName = await engine.inspectContainer(team.appContainer);
    assert.equal(byName?.Name, `/${team.appContainer}`);
    const byLabels = await engine.findContainers({ 'com.docker.compose.project': team.project, 'com.docker.compose.service': 'mattermost-db' });
    assert.deepEqual(byLabels.map((c) => c.name), [team.dbContainer]);
    assert.equal(await engine.inspectContainer('no-such-container'), undefined);
  });

  it('execs with stdout and stderr apart and the exit code from inspect', async () => {
    const r = await engine.exec(team.dbContainer, ['sh', '-c', 'echo to-out; echo to-err >&2; exit 3']);
    assert.deepEqual(r, { exitCode: 3, stdout: 'to-out\n', stderr: 'to-err\n' });
    const ready = await engine.exec(team.dbContainer, ['pg_isready', '-U', 'mmuser', '-d', 'mattermost']);
    assert.equal(ready.exitCode, 0, ready.stderr);
  });

  it('streams a pg_dump to a file that pg_restore accepts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dump-'));
    const file = join(dir, 'mattermost.dump');
    const r = await engine.exec(team.dbContainer, ['pg_dump', '-U', 'mmuser', '-Fc', 'mattermost'], { stdout: createWriteStream(file) });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, '', 'streamed, not collected');
    assert.ok(statSync(file).size > 1000);
    await docker(['cp', file, `${team.dbContainer}:/tmp/check.dump`]);
    const list = await engine.exec(team.dbContainer, ['pg_restore', '--list', '/tmp/check.dump']);
    assert.equal(list.exitCode, 0, list.stderr);
    assert.match(list.stdout, /TABLE DATA public posts/);
    assert.match(list.stdout, /TABLE DATA public systems/);
  });

  it('reads logs since a time', async () => {
    const all = await engine.logs(team.appContainer);
    assert.ok(all.some((l) => /Server is listening/.test(l.text)), all.map((l) => l.text).join('\n'));
    assert.ok(all.every((l) => l.time instanceof Date));
    const future = await engine.logs(team.appContainer, { since: new Date(Date.now() + 60_000) });
    assert.deepEqual(future, []);
  });

  it('treats stopping a stopped container as done', async () => {
    await docker(['run', '-d', '--name', `${team.project}-scratch`, '--network', 'host', '--entrypoint', 'sh', `${bed.images.postgres}:15`, '-c', 'exit 0']);
    await waitFor('the scratch container to exit', async () => ((await engine.inspectContainer(`${team.project}-scratch`))?.State.Running === false ? true : undefined));
    assert.equal(await engine.stopContainer(`${team.project}-scratch`, 1), 'already-stopped');
    await engine.removeContainer(`${team.project}-scratch`);
    assert.equal(await engine.inspectContainer(`${team.project}-scratch`), undefined);
    await assert.rejects(engine.stopContainer('no-such-container', 1), (err: unknown) => err instanceof DockerError && err.code === ErrorCode.NotFound);
  });

  it('recreates a container with another image, keeping its own settings and its data', async () => {
    const before = (await engine.inspectContainer(team.appContainer))!;
    const dbBefore = (await engine.inspectContainer(team.dbContainer))!;
    const appSpec = await engine.captureSpec(team.appContainer);
    const dbSpec = await engine.captureSpec(team.dbContainer);
    const newApp = `${bed.images.app}:1.1.0`;
    const newDb = `${bed.images.db}:1.1.0`;
    await engine.pull(newApp);
    await engine.pull(newDb);

    assert.equal(await engine.stopContainer(team.appContainer, 10), 'stopped');
    assert.equal(await engine.stopContainer(team.dbContainer, 60), 'stopped');
    await engine.removeContainer(team.appContainer);
    await engine.removeContainer(team.dbContainer);
    const dbId = await engine.createFromSpec(dbSpec, newDb);
    await engine.startContainer(dbId);
    await waitFor('PostgreSQL', async () => ((await engine.exec(dbId, ['pg_isready', '-U', 'mmuser'])).exitCode === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
    const appId = await engine.createFromSpec(appSpec, newApp);
    await engine.startContainer(appId);
    await waitForApp(team.appUrl, '1.1.0');

    for (const [old, id, ref] of [[before, appId, newApp], [dbBefore, dbId, newDb]] as const) {
      const now = (await engine.inspectContainer(id))!;
      assert.equal(now.Name, old.Name, 'same name');
      assert.equal(now.Config.Image, ref);
      assert.notEqual(now.Image, old.Image, 'another image');
      const ownEnv = (env: string[]) => env.filter((e) => !e.startsWith('MM_BUILD_VERSION=') && !e.startsWith('PG_'));
      assert.deepEqual(ownEnv(now.Config.Env).sort(), ownEnv(old.Config.Env).sort(), 'env kept');
      assert.deepEqual(now.HostConfig.Binds, old.HostConfig.Binds, 'mounts kept');
      assert.deepEqual(now.Mounts.map((m) => [m.Type, m.Name ?? m.Source, m.Destination]).sort(), old.Mounts.map((m) => [m.Type, m.Name ?? m.Source, m.Destination]).sort());
      assert.deepEqual(now.HostConfig.RestartPolicy, old.HostConfig.RestartPolicy, 'restart policy kept');
      assert.equal(now.HostConfig.NetworkMode, old.HostConfig.NetworkMode, 'network mode kept');
      assert.deepEqual(now.HostConfig.LogConfig, old.HostConfig.LogConfig, 'log config kept');
      for (const [k, v] of Object.entries(old.Config.Labels)) {
        if (k.startsWith('com.docker.compose.') || k.startsWith('org.pica.')) assert.equal(now.Config.Labels[k], v, `label ${k} kept`);
      }
      assert.deepEqual(now.Config.Healthcheck, old.Config.Healthcheck, 'healthcheck kept');
      assert.equal((now.Config as { StopSignal?: string }).StopSignal, (old.Config as { StopSignal?: string }).StopSignal);
    }
    const appNow = (await engine.inspectContainer(appId))!;
    assert.ok(appNow.Config.Env.includes('MM_BUILD_VERSION=1.1.0'), 'the new image\'s own env applies, not the old one\'s');
    assert.deepEqual(await readRows(team.appUrl), team.rows, 'the rows written before are still there');
  });
});
