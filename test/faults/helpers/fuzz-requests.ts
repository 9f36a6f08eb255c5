/**
 * What the request-fuzzing test sends, and how: a seeded generator of hostile HTTP requests to
 * the bot's two webhook routes (built as raw bytes, so that a broken request is really broken
 * on the wire), a raw-socket sender with bounded concurrency that reads every status back, and
 * slowloris sockets that send a request slowly or stop half-way and time how long the server
 * keeps them. Loopback only.
 *
 * The corpus starts from what a real Mattermost sent in the test (a slash request and a click
 * by someone who is not allowed) and from a real plan's signed button contexts, then mutates.
 * `couldStartJob` is the corpus's own safety check: no request may carry a valid slash token
 * together with the allowed user, nor a context that verifies together with the allowed user.
 */
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import { DRAIN_LIMIT } from '../../../src/chat/http/reply.js';
import { signContext, verifyContext, type ActionContext } from '../../../src/chat/verify.js';

// ── A seeded PRNG (sfc32): the same seed gives the same corpus ─────────────────────────────

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    const t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const r = (t + this.d) | 0;
    this.c = (this.c + r) | 0;
    return (r >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  string(length: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'): string {
    let s = '';
    for (let i = 0; i < length; i++) s += alphabet.charAt(this.int(alphabet.length));
    return s;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

// ── What the corpus is made from ─────────────────────────────────────────────────────────────

export interface Ingredients {
  port: number;
  slashToken: string;
  secret: string;
  /** The one user allowed to run and confirm jobs: never paired with a valid token or a context that verifies. */
  allowedUserId: string;
  /** Real users who are not allowed (a member, a volunteer not listed, the bot itself). */
  otherUserIds: string[];
  channelId: string;
  /** A slash request and a button click exactly as the Mattermost stand-in sent them (by a user not allowed). */
  slash: { body: string; headers: Record<string, string> };
  click: { body: string; headers: Record<string, string> };
  /** The waiting plan's buttons, as signed by the bot. */
  contexts: ActionContext[];
}

export type Route = 'command' | 'action';

export interface WireMessage {
  route: Route;
  method: string;
  bytes: Buffer;
  /** A well-formed HTTP request: the server must answer it with a status. */
  expectAnswer: boolean;
  /** What the bot would parse (before any Content-Encoding), for the safety check. */
  logical: string;
}

export interface Probe {
  kind: string;
  messages: WireMessage[];
  /** Half-close after writing (a request cut short must not become a slowloris by accident). */
  halfClose: boolean;
}

const PATHS: Record<Route, string> = { command: '/mattermost/command', action: '/mattermost/action' };

const UNICODE = [
  '😀', '👩‍👩‍👧‍👦', 'é', 'e\u0301', 'ß', 'İ', 'ﬃ', '中文字', 'עברית', 'العربية', '\u202eevil\u202c', '\u200b', '\u200d', '\ufeff', '\u2028', '\u2029',
  '\u0000', '\u0007', '\r\n', '\t', '\ud800', '\udfff', '\uffff', '𝕳𝖊𝖑𝖑𝖔', 'Ω', '᚛ᚄᚓᚐᚋ᚜', '\u{10ffff}', '\\', '"', "'", '`', '<script>', '%00', '%', '+', '&', '=',
];
/** Bytes that are not UTF-8 (overlong, surrogate halves, truncated sequences). */
const BAD_UTF8 = [Buffer.from([0xff, 0xfe]), Buffer.from([0xc0, 0x80]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), Buffer.from([0x80])];
const TEXTS = [
  '1.1.0', '1.1.0 now', '1.1.0 at 23:30', '1.1.0 at 2099-01-15 23:30', '1.1.0 at 25:99', '1.1.0 at 2027-02-30 10:00', '1.1.0 at', 'rollback', 'rollback --with-db', 'backup', 'reindex',
  'cancel', 'build 1.1.0', 'rehearse 1.1.0', 'restore x.dump', 'latest', 'stable', '1.1', 'v1.1.0-rc1', '99999999999999999999.0.0', '0.9.0', '1.1.0 1.2.0', 'help', '', '   ', 'UPGRADE',
  '1.1.0\n2.0.0', '1.1.0\u0000', '１.１.０', '1.1.0 at 23:30 extra', 'rehearse', 'build', 'at 23:30', '-1.0.0', '1.1.0 ' + 'at '.repeat(200),
];
const CONTENT_TYPES_NOT_FORM = ['application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml', 'application/x-www-form-urlencoded-x', 'x-www-form-urlencoded', '*/*', 'application/*', '', ';;;', 'application/x-www-form-urlencoded; charset=utf-16', 'application/x-www-form-urlencoded; charset=koi8-r', 'application/x-www-form-urlencoded; charset=', 'application/x-www-form-urlencoded; charset="'];
const CONTENT_TYPES_NOT_JSON = ['application/x-www-form-urlencoded', 'text/plain', 'text/json', 'application/vnd.api+json', 'application/jsonp', 'multipart/form-data; boundary=x', '', 'application/json; charset=utf-16le', 'application/json; charset=latin1', 'application/json; charset=utf-32', 'application/json;;', 'APPLICATION/JSON; CHARSET=UTF-8', 'application/json, text/plain'];

const FORM_FIELDS = ['token', 'team_id', 'team_domain', 'channel_id', 'channel_name', 'user_id', 'user_name', 'command', 'text', 'trigger_id', 'root_id', 'response_url', 'user_mentions', 'user_mentions_ids', 'channel_mentions', 'channel_mentions_ids'];
const ACTION_FIELDS = ['user_id', 'user_name', 'channel_id', 'channel_name', 'team_id', 'team_domain', 'post_id', 'trigger_id', 'type', 'data_source', 'context'];
const CONTEXT_FIELDS: Array<keyof ActionContext> = ['job', 'action', 'exp', 'nonce', 'sig'];
const ACTIONS = ['confirm', 'cancel', 'schedule', 'plan', 'rehearse', 'CONFIRM', 'confirm ', '', 'upgrade', '__proto__'];

// ── Building requests as bytes ───────────────────────────────────────────────────────────────

interface Build {
  route: Route;
  method?: string;
  path?: string;
  headers?: Array<[string, string]>;
  body?: Buffer | string;
  /** 'auto' (the body's length), 'none', or a number that may lie. */
  contentLength?: 'auto' | 'none' | number | string;
  chunked?: boolean;
  host?: boolean;
  close?: boolean;
  logical?: string;
  expectAnswer?: boolean;
}

function wire(port: number, b: Build): WireMessage {
  const method = b.method ?? 'POST';
  const body = typeof b.body === 'string' ? Buffer.from(b.body, 'utf8') : (b.body ?? Buffer.alloc(0));
  const lines = [`${method} ${b.path ?? PATHS[b.route]} HTTP/1.1`];
  if (b.host !== false) lines.push(`Host: 127.0.0.1:${port}`);
  for (const [k, v] of b.headers ?? []) lines.push(`${k}: ${v}`);
  const cl = b.contentLength ?? (b.chunked ? 'none' : 'auto');
  if (cl === 'auto') lines.push(`Content-Length: ${body.length}`);
  else if (cl !== 'none') lines.push(`Content-Length: ${cl}`);
  if (b.chunked) lines.push('Transfer-Encoding: chunked');
  if (b.close !== false) lines.push('Connection: close');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const payload = b.chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
  // A body beyond DRAIN_LIMIT is refused while it is still being sent: the connection may then be reset before the answer is read.
  const expectAnswer = b.expectAnswer ?? body.length <= DRAIN_LIMIT;
  return { route: b.route, method, bytes: Buffer.concat([head, payload]), expectAnswer, logical: b.logical ?? body.toString('utf8') };
}

/** Sets an own property, `__proto__` included (so that JSON.stringify writes it). */
const own = (o: Record<string, unknown>, key: string, value: unknown): void => void Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
const asText = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? 'undefined'));

