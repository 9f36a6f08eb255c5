/**
 * Who may talk to the bot. Slash requests carry the command's token (form `token` or
 * `Authorization: Token …`), compared in constant time with MM_SLASH_TOKENS. Button
 * callbacks carry no token: the bot signs each action's `context` (job, action, expiry,
 * nonce) with HMAC-SHA256 under BOT_SECRET, and checks the signature and the expiry here.
 * Pure functions with the clock passed in.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const digests = new WeakMap<readonly string[], Map<string, Buffer>>();
const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Whether `given` equals one of `allowed`, in time that does not depend on where they differ
 * (both sides hashed to the same length, then compared with timingSafeEqual).
 */
export function tokenMatches(given: string | undefined, allowed: readonly string[]): boolean {
  if (!given) return false;
  let known = digests.get(allowed);
  if (!known) digests.set(allowed, (known = new Map()));
  const g = sha256(given);
  let ok = false;
  for (const a of allowed) {
    if (a === '') continue;
    let d = known.get(a);
    if (!d) known.set(a, (d = sha256(a)));
    ok = timingSafeEqual(g, d) || ok;
  }
  return ok;
}

/** The token of a slash request: the Authorization header (`Token x`), else the form field. */
export function slashTokenOf(authorization: string | undefined, formToken: unknown): string | undefined {
  const m = /^Token\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (m) return m[1];
  return typeof formToken === 'string' && formToken !== '' ? formToken : undefined;
}

export type ActionName = 'confirm' | 'cancel' | 'schedule' | 'plan' | 'rehearse';

export interface ActionContext {
  /** The pending confirmation (the job to be). */
  job: string;
  action: ActionName;
  /** Expiry, epoch milliseconds. */
  exp: number;
  nonce: string;
  sig: string;
}

const sign = (secret: string, c: Omit<ActionContext, 'sig'>): string =>
  createHmac('sha256', secret).update(`v1\n${c.job}\n${c.action}\n${c.exp}\n${c.nonce}`).digest('base64url');

export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

export function signContext(secret: string, c: Omit<ActionContext, 'sig'>): ActionContext {
  return { ...c, sig: sign(secret, c) };
}

export type ContextCheck = { ok: true; context: ActionContext } | { ok: false; reason: 'forged' | 'expired'; context?: ActionContext };

/** Checks a callback's `context`: well formed, signed by us, not expired. */
export function verifyContext(secret: string, raw: unknown, now: number): ContextCheck {
  if (!raw || typeof raw !== 'object') return { ok: false, reason: 'forged' };
  const c = raw as Record<string, unknown>;
  if (typeof c.job !== 'string' || !['confirm', 'cancel', 'schedule', 'plan', 'rehearse'].includes(c.action as string) || typeof c.exp !== 'number' || typeof c.nonce !== 'string' || typeof c.sig !== 'string') {
    return { ok: false, reason: 'forged' };
  }
  const context = { job: c.job, action: c.action, exp: c.exp, nonce: c.nonce, sig: c.sig } as ActionContext;
  const expected = Buffer.from(sign(secret, context));
  const given = Buffer.from(context.sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'forged' };
  if (now >= context.exp) return { ok: false, reason: 'expired', context };
  return { ok: true, context };
}
