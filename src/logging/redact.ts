/**
 * Secret redaction, applied to every log record before it is formatted: known secret
 * values anywhere in the text, credentials inside URLs, and values under keys whose
 * names say they are secret.
 */
export const REDACTED = '[REDACTED]';

const SECRET_KEY = /(token|secret|password|passwd|pwd|authorization|auth|cookie|datasource|credential)/i;
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]+):([^\s@/]+)@/gi;
const AUTH_HEADER = /\b(Bearer|Token|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: readonly string[] = []) {
    this.secrets = [...new Set(secrets.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  }

  text(input: string): string {
    let out = input;
    for (const s of this.secrets) out = out.split(s).join(REDACTED);
    return out.replace(URL_CREDENTIALS, `$1$2:${REDACTED}@`).replace(AUTH_HEADER, `$1 ${REDACTED}`);
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
