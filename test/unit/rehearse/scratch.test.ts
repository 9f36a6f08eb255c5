/** The scratch copy's settings: isolation from production, ports, data source; when to rehearse. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shouldRehearse } from '../../../src/core/rehearse/job.js';
import { spaceNeeded } from '../../../src/core/rehearse/run.js';
import { freeLoopbackPorts, REHEARSAL_LABEL, scratchAppBody, scratchDataSource, scratchDbBody, scratchNames } from '../../../src/core/rehearse/scratch.js';
import type { ContainerInspect, DockerEngine } from '../../../src/docker/engine.js';

const host = scratchNames('20270115T213000Z-rehearse-2b9c1e', 'host', { db: 31000, app: 32000 });
const bridged = scratchNames('20270115T213000Z-rehearse-2b9c1e', 'network', { db: 0, app: 0 });

describe('the scratch copy', () => {
  it('names and addresses: loopback ports on a host network, an internal network of its own otherwise', () => {
    assert.equal(host.db.container, 'mm-rehearsal-t213000z-rehearse-2b9c1e-db');
    assert.deepEqual([host.db.host, host.db.port, host.app.siteUrl, host.network], ['127.0.0.1', 31000, 'http://127.0.0.1:32000', undefined]);
    assert.deepEqual([bridged.db.host, bridged.db.port, bridged.network], ['mm-rehearsal-t213000z-rehearse-2b9c1e-db', 5432, 'mm-rehearsal-t213000z-rehearse-2b9c1e']);
  });

  it('the database: production image and POSTGRES_* only (a *_FILE secret read beforehand), its own volume at PGDATA, no production mount, file or port, loopback only, light', () => {
    const prod = {
      Image: 'sha256:db',
      Config: {
        Env: ['POSTGRES_USER=mmuser', 'POSTGRES_PASSWORD_FILE=/run/secrets/pg', 'POSTGRES_DB=mattermost', 'TZ=Europe/Paris', 'PGDATA=/data/pg'],
        Cmd: ['postgres', '-c', 'max_connections=300', '-c', 'config_file=/etc/postgresql/postgresql.conf', '-c', 'ssl_cert_file=/certs/a.pem', '-c', 'archive_mode=on'],
      },
      HostConfig: { Binds: ['/srv/db:/data/pg'], PortBindings: { '5432/tcp': [{ HostPort: '5432' }] } },
    } as unknown as ContainerInspect;
    const body = scratchDbBody(host, prod, ['PGDATA=/var/lib/postgresql/data'], { POSTGRES_PASSWORD: 'secret' }) as { Image: string; Env: string[]; Cmd: string[]; Labels: Record<string, string>; HostConfig: Record<string, unknown> };
    assert.equal(body.Image, 'sha256:db');
    assert.deepEqual(body.Env, ['POSTGRES_USER=mmuser', 'POSTGRES_DB=mattermost', 'PGDATA=/data/pg', 'POSTGRES_PASSWORD=secret', 'PGPORT=31000']);
    assert.deepEqual(body.Cmd.slice(0, 5), ['postgres', '-c', 'max_connections=300', '-c', 'archive_mode=on']);
    assert.ok(!body.Cmd.some((a) => /config_file|ssl_cert_file/.test(a)), 'no argument naming production files');
    assert.deepEqual(body.Cmd.slice(-4), ['-c', 'port=31000', '-c', 'listen_addresses=127.0.0.1']);
    assert.ok(body.Cmd.join(' ').includes('-c archive_mode=off') && body.Cmd.join(' ').includes('-c fsync=off'), body.Cmd.join(' '));
    assert.ok(body.Cmd.lastIndexOf('archive_mode=off') > body.Cmd.indexOf('archive_mode=on'), 'the light settings come last, so they win');
    assert.equal(body.Labels[REHEARSAL_LABEL], host.id);
    assert.deepEqual(body.HostConfig, { NetworkMode: 'host', Mounts: [{ Type: 'volume', Source: host.db.volume, Target: '/data/pg' }], RestartPolicy: { Name: 'no' }, OomScoreAdj: 1000 });
  });

  it('the app: production own environment without its database, replicas, config store or cluster; the isolation overrides', () => {
    const body = scratchAppBody(
      bridged,
      'registry.example.net/pica-mattermost:10.11.4',
      [
        'MM_SQLSETTINGS_DRIVERNAME=postgres',
        'MM_SQLSETTINGS_DATASOURCE=postgres://mmuser:pw@db:5432/mattermost',
        'MM_SQLSETTINGS_DATASOURCEREPLICAS=postgres://replica',
        'MM_CONFIG=postgres://mmuser:pw@db/mattermost',
        'MM_CLUSTERSETTINGS_ENABLE=true',
        'MM_SERVICESETTINGS_SITEURL=https://chat.example.org',
        'MM_FILESETTINGS_DRIVERNAME=amazons3',
        'MM_FILESETTINGS_AMAZONS3SECRETACCESSKEY=s3cret',
        'MM_ELASTICSEARCHSETTINGS_CONNECTIONURL=https://es.example.org',
        'MM_FEATUREFLAGS_SOMETHING=true',
        'AWS_SECRET_ACCESS_KEY=x',
        'TZ=Europe/Paris',
      ],
      'postgres://mmuser:pw@scratch-db:5432/mattermost',
      ['MM_CONFIG=postgres://baked@db/mattermost'],
    ) as { Env: string[]; HostConfig: Record<string, unknown> };
    const env = Object.fromEntries(body.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    assert.equal(env.MM_SQLSETTINGS_DRIVERNAME, 'postgres');
    assert.equal(env.TZ, 'Europe/Paris');
    assert.equal(env.MM_SQLSETTINGS_DATASOURCE, 'postgres://mmuser:pw@scratch-db:5432/mattermost');
    assert.equal(env.MM_SQLSETTINGS_DATASOURCEREPLICAS, undefined, 'not set at all: an empty list variable is one empty replica');
    assert.equal(env.MM_CONFIG, '/tmp/mm-rehearsal-config.json', "the target image's database config store is replaced by a file");
    assert.equal(env.MM_FILESETTINGS_DRIVERNAME, 'local');
    for (const k of ['MM_FILESETTINGS_AMAZONS3SECRETACCESSKEY', 'MM_ELASTICSEARCHSETTINGS_CONNECTIONURL', 'AWS_SECRET_ACCESS_KEY']) assert.equal(env[k], undefined, k);
    assert.equal(env.MM_FEATUREFLAGS_SOMETHING, 'true');
    assert.equal(env.MM_SERVICESETTINGS_SITEURL, 'http://127.0.0.1:8065');
    for (const k of ['MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS', 'MM_EMAILSETTINGS_SENDPUSHNOTIFICATIONS', 'MM_JOBSETTINGS_RUNJOBS', 'MM_PLUGINSETTINGS_ENABLEMARKETPLACE', 'MM_CLUSTERSETTINGS_ENABLE', 'MM_LOGSETTINGS_ENABLEDIAGNOSTICS']) assert.equal(env[k], 'false', k);
    assert.equal(body.Env.filter((e) => e.startsWith('MM_CLUSTERSETTINGS_ENABLE=')).length, 1, 'production cluster setting dropped');
    assert.deepEqual(body.HostConfig, { NetworkMode: bridged.network, RestartPolicy: { Name: 'no' }, OomScoreAdj: 1000 });
  });

  it('the data source keeps production user, password, database and parameters, with the copy host and port', () => {
    assert.equal(scratchDataSource(host, 'postgres://mmuser:p%40ss@db:5432/mattermost?sslmode=disable&connect_timeout=10', { user: 'x', password: 'y', db: 'z' }), 'postgres://mmuser:p%40ss@127.0.0.1:31000/mattermost?sslmode=disable&connect_timeout=10');
    assert.equal(scratchDataSource(host, undefined, { user: 'mm user', password: 'p@ss', db: 'mattermost' }), 'postgres://mm%20user:p%40ss@127.0.0.1:31000/mattermost?sslmode=disable&connect_timeout=10');
  });

  it('free loopback ports: none that the host socket table lists', async () => {
    const table = ['  sl  local_address rem_address   st', '   0: 0100007F:7918 00000000:0000 0A', '   1: 00000000:1F90 00000000:0000 0A'].join('\n');
    const engine = { exec: async () => ({ exitCode: 0, stdout: table, stderr: '' }) } as unknown as DockerEngine;
    let i = 0;
    const seq = [(0x7918 - 20_000) / 12_000, 0.5, 0.25];
    const ports = await freeLoopbackPorts(engine, 'app', 2, () => seq[i++]!);
    assert.deepEqual(ports, [26_000, 23_000], 'below the ephemeral range, none in use');
  });

  it('REHEARSAL=auto rehearses a minor or major change, not a patch; always and never', () => {
    assert.equal(shouldRehearse('auto', '10.5.2', '10.11.4'), true);
    assert.equal(shouldRehearse('auto', '9.11.5', '10.5.2'), true);
    assert.equal(shouldRehearse('auto', '10.11.3', '10.11.4'), false);
    assert.equal(shouldRehearse('always', '10.11.3', '10.11.4'), true);
    assert.equal(shouldRehearse('never', '9.11.5', '10.5.2'), false);
  });

  it('the size guard asks for the database size and a margin of a fifth, at least 1 GB', () => {
    assert.equal(spaceNeeded(100 * 1024 * 1024), 1124 * 1024 * 1024);
    assert.equal(spaceNeeded(10 * 1024 ** 3), 12 * 1024 ** 3);
  });
});
