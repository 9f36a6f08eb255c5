/**
 * The secrets suite's grep: recognisable secret values, every form in which each could show
 * (as is, URL- and form-encoded, base64 and base64url at any byte alignment, its recognisable
 * prefix alone for a cut-off copy), and the places searched — texts, and the files of a folder
 * with their modes. A job journal (0600) may hold secrets inside the container specs it saves
 * for a rollback, and nowhere else in it.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Secret {
  /** What it is, for the report: "MM_BOT_TOKEN". */
  name: string;
  value: string;
  /** Its recognisable start, searched alone too: a copy cut short still gives it away. */
  prefix: string;
}

export interface Leak {
  secret: string;
  form: string;
  /** Where: "serve stderr", "post abc in ~upgrades", "STATE_DIR/history.jsonl". */
  where: string;
  line: number;
  text: string;
}

const rand = (n: number): string => randomBytes(n).toString('hex').slice(0, n);

/**
 * Recognisable and distinct, each `SECRET<kind>` then random: tokens as Mattermost makes them
 * (26 lower-case letters and digits); the others with characters that change under URL and
 * form encoding, as real passwords have.
 */
export function makeSecrets(): Record<'botToken' | 'slashToken' | 'botSecret' | 'registryPassword' | 'wrongRegistryPassword' | 'dbPassword', Secret> {
  const secret = (name: string, prefix: string, rest: string): Secret => ({ name, prefix, value: `${prefix}${rest}` });
  return {
    botToken: secret('MM_BOT_TOKEN', 'SECRETbottoken', rand(12)),
    slashToken: secret('MM_SLASH_TOKENS', 'SECRETslash', rand(15)),
    botSecret: secret('BOT_SECRET', 'SECRETbotsecret', `/${rand(10)}+${rand(10)}=`),
    registryPassword: secret('REGISTRY_PASSWORD', 'SECRETregistry', `@${rand(8)}/+:${rand(8)}`),
    wrongRegistryPassword: secret('REGISTRY_PASSWORD (a wrong one)', 'SECRETregwrong', `+${rand(8)}/${rand(8)}`),
    dbPassword: secret('POSTGRES_PASSWORD', 'SECRETdbpass', `@${rand(8)}/:+${rand(8)}`),
  };
}

/** The base64 of `value` as it reads inside a longer base64 text, for each of the three byte alignments. */
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const whole = bytes.subarray(offset, offset + Math.floor((bytes.length - offset) / 3) * 3);
    if (whole.length >= 12) out.push(whole.toString('base64'));
  }
  return out;
}

/** Every form worth searching for, with its name; the prefix catches a copy cut short ("SECRETdbpass@1a2b…"). */
export function forms(secret: Secret): Array<{ form: string; needle: string }> {
  const v = secret.value;
  const list: Array<{ form: string; needle: string }> = [
    { form: 'as is', needle: v },
    { form: 'URL-encoded', needle: encodeURIComponent(v) },
    { form: 'URL-encoded (lower-case hex)', needle: encodeURIComponent(v).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()) },
    { form: 'form-encoded', needle: new URLSearchParams({ x: v }).toString().slice(2) },
    ...base64Forms(v).flatMap((b) => [
      { form: 'base64', needle: b },
      { form: 'base64url', needle: b.replace(/\+/g, '-').replace(/\//g, '_') },
    ]),
    { form: `its prefix ${secret.prefix}`, needle: secret.prefix },
  ];
  const seen = new Set<string>();
  return list.filter((f) => !seen.has(f.needle) && seen.add(f.needle));
}

/** The line around `at`, for a report: long journal lines are cut to where the secret is. */
function excerpt(line: string, at: number): string {
  if (line.length <= 400) return line;
  const start = Math.max(0, at - 150);
  return `${start > 0 ? '…' : ''}${line.slice(start, start + 400)}${start + 400 < line.length ? '…' : ''}`;
}

export class SecretScanner {
  private readonly needles: Array<{ secret: string; form: string; needle: string }>;

  constructor(secrets: Secret[]) {
    this.needles = secrets.flatMap((s) => forms(s).map((f) => ({ secret: s.name, ...f })));
  }

  /** Every line of `text` that holds a secret, once per secret, with the forms it is in. */
  scan(text: string, where: string): Leak[] {
    const leaks: Leak[] = [];
    text.split('\n').forEach((line, i) => {
      const found = new Map<string, { forms: string[]; at: number }>();
      for (const n of this.needles) {
        const at = line.indexOf(n.needle);
        if (at < 0) continue;
        const f = found.get(n.secret) ?? { forms: [], at };
        found.set(n.secret, { forms: [...f.forms, n.form], at: Math.min(f.at, at) });
      }
      for (const [secret, f] of found) leaks.push({ secret, form: f.forms.join(', '), where, line: i + 1, text: excerpt(line, f.at) });
    });
    return leaks;
  }

  /** Whether any form of any secret is in `text`. */
  holds(text: string): boolean {
    return this.needles.some((n) => text.includes(n.needle));
  }
}

export interface ScannedFile {
  path: string;
  /** Relative to the folder scanned. */
  name: string;
  mode: number;
  bytes: number;
  leaks: Leak[];
}

/** Every regular file under `dir` (recursively), its mode, and the secrets in it. `skip` files are listed with their mode, not read. */
export function scanTree(scanner: SecretScanner, dir: string, label: string, skip: (name: string) => boolean = () => false): ScannedFile[] {
  const out: ScannedFile[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const path = join(d, n);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) {
        const name = relative(dir, path);
        const leaks = skip(name) ? [] : scanner.scan(readFileSync(path, 'latin1'), `${label}/${name}`);
        out.push({ path, name, mode: st.mode & 0o7777, bytes: st.size, leaks });
      }
    }
  };
  walk(dir);
  return out;
}

/** A copy of a journal entry without the container specs it saved (`…spec: {name, create, …}`). */
function withoutSpecs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSpecs);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const isSpec = k === 'spec' && v !== null && typeof v === 'object' && 'create' in v;
    out[k] = isSpec ? '[container spec]' : withoutSpecs(v);
  }
  return out;
}

/**
 * The secrets of a job journal (`jobs/<id>.jsonl`) that are not inside a saved container spec:
 * each line is parsed and its specs taken out before it is searched again.
 */
export function leaksOutsideSpecs(scanner: SecretScanner, file: ScannedFile): Leak[] {
  const lines = readFileSync(file.path, 'utf8').split('\n');
  const out: Leak[] = [];
  lines.forEach((line, i) => {
    if (!scanner.holds(line)) return;
    let rest: string;
    try {
      rest = JSON.stringify(withoutSpecs(JSON.parse(line)));
    } catch {
      rest = line;
    }
    out.push(...scanner.scan(rest, `${file.name} (outside the container specs)`).map((l) => ({ ...l, line: i + 1 })));
  });
  return out;
}

/** The leaks, one paragraph each, for an assertion message. */
export function report(leaks: Leak[]): string {
  return leaks.map((l) => `- ${l.secret} (${l.form}) in ${l.where}, line ${l.line}:\n    ${l.text}`).join('\n');
}

export const octal = (mode: number): string => `0${mode.toString(8).padStart(3, '0')}`;
