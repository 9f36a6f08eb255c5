import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { specFromInspect } from '../../../src/docker/container-spec.js';
import type { ContainerInspect, ImageInspect } from '../../../src/docker/engine.js';
import { demuxBuffer, DemuxStdout } from '../../../src/docker/demux.js';

const ID = 'a1b2c3d4e5f6' + '0'.repeat(52);

function image(config: Record<string, unknown>): ImageInspect {
  return { Id: 'sha256:old', Config: config } as unknown as ImageInspect;
}

function container(config: Record<string, unknown>, host: Record<string, unknown>, extra: Record<string, unknown> = {}): ContainerInspect {
  return {
    Id: ID,
    Name: '/pica-app',
    Image: 'sha256:old',
    Config: { Hostname: ID.slice(0, 12), Image: 'reg:5000/pica-mattermost:1.0.0', ...config },
    HostConfig: host,
    Mounts: [],
    NetworkSettings: { Networks: {} },
    ...extra,
  } as unknown as ContainerInspect;
}

const oldImage = image({
  Env: ['PATH=/usr/local/bin:/bin', 'MM_BUILD_VERSION=1.0.0'],
  Entrypoint: ['/usr/local/bin/node'],
  Cmd: ['/mattermost/server.js'],
  Labels: { 'org.opencontainers.image.version': '1.0.0', vendor: 'pica' },
  User: 'mattermost',
  WorkingDir: '/mattermost',
  ExposedPorts: { '8065/tcp': {} },
  Volumes: { '/mattermost/data': {} },
});

describe('specFromInspect', () => {
  it('keeps what was set for the container and drops what the old image gave it', () => {
    const c = container(
      {
        Env: ['PATH=/usr/local/bin:/bin', 'MM_BUILD_VERSION=1.0.0', 'MM_SQLSETTINGS_DATASOURCE=postgres://x', 'TZ=UTC'],
        Entrypoint: ['/usr/local/bin/node'],
        Cmd: ['/mattermost/server.js', '--verbose'],
        Labels: { 'org.opencontainers.image.version': '1.0.0', vendor: 'pica', 'com.docker.compose.project': 'pica', 'com.docker.compose.service': 'mattermost' },
        User: 'mattermost',
        WorkingDir: '/mattermost',
        StopSignal: 'SIGINT',
        StopTimeout: 30,
        Healthcheck: { Test: ['CMD', '/usr/local/bin/node', '/mattermost/healthcheck.js'], Interval: 2e9 },
        ExposedPorts: { '8065/tcp': {} },
        Volumes: { '/mattermost/data': {} },
      },
      { NetworkMode: 'host', RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 }, Binds: ['/srv/pica/config:/mattermost/config:rw'], LogConfig: { Type: 'json-file', Config: { 'max-size': '10m' } } },
      { Mounts: [{ Type: 'volume', Name: 'anon123', Destination: '/mattermost/data', RW: true }, { Type: 'bind', Source: '/srv/pica/config', Destination: '/mattermost/config', RW: true }] },
    );
    const spec = specFromInspect(c, oldImage);
    assert.equal(spec.name, 'pica-app');
    assert.equal(spec.image, 'reg:5000/pica-mattermost:1.0.0');
    assert.equal(spec.imageId, 'sha256:old');
    const create = spec.create as Record<string, unknown>;
    assert.deepEqual(create.Env, ['MM_SQLSETTINGS_DATASOURCE=postgres://x', 'TZ=UTC'], 'the old image env must not stick to the new image');
    assert.deepEqual(create.Labels, { 'com.docker.compose.project': 'pica', 'com.docker.compose.service': 'mattermost' });
    assert.deepEqual(create.Cmd, ['/mattermost/server.js', '--verbose'], 'a command override stays');
    assert.equal(create.Entrypoint, undefined, 'the image entrypoint is not pinned');
    assert.equal(create.User, undefined);
    assert.equal(create.WorkingDir, undefined);
    assert.equal(create.StopSignal, 'SIGINT');
    assert.equal(create.StopTimeout, 30);
    assert.deepEqual(create.Healthcheck, { Test: ['CMD', '/usr/local/bin/node', '/mattermost/healthcheck.js'], Interval: 2e9 });
    assert.equal(create.ExposedPorts, undefined);
    assert.equal(create.Hostname, undefined, 'no hostname on the host network');
    const host = create.HostConfig as Record<string, unknown>;
    assert.equal(host.NetworkMode, 'host');
    assert.deepEqual(host.RestartPolicy, { Name: 'unless-stopped', MaximumRetryCount: 0 });
    assert.deepEqual(host.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m' } });
    assert.deepEqual(host.Binds, ['/srv/pica/config:/mattermost/config:rw', 'anon123:/mattermost/data'], 'the anonymous volume is carried over by name');
    assert.equal(create.NetworkingConfig, undefined);
    assert.deepEqual(spec.extraNetworks, []);
  });

  it('keeps an entrypoint override together with its command, and a chosen hostname and networks', () => {
    const c = container(
      { Env: [], Entrypoint: ['/bin/sh', '-c'], Cmd: null, Hostname: 'chat', User: 'root' },
      { NetworkMode: 'pica_default', Binds: null },
      {
        NetworkSettings: {
          Networks: {
            pica_default: { Aliases: ['mattermost', ID.slice(0, 12)], IPAMConfig: null },
            backend: { Aliases: ['app'], IPAMConfig: { IPv4Address: '172.30.0.5' } },
          },
        },
      },
    );
    const spec = specFromInspect(c, oldImage);
    const create = spec.create as Record<string, unknown>;
    assert.deepEqual(create.Entrypoint, ['/bin/sh', '-c']);
    assert.equal(create.Cmd, undefined);
    assert.equal(create.Hostname, 'chat');
    assert.equal(create.User, 'root');
    assert.deepEqual(create.NetworkingConfig, { EndpointsConfig: { pica_default: { Aliases: ['mattermost'] } } });
    assert.deepEqual(spec.extraNetworks, [{ name: 'backend', endpoint: { Aliases: ['app'], IPAMConfig: { IPv4Address: '172.30.0.5' } } }]);
  });
});