const MM_HEADERS: Array<[string, string]> = [
  ['User-Agent', 'Mattermost-Bot/1.1'],
  ['Accept', 'application/json'],
];

/** Form-encodes `s` as UTF-8 (a lone surrogate becomes U+FFFD, as a browser would send it). */
const enc = (s: string): string => encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')).replace(/%20/g, '+');
const formOf = (pairs: Array<[string, string]>): string => pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');

// ── The generator ────────────────────────────────────────────────────────────────────────────

type Maker = (g: Generator) => Probe;

export class Generator {
  readonly slashPairs: Array<[string, string]>;
  readonly click: Record<string, unknown>;

  constructor(
    readonly rng: Rng,
    readonly ing: Ingredients,
    private readonly now: () => number = Date.now,
  ) {
    this.slashPairs = [...new URLSearchParams(ing.slash.body)];
    this.click = JSON.parse(ing.click.body) as Record<string, unknown>;
  }

  /** Probes with `n` messages in all (the last probe may be cut to fit). Phase B (the plan's own expiry, and replays after it) comes last. */
  corpus(n: number, { late: withLate = true } = {}): Probe[] {
    const weights = KINDS.reduce((s, [, w]) => s + w, 0);
    const probes: Probe[] = [];
    const late: Probe[] = [];
    let count = 0;
    const lateShare = withLate ? Math.round(n * 0.02) : 0;
    while (count < n - lateShare) {
      let r = this.rng.next() * weights;
      let make: Maker = KINDS[0]![2];
      for (const [, w, m] of KINDS) {
        if ((r -= w) < 0) {
          make = m;
          break;
        }
      }
      const p = this.safe(make(this));
      const room = n - lateShare - count;
      if (p.messages.length > room) p.messages = p.messages.slice(0, room);
      probes.push(p);
      count += p.messages.length;
    }
    // Phase B: the real plan's context re-signed with an expiry in the past (the plan expires), then replays.
    while (count < n) {
      late.push(this.safe(late.length < lateShare / 2 ? this.expiredReal() : this.replay()));
      count += 1;
    }
    return [...probes, ...late];
  }

  /** The generator's own guard: a probe that could start a job is made harmless (its user becomes one not allowed). */
  private safe(p: Probe): Probe {
    for (let i = 0; i < p.messages.length; i++) {
      if (couldStartJob(p.messages[i]!, this.ing, this.now())) {
        const m = p.messages[i]!;
        const swapped = Buffer.from(m.bytes.toString('latin1').split(this.ing.allowedUserId).join(this.ing.otherUserIds[0]!), 'latin1');
        p.messages[i] = { ...m, bytes: swapped, logical: m.logical.split(this.ing.allowedUserId).join(this.ing.otherUserIds[0]!) };
        if (couldStartJob(p.messages[i]!, this.ing, this.now())) throw new Error(`the generator made a ${p.kind} request that could start a job`);
      }
    }
    return p;
  }

  // ── ingredients ──

  userId(allowAdmin: boolean): string {
    const r = this.rng;
    const pool = [
      ...this.ing.otherUserIds,
      r.string(26),
      r.string(26),
      'me',
      '../../system/ping',
      `${this.ing.otherUserIds[0]}?x=${r.string(6)}`,
      `${this.ing.otherUserIds[0]}/`,
      `${r.string(26)}/../me`,
      '',
      r.string(r.between(1, 400)),
      r.pick(UNICODE).repeat(r.between(1, 30)),
      '%2e%2e%2fme',
    ];
    if (allowAdmin) pool.push(this.ing.allowedUserId, this.ing.allowedUserId, this.ing.allowedUserId);
    return r.pick(pool);
  }

