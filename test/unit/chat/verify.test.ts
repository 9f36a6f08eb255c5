import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newNonce, signContext, slashTokenOf, tokenMatches, verifyContext } from '../../../src/chat/verify.js';

const SECRET = 'k'.repeat(40);

describe('slash tokens', () => {
  it('match one of the listed tokens exactly', () => {
    assert.equal(tokenMatches('abc123', ['zzz', 'abc123']), true);
    assert.equal(tokenMatches('abc12', ['abc123']), false);
    assert.equal(tokenMatches('abc1234', ['abc123']), false);
    assert.equal(tokenMatches(undefined, ['abc123']), false);
    assert.equal(tokenMatches('', ['']), false);
    assert.equal(tokenMatches('abc123', []), false);
  });

  it('come from Authorization: Token first, else the form', () => {
    assert.equal(slashTokenOf('Token abc', 'form'), 'abc');
    assert.equal(slashTokenOf('token  abc ', 'form'), 'abc');
    assert.equal(slashTokenOf('Bearer abc', 'form'), 'form');
    assert.equal(slashTokenOf(undefined, ['x', 'y']), undefined, 'a repeated form field is not a token');
  });
});

describe('button contexts', () => {
  const now = 1_800_000_000_000;
  const ctx = signContext(SECRET, { job: 'p1', action: 'confirm', exp: now + 600_000, nonce: newNonce() });

  it('check out when signed by us and not expired', () => {
    assert.deepEqual(verifyContext(SECRET, ctx, now), { ok: true, context: ctx });
    assert.deepEqual(verifyContext(SECRET, JSON.parse(JSON.stringify(ctx)), now).ok, true, 'after a JSON round trip, as Mattermost stores it');
  });

  it('are refused when anything was changed, or signed with another key', () => {
    for (const forged of [{ ...ctx, action: 'cancel' }, { ...ctx, job: 'p2' }, { ...ctx, exp: ctx.exp + 1 }, { ...ctx, nonce: newNonce() }, { ...ctx, sig: ctx.sig.slice(1) }, signContext('o'.repeat(40), { job: 'p1', action: 'confirm', exp: ctx.exp, nonce: ctx.nonce })]) {
      assert.deepEqual(verifyContext(SECRET, forged, now), { ok: false, reason: 'forged' });
    }
    for (const junk of [undefined, null, 'x', 42, {}, { ...ctx, exp: String(ctx.exp) }]) assert.equal(verifyContext(SECRET, junk, now).ok, false);
  });

  it('expire', () => {
    const r = verifyContext(SECRET, ctx, ctx.exp);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'expired');
  });

  it('carry a different nonce every time', () => {
    assert.notEqual(newNonce(), newNonce());
  });
});
