import { ComposeError, ErrorCode } from '../../common/errors.js';

/**
 * The `.env` beside the compose file, read the way docker compose reads it
 * (compose-go's dotenv): `KEY=value`, optional `export `, `#` comment lines,
 * unquoted values cut at ` #` and trimmed, `'single'` literal, `"double"` with
 * backslash escapes and possibly several lines. The last definition of a key wins.
 */
export interface EnvEntry {
  name: string;
  value: string;
  /** 1-based line of the definition. */
  line: number;
  quote: '' | '"' | "'";
  /** Offsets of the value text in the file, inside the quotes when quoted. */
  valueStart: number;
  valueEnd: number;
}

const ASSIGNMENT = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*/;
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t' };

export function scanEnvFile(text: string): EnvEntry[] {
  const entries: EnvEntry[] = [];
  let pos = 0;
  let line = 1;
  while (pos < text.length) {
    let eol = lineEnd(text, pos);
    const m = ASSIGNMENT.exec(text.slice(pos, eol));
    if (m?.[1]) {
      const start = pos + m[0].length;
      const quote = text[start];
      if (quote === '"' || quote === "'") {
        const close = closingQuote(text, start + 1, quote);
        if (close < 0) throw new ComposeError(ErrorCode.ComposeInvalid, `line ${line}: ${m[1]} has an unterminated ${quote} quote`);
        const inner = text.slice(start + 1, close);
        const value = quote === "'" ? inner : inner.replace(/\\(.)/gs, (_, c: string) => ESCAPES[c] ?? c);
        entries.push({ name: m[1], value, line, quote, valueStart: start + 1, valueEnd: close });
        eol = lineEnd(text, close);
      } else {
        const rest = text.slice(start, eol);
        const cut = rest.indexOf(' #');
        const value = (cut < 0 ? rest : rest.slice(0, cut)).trimEnd();
        entries.push({ name: m[1], value, line, quote: '', valueStart: start, valueEnd: start + value.length });
      }
    }
    line += countNewlines(text, pos, eol) + 1;
    pos = eol + 1;
  }
  return entries;
}

export function parseEnvFile(text: string): Map<string, { value: string; line: number }> {
  return new Map(scanEnvFile(text).map((e) => [e.name, { value: e.value, line: e.line }]));
}

/** Replaces the value text of the line that defines `variable` (its last definition); every other byte is kept. */
export function setEnvValue(text: string, variable: string, value: string): string {
  const entry = scanEnvFile(text)
    .filter((e) => e.name === variable)
    .at(-1);
  if (!entry) {
    throw new ComposeError(ErrorCode.ComposeInvalid, `${variable} is not defined in the .env file: expected a line ${variable}=<value>`);
  }
  const unsafe = { '': /[\s#"'$\\]/, '"': /["$\\\r\n]/, "'": /['\r\n]/ }[entry.quote];
  if (unsafe.test(value) || text.slice(entry.valueStart, entry.valueEnd).includes('\n')) {
    throw new ComposeError(
      ErrorCode.ComposeEditFailed,
      `cannot write "${value}" as the value of ${variable} (line ${entry.line} of the .env file): change that line by hand`,
    );
  }
  return text.slice(0, entry.valueStart) + value + text.slice(entry.valueEnd);
}

function lineEnd(text: string, from: number): number {
  const eol = text.indexOf('\n', from);
  return eol < 0 ? text.length : eol;
}

function closingQuote(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === quote) return i;
    if (quote === '"' && text[i] === '\\') i++;
  }
  return -1;
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