  wrongToken(): string {
    const r = this.rng;
    const t = this.ing.slashToken;
    const flip = (s: string): string => {
      const i = r.int(s.length);
      return s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);
    };
    return r.pick([flip(t), t.slice(0, -1), t.toUpperCase(), '', ' ', r.string(26), r.string(r.between(1, 300)), `${t.slice(0, 10)}`, '0'.repeat(26), 'null', 'undefined', '[object Object]', r.pick(UNICODE)]);
  }

  text(): string {
    const r = this.rng;
    if (r.chance(0.15)) return Array.from({ length: r.between(1, 8) }, () => r.pick(UNICODE)).join(r.pick(['', ' ', '.']));
    if (r.chance(0.1)) return r.string(r.between(1, 200), ' abc.0123456789:-@/\\');
    return r.pick(TEXTS);
  }

  randomValue(depth = 0): unknown {
    const r = this.rng;
    switch (r.int(depth > 3 ? 6 : 9)) {
      case 0:
        return null;
      case 1:
        return r.chance(0.5);
      case 2:
        return r.pick([0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.1, -0, 1e-300, Number.MAX_SAFE_INTEGER]);
      case 3:
        return r.string(r.between(0, 40));
      case 4:
        return r.pick(UNICODE).repeat(r.between(1, 5));
      case 5:
        return r.pick([this.ing.allowedUserId, ...this.ing.otherUserIds, this.ing.slashToken.slice(3), 'confirm']);
      case 6:
        return Array.from({ length: r.between(0, 5) }, () => this.randomValue(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = r.between(0, 6); i > 0; i--) own(o, r.chance(0.5) ? r.pick([...ACTION_FIELDS, ...CONTEXT_FIELDS, '__proto__', 'constructor', 'prototype']) : r.string(r.between(1, 10)), this.randomValue(depth + 1));
        return o;
      }
    }
  }

  realContext(): ActionContext {
    return { ...this.rng.pick(this.ing.contexts) };
  }

  /** A context with one to three fields changed (not re-signed). */
  mutatedContext(): Record<string, unknown> {
    const r = this.rng;
    const c: Record<string, unknown> = { ...this.realContext() };
    for (let i = r.between(1, 3); i > 0; i--) {
      const f = r.pick(CONTEXT_FIELDS);
      switch (r.int(7)) {
        case 0:
          delete c[f];
          break;
        case 1:
          c[f] = this.randomValue(2);
          break;
        case 2:
          c[f] = f === 'exp' ? Number(c.exp) + r.pick([1, 60_000, 3_600_000, 1e12]) : f === 'action' ? r.pick(ACTIONS) : `${asText(c[f])}${r.pick(['x', ' ', '\u0000', '=', '\n'])}`;
          break;
        case 3:
          c[f] = f === 'exp' ? asText(c.exp) : asText(c[f]).slice(0, -1);
          break;
        case 4:
          c[f] = f === 'sig' ? asText(c.sig).toUpperCase() : r.pick(UNICODE);
          break;
        case 5:
          // Another button's value for this field (a signature from the cancel button on a confirm).
          c[f] = r.pick(this.ing.contexts)[f];
          break;
        default:
          own(c, r.pick(['extra', 'selected_option', '__proto__', 'user_id']), this.randomValue(2));
      }
    }
    return c;
  }

  /** A context whose fields were changed and then signed again, with `secret`. */
  resigned(secret: string): ActionContext {
    const r = this.rng;
    const c = this.realContext();
    const base = { job: c.job, action: c.action, exp: c.exp, nonce: c.nonce };
    switch (r.int(8)) {
      case 0:
        base.action = r.pick(['confirm', 'rehearse', 'schedule', 'cancel', 'plan'] as const);
        break;
      case 1:
        base.exp = c.exp + r.pick([3_600_000, 86_400_000 * 365, 1e15]);
        break;
      case 2:
        base.job = r.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', r.string(18), `${c.job}x`, 'release:1.1.0', 'release:99.0.0', 'release:../..', '']);
        break;
      case 3:
        base.nonce = r.pick([r.string(22), '', `${c.nonce}=`]);
        break;
      case 4:
        base.action = 'plan';
        base.job = r.pick(['release:1.1.0', 'release:1.2.0', 'release:latest', 'release:' + r.string(10)]);
        break;
      default:
      // unchanged fields: only the signature is made again
    }
    return signContext(secret, base);
  }

  wrongSecret(): string {
    const r = this.rng;
    const s = this.ing.secret;
    return r.pick(['', ' ', s.slice(0, -1), `${s}x`, s.toUpperCase(), s.replace(/./, 'X'), r.string(40), 'secret', s.split('').reverse().join('')]);
  }

  actionBody(context: unknown, userId: string): Record<string, unknown> {
    return { ...this.click, user_id: userId, context };
  }

  jsonMessage(body: unknown, extra: Partial<Build> = {}): WireMessage {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return wire(this.ing.port, { route: 'action', headers: [...MM_HEADERS, ['Content-Type', 'application/json']], body: text, ...extra });
  }

  formMessage(pairs: Array<[string, string]>, extra: Partial<Build> = {}, authorization?: string): WireMessage {
    const text = formOf(pairs);
    const headers: Array<[string, string]> = [...MM_HEADERS, ['Content-Type', 'application/x-www-form-urlencoded']];
    if (authorization !== undefined) headers.push(['Authorization', authorization]);
    return wire(this.ing.port, { route: 'command', headers, body: text, ...extra });
  }

  /** Fields of a slash request as Mattermost sends them, for `userId`, with `token`. */
  slashFields(userId: string, token: string, text = this.text()): Array<[string, string]> {
    return this.slashPairs.map(([k, v]): [string, string] => [k, k === 'user_id' ? userId : k === 'token' ? token : k === 'text' ? text : v]);
  }

  authorization(valid: boolean): string | undefined {
    const r = this.rng;
    const t = valid ? this.ing.slashToken : this.wrongToken();
    return r.pick([undefined, undefined, `Token ${t}`, `Token ${t}`, `token  ${t}`, `Bearer ${t}`, `Token ${t} extra`, 'Token', `Basic ${Buffer.from(`x:${t}`).toString('base64')}`]);
  }

  expiredReal(): Probe {
    const c = this.realContext();
    const ctx = signContext(this.ing.secret, { job: c.job, action: c.action, exp: this.now() - this.rng.between(1, 3_600_000), nonce: c.nonce });
    return { kind: 'act-expired-real', halfClose: false, messages: [this.jsonMessage(this.actionBody(ctx, this.userId(false)))] };
  }

  replay(): Probe {
    const headers = Object.entries(this.ing.click.headers).filter(([k]) => !/^(host|content-length|connection|transfer-encoding)$/i.test(k));
    return { kind: 'act-replay', halfClose: false, messages: [wire(this.ing.port, { route: 'action', headers, body: this.ing.click.body })] };
  }
}