describe('Docker stream demultiplexing', () => {
  const frame = (type: number, text: string): Buffer => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = type;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };

  it('splits a whole buffer into stdout and stderr', () => {
    const buf = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n')]);
    const { stdout, stderr } = demuxBuffer(buf);
    assert.equal(stdout.toString(), 'out 1\nout 2\n');
    assert.equal(stderr.toString(), 'err 1\n');
    assert.equal(demuxBuffer(Buffer.from('raw tty text')).stdout.toString(), 'raw tty text');
  });

  it('streams stdout frames split across chunks and sends stderr aside', async () => {
    const errors: string[] = [];
    const demux = new DemuxStdout((b) => errors.push(b.toString()));
    const out: string[] = [];
    demux.on('data', (b: Buffer) => out.push(b.toString()));
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'warning\n'), frame(1, 'world')]);
    for (let i = 0; i < all.length; i += 5) demux.write(all.subarray(i, i + 5));
    demux.end();
    await new Promise((r) => demux.on('end', r));
    assert.equal(out.join(''), 'hello world');
    assert.deepEqual(errors, ['warning\n']);
  });

  const through = async (demux: DemuxStdout, input: Buffer, cuts: number[]): Promise<Buffer> => {
    const out: Buffer[] = [];
    demux.on('data', (b: Buffer) => out.push(b));
    let at = 0;
    for (const cut of [...cuts, input.length]) {
      demux.write(input.subarray(at, cut));
      at = cut;
    }
    demux.end();
    await new Promise((r) => demux.on('end', r));
    return Buffer.concat(out);
  };

  it('gives stdout back byte for byte wherever the chunks are cut, stderr frames whole', async () => {
    const payloads = Array.from({ length: 40 }, (_, i) => Buffer.from(Array.from({ length: (i * 977) % 5000 }, (_, j) => (i * 31 + j * 7) % 256)));
    const isStderr = (i: number): boolean => i % 7 === 3;
    const input = Buffer.concat(
      payloads.map((p, i) => {
        const header = Buffer.alloc(8);
        header[0] = isStderr(i) ? 2 : 1;
        header.writeUInt32BE(p.length, 4);
        return Buffer.concat([header, p]);
      }),
    );
    const expected = Buffer.concat(payloads.filter((_, i) => !isStderr(i)));
    const expectedErrors = payloads.filter((_, i) => isStderr(i)).map((p) => p.toString('latin1'));
    for (const step of [1, 3, 8, 9, 4096, 65536]) {
      const errors: string[] = [];
      const cuts = Array.from({ length: Math.floor(input.length / step) }, (_, i) => (i + 1) * step).filter((c) => c < input.length);
      const out = await through(new DemuxStdout((b) => errors.push(b.toString('latin1'))), input, cuts);
      assert.ok(out.equals(expected), `chunks of ${step} bytes`);
      assert.deepEqual(errors, expectedErrors, `chunks of ${step} bytes`);
    }
  });

  it('passes a stream that is not multiplexed through as it is', async () => {
    const raw = Buffer.from('PGDMP\u0001\u000e\u0000 a custom-format dump, not a frame header');
    assert.equal((await through(new DemuxStdout(() => undefined), raw, [3, 10])).toString(), raw.toString());
  });
});
