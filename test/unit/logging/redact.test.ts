import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/logging/logger.js';
import { REDACTED, Redactor, secretsInEnv } from '../../../src/logging/redact.js';

function capture(style: 'json' | 'text', secrets: string[]): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', secrets, style, stream }), lines };
}

const TOKEN = 'xoxb-9f8e7d6c5b4a39281706';
const BOT_SECRET = 'a3c1f0e9d8b7a6c5d4e3f2a1b0c9d8e7';

describe('secret redaction in logs', () => {
  for (const style of ['json', 'text'] as const) {
    it(`masks known secrets in messages and fields (${style})`, () => {
      const { logger, lines } = capture(style, [TOKEN, BOT_SECRET]);
      logger.info(`posting with ${TOKEN}`, { header: `Bearer ${TOKEN}`, nested: { list: [`sig ${BOT_SECRET}`] } });
      logger.warn('datasource', { url: 'postgres://mmuser:hunter2pass@db:5432/mattermost?sslmode=disable' });
      logger.error('failed', { error: new Error(`request with token ${TOKEN} refused`) });
      logger.debug('config', { MM_BOT_TOKEN: 'anything-at-all', registryPassword: 'p4ssw0rd!', count: 3 });
      const all = lines.join('\n');
      assert.equal(lines.length, 4);
      for (const secret of [TOKEN, BOT_SECRET, 'hunter2pass', 'anything-at-all', 'p4ssw0rd!']) {
        assert.ok(!all.includes(secret), `${secret} leaked in:\n${all}`);
      }
      assert.ok(all.includes(REDACTED));
      assert.ok(all.includes('postgres://mmuser:[REDACTED]@db:5432/mattermost'), 'keeps the URL readable');
      assert.ok(all.includes('count'), 'keeps ordinary fields');
    });
  }

  it('masks Authorization values even when the secret is not known in advance', () => {
    const { logger, lines } = capture('json', []);
    logger.info('callback', { headers: 'Authorization: Token abcdefghijklmnop123' });
    assert.ok(!lines.join('').includes('abcdefghijklmnop123'));
  });

  it('writes one JSON object per line with a fixed message and the fields beside it', () => {
    const { logger, lines } = capture('json', [TOKEN]);
    logger.info('image pulled', { image: 'registry.example.net:5000/pica-mattermost:4.3.0', ms: 1200 });
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(record.message, 'image pulled');
    assert.equal(record.image, 'registry.example.net:5000/pica-mattermost:4.3.0');
    assert.equal(record.ms, 1200);
    assert.equal(record.level, 'info');
  });
});

describe('the secrets a container knows, masked in the log lines a job quotes', () => {
  it('takes the secret variables and the passwords of URLs from its environment, as written and decoded', () => {
    const env = [
      'POSTGRES_PASSWORD=pa@ss/w:rd+1',
      'POSTGRES_PASSWORD_FILE=/run/secrets/db',
      'MM_SQLSETTINGS_DATASOURCE=postgres://mmuser:pa%40ss%2Fw%3Ard%2B1@db:5432/mattermost?sslmode=disable',
      'MM_SQLSETTINGS_DATASOURCEREPLICAS=["postgres://ro:r3plica-pw@db2/mattermost"]',
      'PATH=/usr/bin',
      'PGPORT=5432',
    ];
    const found = secretsInEnv(env);
    for (const s of ['pa@ss/w:rd+1', 'pa%40ss%2Fw%3Ard%2B1', 'r3plica-pw']) assert.ok(found.includes(s), s);
    for (const s of ['/run/secrets/db', '/usr/bin', '5432']) assert.ok(!found.includes(s), s);
  });

  it('masks a known secret also URL-encoded, and password=… pairs whatever their value', () => {
    const r = new Redactor(['pa@ss/w:rd+1']);
    const line = r.text('dsn postgres://u:pa%40ss%2Fw%3Ard%2B1@db/x form=pa%40ss%2Fw%3Ard%2B1 raw pa@ss/w:rd+1');
    assert.ok(!line.includes('pa@ss') && !line.includes('pa%40ss'), line);
    assert.equal(new Redactor().text('host=db user=mmuser password=s3cr3t-Value dbname=x'), `host=db user=mmuser password=${REDACTED} dbname=x`);
    assert.equal(new Redactor().text(`{"password":"s3cr3t-Value","user":"u"}`), `{"password":"${REDACTED}","user":"u"}`);
    assert.equal(new Redactor().text('password authentication failed for user "mmuser"'), 'password authentication failed for user "mmuser"');
  });
});
