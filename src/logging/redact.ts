/**
 * Secret redaction, applied to every log record before it is formatted, to every chat
 * message and to the container log lines a job quotes: known secret values anywhere in the
 * text (also URL- and form-encoded), credentials inside URLs, `password=…` pairs, and values
 * under keys whose names say they are secret.
 */
export const REDACTED = '[REDACTED]';

const SECRET_KEY = /(token|secret|password|passwd|pwd|authorization|auth|cookie|datasource|credential)/i;
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]+):([^\s@/]+)@/gi;
const AUTH_HEADER = /\b(Bearer|Token|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;
/** `password=…` as libpq's conninfo and many tools write it, also `"password":"…"`: the value, quoted or not. */
const KEYWORD_CREDENTIALS = /\b(password|passwd|pwd)("?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s'",;&]+)/gi;
/** A password inside any URL of a text (e.g. MM_SQLSETTINGS_DATASOURCEREPLICAS, a JSON list of them). */
const URL_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/"']+:([^\s@/"']+)@/gi;
/** Environment variables whose values are secrets (their `_FILE` variants name a path, not a secret). */
const SECRET_ENV_NAME = /(PASSWORD|PASSWD|PWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_?KEY|ACCESS_?KEY|API_?KEY|ENCRYPTKEY)/i;

/** A secret as written in a URL or a form as well as as is: a password in a data source is URL-encoded. */
function writtenForms(secret: string): string[] {
  return [secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)];
}

/**
 * The secrets in a container's environment (`NAME=value` entries, as Docker's inspect gives
 * them): values of variables named like POSTGRES_PASSWORD or …_TOKEN, and the passwords of URLs
 * (MM_SQLSETTINGS_DATASOURCE), as written and decoded. What a container knows it may print in
 * its logs, which a job quotes in chat and in its result.
 */
export function secretsInEnv(env: readonly string[]): string[] {
  const out: string[] = [];
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const [name, value] = [entry.slice(0, eq), entry.slice(eq + 1)];
    if (SECRET_ENV_NAME.test(name) && !/_FILE$/i.test(name)) out.push(value);
    for (const m of value.matchAll(URL_PASSWORD)) {
      out.push(m[1]!);
      try {
        out.push(decodeURIComponent(m[1]!));
      } catch {
        // not valid percent-encoding: the password as written is all there is
      }
    }
  }
  return out.filter((s) => s.length >= 4);
}

export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: readonly string[] = []) {
    this.secrets = [...new Set(secrets.filter((s) => s.length >= 4).flatMap(writtenForms))].sort((a, b) => b.length - a.length);
  }

  text(input: string): string {
    let out = input;
    for (const s of this.secrets) out = out.split(s).join(REDACTED);
    return out
      .replace(URL_CREDENTIALS, `$1$2:${REDACTED}@`)
      .replace(AUTH_HEADER, `$1 ${REDACTED}`)
      .replace(KEYWORD_CREDENTIALS, (_m, key: string, sep: string, value: string) => {
        const quote = value[0] === '"' || value[0] === "'" ? value[0] : '';
        return `${key}${sep}${quote}${REDACTED}${quote}`;
      });
  }

  /** A deep copy of `value` with secrets masked; keys that name secrets lose their whole value. */
  value(value: unknown, key?: string, seen = new WeakSet<object>()): unknown {
    if (typeof value === 'string') return key !== undefined && SECRET_KEY.test(key) && value !== '' ? REDACTED : this.text(value);
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return '[Circular]';
    seen.add(value);
    if (value instanceof Error) {
      return { name: value.name, message: this.text(value.message), ...(value.stack ? { stack: this.text(value.stack) } : {}) };
    }
    if (Array.isArray(value)) return value.map((v) => this.value(v, undefined, seen));
    if (Buffer.isBuffer(value)) return this.text(value.toString('utf8'));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.value(v, k, seen);
    return out;
  }
}
