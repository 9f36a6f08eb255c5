/**
 * The registry tag lists against a small registry on loopback that speaks the v2 protocol:
 * pages through Link, the Bearer-token challenge, Basic auth, wrong credentials named clearly.
 * And the release watch's choice of versions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listTags, repositoryOf } from '../../../src/registry/tags.js';
import { watchReleases, type Suggestion } from '../../../src/schedule/release-watch.js';

const TAGS = ['1.0.0', '1.1.0', 'latest', '2.0.0', '2.1.0-rc1', '10.11.4'];
const USER = 'ci';
const PASS = 's3cret';

/** mode: open | bearer (token realm on the same server) | basic. Pages of 2 tags. */
function registry(mode: 'open' | 'bearer' | 'basic'): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    hits.push(`${req.method} ${url.pathname}${url.search} ${req.headers.authorization ?? '-'}`);
    const host = `http://${req.headers.host}`;
    if (url.pathname === '/token') {
      const basic = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
      if (req.headers.authorization && req.headers.authorization !== basic) return void res.writeHead(401).end();
      assert.equal(url.searchParams.get('service'), 'registry.test');
      assert.equal(url.searchParams.get('scope'), 'repository:mattermost/mattermost-team-edition:pull');
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 'tok-123' }));
    }
    const auth = req.headers.authorization;
    const ok = mode === 'open' || (mode === 'bearer' && auth === 'Bearer tok-123') || (mode === 'basic' && auth === `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`);
    if (!ok) {
      const challenge = mode === 'bearer' ? `Bearer realm="${host}/token",service="registry.test",scope="repository:mattermost/mattermost-team-edition:pull"` : 'Basic realm="Registry Realm"';
      return void res.writeHead(401, { 'WWW-Authenticate': challenge, 'Content-Type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    }
    if (url.pathname !== '/v2/mattermost/mattermost-team-edition/tags/list') return void res.writeHead(404).end('{"errors":[{"code":"NAME_UNKNOWN"}]}');
    const last = url.searchParams.get('last');
    const start = last ? TAGS.indexOf(last) + 1 : 0;
    const page = TAGS.slice(start, start + 2);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (start + 2 < TAGS.length) headers.Link = `</v2/mattermost/mattermost-team-edition/tags/list?last=${page.at(-1)}&n=2>; rel="next"`;
    res.writeHead(200, headers).end(JSON.stringify({ name: 'mattermost/mattermost-team-edition', tags: page }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server })));
}

describe('registry tag lists', () => {
  const servers: Server[] = [];
  let open: Awaited<ReturnType<typeof registry>>;
  let bearer: Awaited<ReturnType<typeof registry>>;
  let basic: Awaited<ReturnType<typeof registry>>;
  before(async () => {
    [open, bearer, basic] = await Promise.all([registry('open'), registry('bearer'), registry('basic')]);
    servers.push(open.server, bearer.server, basic.server);
  });
  after(() => servers.forEach((s) => s.close()));

  it('where an image lives: Docker Hub, a private registry, http only on loopback', () => {
    assert.deepEqual(repositoryOf('mattermost/mattermost-team-edition'), { host: 'registry-1.docker.io', name: 'mattermost/mattermost-team-edition', scheme: 'https' });
    assert.deepEqual(repositoryOf('postgres:15'), { host: 'registry-1.docker.io', name: 'library/postgres', scheme: 'https' });
    assert.deepEqual(repositoryOf('registry.example.net:5000/pica-mattermost'), { host: 'registry.example.net:5000', name: 'pica-mattermost', scheme: 'https' });
    assert.deepEqual(repositoryOf('127.0.0.1:5000/mattermost/mattermost-team-edition:1.0.0'), { host: '127.0.0.1:5000', name: 'mattermost/mattermost-team-edition', scheme: 'http' });
  });

  it('follows the Link pages', async () => {
    assert.deepEqual(await listTags(repositoryOf(`${open.url}/mattermost/mattermost-team-edition`), undefined), TAGS);
    assert.equal(open.hits.length, 3, 'three pages');
  });

  it("answers a Bearer challenge with a token from the realm (anonymous, as on Docker Hub)", async () => {
    assert.deepEqual(await listTags(repositoryOf(`${bearer.url}/mattermost/mattermost-team-edition`), undefined), TAGS);
    assert.ok(bearer.hits.some((h) => h.startsWith('GET /token?')));
    assert.ok(bearer.hits.filter((h) => h.includes('tags/list')).slice(1).every((h) => h.endsWith('Bearer tok-123')), 'the token is kept across pages');
  });

  it('Basic auth with REGISTRY_USER/REGISTRY_PASSWORD; wrong or missing ones are named', async () => {
    const repo = repositoryOf(`${basic.url}/mattermost/mattermost-team-edition`);
    assert.deepEqual(await listTags(repo, { username: USER, password: PASS }), TAGS);
    await assert.rejects(listTags(repo, { username: USER, password: 'wrong' }), /the registry refused REGISTRY_USER "ci" and its password/);
    await assert.rejects(listTags(repo, undefined), /the registry requires credentials/);
    await assert.rejects(listTags(repositoryOf(`${open.url}/nothing/here`), undefined), /no such repository/);
  });
});

describe('the release watch', () => {
  const run = async (state: string, running: string, tags: string[], available: (v: string) => boolean) => {
    const posted: Suggestion[] = [];
    const made = await watchReleases({ running: async () => running, tags: async () => tags, available: async (v) => available(v), stateFile: join(state, 'release-watch.json'), suggest: async (s) => void posted.push(s) });
    assert.deepEqual(made, posted);
    return posted;
  };

  it('suggests exact versions newer than the running one, each once; never a pre-release or latest', async () => {
    const state = mkdtempSync(join(tmpdir(), 'rw-'));
    const tags = ['1.0.0', '1.1.0', '2.0.0', '2.1.0-rc1', 'latest', 'v2.2.0', '2.0'];
    assert.deepEqual(await run(state, '1.0.0', tags, () => true), [
      { version: '1.1.0', majorJump: false, ready: true },
      { version: '2.0.0', majorJump: true, ready: true },
    ]);
    assert.deepEqual(await run(state, '1.0.0', tags, () => true), [], 'a second tick says nothing');
    assert.deepEqual(await run(state, '1.0.0', [...tags, '2.0.1'], () => true), [{ version: '2.0.1', majorJump: true, ready: true }]);
  });

  it("a version the team's registry lacks is said once, then suggested with its button when it is there", async () => {
    const state = mkdtempSync(join(tmpdir(), 'rw-'));
    let built = false;
    assert.deepEqual(await run(state, '1.0.0', ['1.1.0'], () => built), [{ version: '1.1.0', majorJump: false, ready: false }]);
    assert.deepEqual(await run(state, '1.0.0', ['1.1.0'], () => built), []);
    built = true;
    assert.deepEqual(await run(state, '1.0.0', ['1.1.0'], () => built), [{ version: '1.1.0', majorJump: false, ready: true }]);
    assert.deepEqual(await run(state, '1.0.0', ['1.1.0'], () => built), []);
  });
});
