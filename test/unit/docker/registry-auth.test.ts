/** Registry credentials: REGISTRY_USER first, else the Docker config file that `docker login` writes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_HUB, RegistryCredentials, registryOf } from '../../../src/docker/registry-auth.js';

const configFile = (content: unknown): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'docker-config-')), 'config.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('registry credentials', () => {
  it('names the registry of a reference as docker login does', () => {
    assert.equal(registryOf('registry.example.net:5000/pica-mattermost:1.2.3'), 'registry.example.net:5000');
    assert.equal(registryOf('localhost/x:1'), 'localhost');
    assert.equal(registryOf('mattermost/mattermost-team-edition:10.11.4'), DOCKER_HUB);
    assert.equal(registryOf('postgres:15'), DOCKER_HUB);
  });

  it('REGISTRY_USER wins; else the auths entry of that registry (auth, or username/password, or a token); else none', () => {
    const file = configFile({
      auths: {
        'registry.example.net:5000': { auth: b64('publisher:pa:ss') },
        'https://index.docker.io/v1/': { identitytoken: 'tok' },
        'http://other.example:5000/v2/': { username: 'u', password: 'p' },
      },
    });
    const explicit = new RegistryCredentials({ username: 'env', password: 'secret' }, file);
    assert.deepEqual(explicit.for('registry.example.net:5000/a:1'), { username: 'env', password: 'secret', serveraddress: 'registry.example.net:5000' });
    const fromFile = new RegistryCredentials(undefined, file);
    assert.deepEqual(fromFile.for('registry.example.net:5000/a:1'), { username: 'publisher', password: 'pa:ss', serveraddress: 'registry.example.net:5000' });
    assert.deepEqual(fromFile.for('mattermost/mattermost-team-edition:1'), { identitytoken: 'tok', serveraddress: DOCKER_HUB });
    assert.deepEqual(fromFile.basicFor('other.example:5000/x'), { username: 'u', password: 'p' });
    assert.equal(fromFile.for('unknown.example/x:1'), undefined);
    assert.match(fromFile.describe('registry.example.net:5000/a'), /config\.json \(publisher\)$/);
    assert.equal(fromFile.describe('unknown.example/x'), 'none (anonymous)');
    assert.equal(new RegistryCredentials(undefined, '/nonexistent/config.json').for('registry.example.net:5000/a'), undefined);
  });

  it('a credential helper is named, not run, and never taken for credentials', () => {
    const file = configFile({ auths: { 'registry.example.net:5000': {} }, credsStore: 'desktop' });
    const c = new RegistryCredentials(undefined, file);
    assert.equal(c.for('registry.example.net:5000/a:1'), undefined);
    assert.match(c.describe('registry.example.net:5000/a'), /credential helper "desktop", which the bot does not run \(set REGISTRY_USER and REGISTRY_PASSWORD\)/);
  });
});

describe('RegistryCredentials.secrets', () => {
  it('lists every password, token and auth string of the Docker config file, for masking', () => {
    const file = configFile({
      auths: {
        'registry.example.net:5000': { auth: Buffer.from('pica:SECRETfromauth').toString('base64') },
        'other.example.net': { username: 'u', password: 'SECRETplain' },
        'token.example.net': { identitytoken: 'SECRETidtoken' },
      },
    });
    const secrets = new RegistryCredentials(undefined, file).secrets();
    for (const s of ['SECRETfromauth', Buffer.from('pica:SECRETfromauth').toString('base64'), 'SECRETplain', 'SECRETidtoken']) assert.ok(secrets.includes(s), s);
    assert.deepEqual(new RegistryCredentials(undefined, '/nonexistent/config.json').secrets(), []);
  });
});