const bombs = new Map<number, Buffer>();
/** `mb` megabytes of 'a', gzipped (a few kB): made once per size. */
function bomb(mb: number): Buffer {
  let b = bombs.get(mb);
  if (!b) bombs.set(mb, (b = gzipSync(Buffer.alloc(mb * 1024 * 1024, 'a'))));
  return b;
}

const one = (kind: string, m: WireMessage, halfClose = false): Probe => ({ kind, halfClose, messages: [m] });

/** [kind, weight, maker]: weights are shares of the 10,000. */
const KINDS: Array<[string, number, Maker]> = [
  [
    'cmd-random-form',
    600,
    (g) => {
      const r = g.rng;
      const pairs: Array<[string, string]> = Array.from({ length: r.between(0, 15) }, () => [r.chance(0.6) ? r.pick(FORM_FIELDS) : r.string(r.between(1, 12)), r.chance(0.3) ? g.text() : r.string(r.between(0, 60))]);
      if (r.chance(0.3)) pairs.push(['token', r.chance(0.5) ? g.ing.slashToken : g.wrongToken()]);
      if (r.chance(0.5)) pairs.push(['user_id', g.userId(true)]);
      return one('cmd-random-form', g.formMessage(r.shuffle(pairs), {}, g.authorization(r.chance(0.3))));
    },
  ],
  [
    'cmd-mutated',
    1200,
    (g) => {
      const r = g.rng;
      let pairs = g.slashPairs.map(([k, v]): [string, string] => [k, v]);
      let authorization: string | undefined = r.chance(0.5) ? `Token ${g.ing.slashToken}` : undefined;
      for (let i = r.between(1, 4); i > 0; i--) {
        const at = r.int(Math.max(pairs.length, 1));
        switch (r.int(9)) {
          case 0:
            pairs.splice(at, 1);
            break;
          case 1:
            if (pairs[at]) pairs.push([pairs[at]![0], r.chance(0.5) ? g.text() : r.string(8)]);
            break;
          case 2:
            if (pairs[at]) pairs[at] = [pairs[at]![0], r.pick([r.string(r.between(0, 300)), '', g.text(), r.pick(UNICODE).repeat(r.between(1, 200))])];
            break;
          case 3:
            pairs = pairs.map(([k, v]): [string, string] => [k, k === 'token' ? g.wrongToken() : v]);
            authorization = r.chance(0.5) ? undefined : `Token ${g.wrongToken()}`;
            break;
          case 4:
            pairs = pairs.map(([k, v]): [string, string] => [k, k === 'user_id' ? g.userId(true) : v]);
            break;
          case 5:
            pairs = pairs.map(([k, v]): [string, string] => [k, k === 'text' ? g.text() : v]);
            break;
          case 6:
            r.shuffle(pairs);
            break;
          case 7:
            pairs.push([r.pick(FORM_FIELDS), r.string(r.between(0, 40))]);
            break;
          default:
            authorization = g.authorization(r.chance(0.5));
        }
      }
      return one('cmd-mutated', g.formMessage(pairs, {}, authorization));
    },
  ],
  [
    'cmd-forged-token',
    500,
    (g) => {
      const r = g.rng;
      const pairs = g.slashFields(g.ing.allowedUserId, g.wrongToken(), r.pick(['1.1.0', 'rollback', 'backup', 'reindex', 'cancel', 'rehearse 1.1.0', 'build 1.1.0', '1.1.0 at 23:30']));
      if (r.chance(0.2)) pairs.splice(pairs.findIndex(([k]) => k === 'token'), 1);
      const auth = r.pick([undefined, `Token ${g.wrongToken()}`, `Bearer ${g.wrongToken()}`, 'Token', `Token ${g.wrongToken()} ${g.wrongToken()}`]);
      return one('cmd-forged-token', g.formMessage(pairs, {}, auth));
    },
  ],
  [
    'cmd-valid-disallowed',
    700,
    (g) => {
      const r = g.rng;
      const text = r.chance(0.004) ? 'status' : r.pick(['1.1.0', 'rollback', 'rollback --with-db', 'backup', 'reindex', 'cancel', 'rehearse 1.1.0', 'build 1.1.0', '1.1.0 at 23:30', '1.1.0 now', 'help', g.text()]);
      const inHeader = r.chance(0.5);
      const pairs = g.slashFields(g.userId(false), inHeader ? r.pick(['', g.wrongToken()]) : g.ing.slashToken, text);
      return one('cmd-valid-disallowed', g.formMessage(pairs, {}, inHeader ? `Token ${g.ing.slashToken}` : undefined));
    },
  ],
  [
    'cmd-huge',
    300,
    (g) => {
      const r = g.rng;
      const token = r.chance(0.5) ? g.ing.slashToken : g.wrongToken();
      const fields = g.slashFields(g.userId(false), token);
      switch (r.int(8)) {
        case 0:
          return one('cmd-huge', g.formMessage(g.slashFields(g.userId(false), token, 'x'.repeat(r.between(30_000, 60_000)))));
        case 1:
          return one('cmd-huge', g.formMessage(g.slashFields(g.userId(false), token, r.string(r.between(70_000, 300_000)))));
        case 2:
          return one('cmd-huge', g.formMessage([...fields, ...Array.from({ length: r.between(101, 3_000) }, (_, i): [string, string] => [`f${i}`, 'v'])]));
        case 3:
          return one('cmd-huge', g.formMessage([[r.string(60_000), 'v'], ...fields]));
        case 4:
          // A Content-Length far beyond the limit, with a small body: refused from the header alone.
          return one('cmd-huge', g.formMessage(fields, { contentLength: r.pick(['100000000', '99999999999', '1e9', '65537']), expectAnswer: true }), true);
        case 5:
          return one('cmd-huge', g.formMessage(fields, { headers: [...MM_HEADERS, ['Content-Type', 'application/x-www-form-urlencoded'], ['X-Pad', 'p'.repeat(r.between(17_000, 40_000))]] }));
        case 6:
          return one('cmd-huge', g.formMessage(g.slashFields(g.userId(false), token, r.pick(UNICODE).repeat(r.between(5_000, 30_000)))));
        default:
          return one('cmd-huge', g.formMessage(fields, { chunked: true, body: Buffer.from(formOf(g.slashFields(g.userId(false), token, 'y'.repeat(r.between(65_000, 200_000))))) }));
      }
    },
  ],
  [
    'cmd-wrong-content-type',
    400,
    (g) => {
      const r = g.rng;
      const pairs = g.slashFields(g.userId(false), r.chance(0.5) ? g.ing.slashToken : g.wrongToken());
      const body = r.pick([formOf(pairs), JSON.stringify(Object.fromEntries(pairs)), `--x\r\nContent-Disposition: form-data; name="token"\r\n\r\n${g.ing.slashToken}\r\n--x--\r\n`]);
      const ct = r.pick(CONTENT_TYPES_NOT_FORM);
      const headers: Array<[string, string]> = [...MM_HEADERS, ...(ct === '' && r.chance(0.5) ? [] : [['Content-Type', ct] as [string, string]])];
      return one('cmd-wrong-content-type', wire(g.ing.port, { route: 'command', headers, body }));
    },
  ],
  [
    'cmd-get',
    300,
    (g) => {
      const r = g.rng;
      const pairs = g.slashFields(g.userId(true), r.chance(0.5) ? g.ing.slashToken : g.wrongToken());
      const query = r.chance(0.8) ? formOf(pairs) : r.string(r.between(0, 200), 'abc=&%+;?/#0123456789');
      const method = r.pick(['GET', 'GET', 'GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'PATCH']);
      const body = method === 'PUT' || method === 'PATCH' ? formOf(pairs) : '';
      return one('cmd-get', wire(g.ing.port, { route: 'command', method, path: `/mattermost/command?${query}`, headers: MM_HEADERS, body, contentLength: body ? 'auto' : 'none', logical: `${query}&${body}` }));
    },
  ],
  [
    'cmd-unicode',
    300,
    (g) => {
      const r = g.rng;
      const token = r.chance(0.5) ? g.ing.slashToken : g.wrongToken();
      if (r.chance(0.5)) {
        const pairs = g.slashFields(g.userId(false), token, Array.from({ length: r.between(1, 20) }, () => r.pick(UNICODE)).join(''));
        pairs.push([r.pick(UNICODE), r.pick(UNICODE)]);
        return one('cmd-unicode', g.formMessage(pairs));
      }
      // Raw bytes that are not UTF-8, and percent-escapes that decode to none.
      const text = Buffer.concat([Buffer.from('text=1.1.0'), r.pick(BAD_UTF8), Buffer.from(`&token=${token}&user_id=${g.userId(false)}&channel_id=${g.ing.channelId}&x=`), Buffer.from(r.pick(['%FF%FE', '%C0%80', '%ED%A0%80', '%E2%82', '%', '%G1', '%%%', '%u0041']))]);
      return one('cmd-unicode', wire(g.ing.port, { route: 'command', headers: [...MM_HEADERS, ['Content-Type', 'application/x-www-form-urlencoded']], body: text }));
    },
  ],
  [
    'cmd-encoding',
    200,
    (g) => {
      const r = g.rng;
      const form = formOf(g.slashFields(g.userId(false), r.chance(0.5) ? g.ing.slashToken : g.wrongToken()));
      const kinds = ['gzip', 'gzip-bomb', 'gzip-broken', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, gzip'] as const;
      const k = r.pick(kinds);
      const body =
        k === 'gzip' ? gzipSync(form)
        : k === 'gzip-bomb' ? bomb(r.pick([1, 5, 20]))
        : k === 'gzip-broken' ? gzipSync(form).subarray(0, r.between(5, 20))
        : k === 'deflate' ? deflateSync(form)
        : k === 'br' ? brotliCompressSync(form)
        : k === 'gzip, gzip' ? gzipSync(gzipSync(form))
        : Buffer.from(form);
      const name = k === 'gzip-bomb' || k === 'gzip-broken' ? 'gzip' : k;
      return one('cmd-encoding', wire(g.ing.port, { route: 'command', headers: [...MM_HEADERS, ['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Encoding', name]], body, logical: form }));
    },
  ],
  [
    'act-random-json',
    500,
    (g) => one('act-random-json', g.jsonMessage(g.rng.chance(0.7) ? { ...(g.randomValue(1) as object), user_id: g.userId(true), context: g.randomValue(1) } : g.randomValue(0))),
  ],
  [
    'act-broken-json',
    600,
    (g) => {
      const r = g.rng;
      const good = JSON.stringify(g.actionBody(g.mutatedContext(), g.userId(true)));
      const body = r.pick([
        good.slice(0, r.int(good.length)),
        `${good}${r.pick(['}', ',', 'x', '\u0000', ' {}'])}`,
        good.replace(/"/g, r.pick(["'", '', '\\"'])),
        `\ufeff${good}`,
        '[' .repeat(r.between(1_000, 20_000)),
        '{"a":'.repeat(r.between(1_000, 10_000)) + '1' + '}'.repeat(r.between(0, 10_000)),
        `{"user_id":"${g.ing.otherUserIds[0]}","context":{"job":"x"},"user_id":"${g.userId(false)}"}`,
        '{"user_id":"\\ud800\\udc00\\uZZZZ"}',
        '{"user_id":1e999999, "context": NaN}',
        '{"__proto__":{"user_id":"x","admin":true},"constructor":{"prototype":{"polluted":1}},"user_id":"u"}',
        'null', 'true', '123', '"string"', '', ' ', '{}', '[]', '{"context":null}', '{"user_id":null}',
        r.bytes(r.between(1, 500)).toString('latin1'),
      ]);
      return one('act-broken-json', g.jsonMessage(body));
    },
  ],
  [
    'act-forged',
    500,
    (g) => {
      const r = g.rng;
      const real = g.realContext();
      const ctx = r.pick([
        { job: r.string(18), action: 'confirm', exp: Date.now() + 600_000, nonce: r.string(22), sig: r.string(43) },
        { ...real, sig: r.string(43, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') },
        { ...real, sig: '' },
        { ...real, sig: Buffer.from(real.sig, 'base64url').toString('hex') },
        { ...real, sig: `${real.sig}=` },
        { job: real.job, action: 'confirm', exp: real.exp, nonce: real.nonce },
        { ...real, exp: String(real.exp) },
        { ...real, action: ['confirm'] },
        { ...real, job: { toString: null } },
        [real],
        JSON.stringify(real),
        real.sig,
        {},
      ]);
      return one('act-forged', g.jsonMessage(g.actionBody(ctx, g.userId(true))));
    },
  ],
  ['act-mutated-real', 900, (g) => one('act-mutated-real', g.jsonMessage(g.actionBody(g.mutatedContext(), g.rng.chance(0.6) ? g.ing.allowedUserId : g.userId(true))))],
  ['act-resigned-wrong-secret', 600, (g) => one('act-resigned-wrong-secret', g.jsonMessage(g.actionBody(g.resigned(g.wrongSecret()), g.rng.chance(0.7) ? g.ing.allowedUserId : g.userId(true))))],
  ['act-resigned-right-secret', 500, (g) => one('act-resigned-right-secret', g.jsonMessage(g.actionBody(g.resigned(g.ing.secret), g.userId(false))))],
  [
    'act-replay',
    600,
    (g) => {
      const r = g.rng;
      if (r.chance(0.5)) return g.replay();
      // The real click, replayed with other clickers (never the allowed one), in other channels or posts.
      const body = { ...g.click, user_id: g.userId(false), ...(r.chance(0.3) ? { channel_id: r.string(26) } : {}), ...(r.chance(0.3) ? { post_id: r.string(26) } : {}) };
      return one('act-replay', g.jsonMessage(body));
    },
  ],
  [
    'act-expired',
    100,
    (g) => {
      // Expired and signed with the right secret, but for another nonce or job than the waiting plan's (phase B does the real one).
      const c = g.realContext();
      const ctx = signContext(g.ing.secret, { job: g.rng.chance(0.5) ? c.job : g.rng.string(18), action: c.action, exp: Date.now() - g.rng.between(1, 1e9), nonce: g.rng.string(22) });
      return one('act-expired', g.jsonMessage(g.actionBody(ctx, g.userId(true))));
    },
  ],
  [
    'act-huge',
    200,
    (g) => {
      const r = g.rng;
      const real = g.realContext();
      switch (r.int(5)) {
        case 0:
          return one('act-huge', g.jsonMessage(g.actionBody({ ...real, pad: 'y'.repeat(r.between(65_000, 400_000)) }, g.userId(true))));
        case 1:
          return one('act-huge', g.jsonMessage(g.actionBody({ ...real, job: 'j'.repeat(r.between(10_000, 60_000)) }, g.userId(true))));
        case 2:
          return one('act-huge', g.jsonMessage(g.actionBody(real, 'u'.repeat(r.between(10_000, 60_000)))));
        case 3:
          return one('act-huge', g.jsonMessage(g.actionBody(real, g.userId(false)), { contentLength: r.pick(['70000', '4294967296', '18446744073709551615', '1e6']) }), true);
        default:
          return one('act-huge', g.jsonMessage({ ...g.click, user_id: g.userId(false), context: real, extra: Array.from({ length: r.between(1_000, 6_000) }, (_, i) => ({ i })) }));
      }
    },
  ],
  [
    'act-wrong-content-type',
    200,
    (g) => {
      const r = g.rng;
      const json = JSON.stringify(g.actionBody(g.realContext(), g.userId(false)));
      const ct = r.pick(CONTENT_TYPES_NOT_JSON);
      const body = ct.startsWith('application/x-www-form') ? formOf([['user_id', g.userId(false)], ['context', json]]) : json;
      return one('act-wrong-content-type', wire(g.ing.port, { route: 'action', headers: [...MM_HEADERS, ...(ct ? [['Content-Type', ct] as [string, string]] : [])], body }));
    },
  ],
  [
    'act-unicode',
    200,
    (g) => {
      const r = g.rng;
      const u = (): string => Array.from({ length: r.between(1, 12) }, () => r.pick(UNICODE)).join('');
      if (r.chance(0.3)) {
        const text = Buffer.concat([Buffer.from(`{"user_id":"${g.userId(false)}","context":{"job":"`), r.pick(BAD_UTF8), Buffer.from('"}}')]);
        return one('act-unicode', wire(g.ing.port, { route: 'action', headers: [...MM_HEADERS, ['Content-Type', 'application/json']], body: text }));
      }
      const ctx: Record<string, unknown> = { ...g.realContext(), [r.pick(CONTEXT_FIELDS)]: u() };
      return one('act-unicode', g.jsonMessage({ ...g.click, user_id: r.chance(0.5) ? u() : g.userId(true), user_name: u(), channel_name: u(), context: ctx }));
    },
  ],
  [
    'keepalive-pipeline',
    150,
    (g) => {
      // Several requests on one connection, written at once (HTTP/1.1 pipelining); the last closes it.
      const r = g.rng;
      const n = r.between(2, 5);
      const messages: WireMessage[] = [];
      for (let i = 0; i < n; i++) {
        const close = i === n - 1;
        messages.push(
          r.chance(0.5)
            ? g.formMessage(g.slashFields(g.userId(false), r.chance(0.5) ? g.ing.slashToken : g.wrongToken()), { close })
            : g.jsonMessage(g.actionBody(r.chance(0.5) ? g.mutatedContext() : g.resigned(g.ing.secret), g.userId(false)), { close }),
        );
      }
      return { kind: 'keepalive-pipeline', halfClose: false, messages };
    },
  ],
  [
    'raw-broken',
    400,
    (g) => {
      const r = g.rng;
      const route: Route = r.pick(['command', 'action']);
      const path = PATHS[route];
      const host = `Host: 127.0.0.1:${g.ing.port}`;
      const form = formOf(g.slashFields(g.userId(false), g.ing.slashToken));
      const json = JSON.stringify(g.actionBody(g.mutatedContext(), g.userId(false)));
      const body = route === 'command' ? form : json;
      const ct = route === 'command' ? 'application/x-www-form-urlencoded' : 'application/json';
      const raw = r.pick<() => string | Buffer>([
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nContent-Type: ${ct}\r\nContent-Length: ${body.length + r.between(1, 50)}\r\n\r\n${body}`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nContent-Type: ${ct}\r\nContent-Length: ${Math.max(0, body.length - r.between(1, 20))}\r\nConnection: close\r\n\r\n${body}`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nContent-Type: ${ct}\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nContent-Type: ${ct}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nContent-Type: ${ct}\r\nTransfer-Encoding: chunked\r\n\r\n${(body.length + 100).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nContent-Type: ${ct}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nBad Header Name: x\r\nContent-Length: 0\r\n\r\n`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n`,
        () => `POST ${path} HTTP/1.1\n${host}\nContent-Type: ${ct}\nContent-Length: ${body.length}\nConnection: close\n\n${body}`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nX-A: b\u0000c\r\nContent-Length: 0\r\n\r\n`,
        () => `post ${path} HTTP/1.1\r\n${host}\r\nContent-Length: 0\r\n\r\n`,
        () => `POST ${path} HTTP/9.9\r\n${host}\r\nContent-Length: 0\r\n\r\n`,
        () => `POST ${path}\r\n\r\n`,
        () => `GET ${path}`,
        () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
        () => `POST http://evil.example${path} HTTP/1.1\r\n${host}\r\nContent-Type: ${ct}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        () => `POST ${path} HTTP/1.1\r\nContent-Type: ${ct}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        () => `POST ${r.pick(['/mattermost/command/', '/MATTERMOST/ACTION', '//mattermost/command', '/mattermost/command;x', '/mattermost/%2e%2e/action', '/mattermost/%E0%A4%A', '/mattermost/action%00', `/${'a/'.repeat(2_000)}`, '*'])} HTTP/1.1\r\n${host}\r\nContent-Type: ${ct}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        () => `CONNECT 127.0.0.1:22 HTTP/1.1\r\n${host}\r\n\r\n`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nExpect: 100-continue\r\nContent-Type: ${ct}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\nContent-Type: ${ct}\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
        () => `POST ${path} HTTP/1.1\r\n${host}\r\n${' '.repeat(10)}folded: x\r\n\tcontinued\r\nContent-Length: 0\r\n\r\n`,
        () => Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\n${host}\r\n`), r.bytes(r.between(1, 2_000)), Buffer.from('\r\n\r\n')]),
        () => r.bytes(r.between(1, 4_000)),
      ])();
      const bytes = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
      return { kind: 'raw-broken', halfClose: true, messages: [{ route, method: 'POST', bytes, expectAnswer: false, logical: body }] };
    },
  ],
];

/**
 * Whether the bot could start a job on `m`: a valid slash token together with the allowed
 * user (conservatively: both strings anywhere in the request, escapes undone), or a context
 * this bot signed that verifies, together with the allowed user.
 */
export function couldStartJob(m: WireMessage, ing: Ingredients, now: number): boolean {
  const seen = [m.bytes.toString('latin1'), m.logical, safeUnescape(m.logical)].join('\n');
  if (!seen.includes(ing.allowedUserId)) return false;
  if (m.route !== 'action' && seen.includes(ing.slashToken)) return true;
  if (m.route === 'command') return false;
  let body: unknown;
  try {
    body = JSON.parse(m.logical);
  } catch {
    // unparseable for the bot as well (its JSON parser is JSON.parse) — but be conservative with a BOM
    try {
      body = JSON.parse(m.logical.replace(/^\ufeff/, ''));
    } catch {
      return false;
    }
  }
  if (!body || typeof body !== 'object') return false;
  const b = body as Record<string, unknown>;
  const check = verifyContext(ing.secret, b.context, now);
  return b.user_id === ing.allowedUserId && (check.ok || check.reason !== 'forged');
}

function safeUnescape(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

// ── Sending ──────────────────────────────────────────────────────────────────────────────────

export interface Answer {
  status: number;
  contentType: string;
  body: string;
}

export interface ProbeResult {
  probe: Probe;
  answers: Answer[];
  /** 'ok': the server answered and closed; 'closed': it closed with fewer answers than messages; 'timeout': we gave up. */
  end: 'ok' | 'closed' | 'timeout' | 'error';
  error?: string;
  ms: number;
}

/** Responses in `data`, in order (as many as can be read; bodies by Content-Length). */
export function parseResponses(data: Buffer, methods: string[]): Answer[] {
  const out: Answer[] = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = data.subarray(at, end).toString('latin1');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!m) break;
    const status = Number(m[1]);
    const header = (name: string): string => new RegExp(`\\r\\n${name}:\\s*([^\\r]*)`, 'i').exec(head)?.[1] ?? '';
    const method = methods[out.length] ?? 'POST';
    const length = method === 'HEAD' || status === 100 || status === 204 || status === 304 ? 0 : Number(header('content-length') || 0);
    const bodyStart = end + 4;
    if (status === 100) {
      at = bodyStart;
      continue;
    }
    out.push({ status, contentType: header('content-type'), body: data.subarray(bodyStart, bodyStart + length).toString('utf8') });
    at = bodyStart + length;
  }
  return out;
}

export function sendProbe(port: number, probe: Probe, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let done = false;
    const socket: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const finish = (end: ProbeResult['end']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const answers = parseResponses(Buffer.concat(chunks), probe.messages.map((m) => m.method));
      const e = end === 'timeout' ? 'timeout' : answers.length >= probe.messages.length ? 'ok' : error ? 'error' : 'closed';
      resolve({ probe, answers, end: e, ...(error ? { error } : {}), ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => finish('ok'));
    socket.on('close', () => finish('ok'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A server that answers early and closes while we still write gives EPIPE/ECONNRESET here: what was read still counts.
      error = err.code ?? err.message;
      finish('ok');
    });
    socket.on('connect', () => {
      socket.write(Buffer.concat(probe.messages.map((m) => m.bytes)), () => {
        if (probe.halfClose) socket.end();
      });
    });
  });
}

/** Sends every probe, `concurrency` connections at a time, in corpus order. */
export async function sendAll(port: number, probes: Probe[], { concurrency = 20, timeoutMs = 15_000 } = {}): Promise<ProbeResult[]> {
  const results: ProbeResult[] = new Array(probes.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < probes.length) {
      const i = next++;
      results[i] = await sendProbe(port, probes[i]!, timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

// ── Slowloris ────────────────────────────────────────────────────────────────────────────────

export interface SlowResult {
  pattern: string;
  route: Route;
  /** Time from the first byte until the server closed the connection (or we gave up: `closed` false). */
  ms: number;
  closed: boolean;
  status?: number;
  bytesSent: number;
}

export const SLOW_PATTERNS = ['connect-idle', 'headers-stop', 'headers-drip', 'body-stop', 'body-drip', 'chunked-drip', 'keepalive-idle'] as const;

/**
 * One slow client: it connects and sends according to `pattern`, never completing the request
 * (except `keepalive-idle`, a complete request then silence on a kept-alive connection), and
 * measures when the server closes the connection. Gives up after `giveUpMs`.
 */
export function slowClient(port: number, pattern: (typeof SLOW_PATTERNS)[number], route: Route, ingredients: Ingredients, giveUpMs: number, dripMs = 400): Promise<SlowResult> {
  const path = PATHS[route];
  const ct = route === 'command' ? 'application/x-www-form-urlencoded' : 'application/json';
  const body = route === 'command' ? ingredients.slash.body : ingredients.click.body;
  const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: Mattermost-Bot/1.1\r\nContent-Type: ${ct}\r\n`;
  return new Promise((resolve) => {
    const started = performance.now();
    let sent = 0;
    let drip: NodeJS.Timeout | undefined;
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const send = (s: string): void => {
      if (socket.writable) {
        socket.write(s);
        sent += Buffer.byteLength(s);
      }
    };
    let finished = false;
    const finish = (closed: boolean): void => {
      if (finished) return;
      finished = true;
      clearInterval(drip);
      clearTimeout(giveUp);
      socket.destroy();
      const status = parseResponses(Buffer.concat(chunks), ['POST'])[0]?.status;
      resolve({ pattern, route, ms: performance.now() - started, closed, bytesSent: sent, ...(status !== undefined ? { status } : {}) });
    };
    const giveUp = setTimeout(() => finish(false), giveUpMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    // The server ends its side (FIN) when it gives up on the request; that is the closing we time.
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      switch (pattern) {
        case 'connect-idle':
          break;
        case 'headers-stop':
          send(head.slice(0, 40 + Math.floor(head.length / 3)));
          break;
        case 'headers-drip': {
          send(head);
          let i = 0;
          drip = setInterval(() => send(i++ === 0 ? 'X-Slow: ' : 'a'), dripMs);
          break;
        }
        case 'body-stop':
          send(`${head}Content-Length: ${body.length}\r\n\r\n${body.slice(0, Math.floor(body.length / 2))}`);
          break;
        case 'body-drip': {
          send(`${head}Content-Length: 60000\r\n\r\n`);
          drip = setInterval(() => send('a'), dripMs);
          break;
        }
        case 'chunked-drip': {
          send(`${head}Transfer-Encoding: chunked\r\n\r\n`);
          drip = setInterval(() => send('1\r\na\r\n'), dripMs);
          break;
        }
        case 'keepalive-idle':
          send(`${head}Content-Length: ${body.length}\r\n\r\n${body}`);
          break;
      }
    });
  });
}

// ── The process under test ──────────────────────────────────────────────────────────────────

/** Resident memory of `pid`, in kB (VmRSS of /proc/<pid>/status). */
export async function rssKb(pid: number): Promise<number> {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/**
 * Replies that name a user (`@name`) whose real id the request did not carry: the bot took
 * something else than a user id for one (`me`, `../users/<id>`: another API path asked with
 * the bot's token). `ids`: username → id of the people in the team.
 */
export function misnamedUsers(results: ProbeResult[], ids: Record<string, string>): Array<{ kind: string; named: string; request: string }> {
  const out: Array<{ kind: string; named: string; request: string }> = [];
  for (const r of results) {
    r.answers.forEach((a, i) => {
      const m = r.probe.messages[i];
      if (!m || a.status !== 200) return;
      const sent = `${m.bytes.toString('latin1')}\n${m.logical}`;
      for (const [, name] of a.body.matchAll(/@([a-z0-9._-]+)/g)) {
        const id = ids[name!];
        if (id && !sent.includes(id)) out.push({ kind: r.probe.kind, named: name!, request: sent.slice(0, 400) });
      }
    });
  }
  return out;
}
