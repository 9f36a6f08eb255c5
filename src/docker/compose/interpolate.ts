import { ComposeError, ErrorCode } from '../../common/errors.js';

/**
 * One piece of an interpolated string: `start`/`end` are offsets in the source text,
 * `text` is what the piece became. A piece with a `variable` is one `$VAR` or `${…}`
 * expression; `fromValue` tells whether its text is that variable's own value (and not
 * a default, an alternative or nothing). A piece without one is literal text, copied as is
 * unless it is the `$$` escape.
 */
export interface Segment {
  start: number;
  end: number;
  text: string;
  variable?: string;
  fromValue?: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const BRACED = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([\s\S]*))?$/;

/** docker-compose interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`, `$$`. */
export function interpolate(text: string, vars: Record<string, string | undefined>): string {
  return interpolateSegments(text, vars)
    .map((s) => s.text)
    .join('');
}

export function interpolateSegments(text: string, vars: Record<string, string | undefined>): Segment[] {
  const segments: Segment[] = [];
  let literalFrom = 0;
  const literalUpTo = (end: number): void => {
    if (end > literalFrom) segments.push({ start: literalFrom, end, text: text.slice(literalFrom, end) });
  };
  let i = text.indexOf('$');
  while (i >= 0 && i < text.length) {
    const next = text[i + 1];
    let end: number;
    if (next === '$') {
      literalUpTo(i);
      end = i + 2;
      segments.push({ start: i, end, text: '$' });
    } else if (next === '{') {
      const close = closingBrace(text, i + 2);
      if (close < 0) throw invalid(`unterminated "\${" in "${text}"`);
      literalUpTo(i);
      end = close + 1;
      segments.push({ start: i, end, ...expand(text.slice(i + 2, close), vars) });
    } else {
      const name = NAME.exec(text.slice(i + 1))?.[0];
      if (name === undefined) {
        i = text.indexOf('$', i + 1);
        continue;
      }
      literalUpTo(i);
      end = i + 1 + name.length;
      const value = lookup(vars, name);
      segments.push({ start: i, end, text: value ?? '', variable: name, fromValue: value !== undefined });
    }
    literalFrom = end;
    i = text.indexOf('$', end);
  }
  literalUpTo(text.length);
  return segments;
}

function expand(body: string, vars: Record<string, string | undefined>): Omit<Segment, 'start' | 'end'> {
  const m = BRACED.exec(body);
  if (!m) throw invalid(`"\${${body}}" is not a valid substitution: expected \${NAME}, \${NAME:-default}, \${NAME:?error}…`);
  const [, variable = '', op, arg = ''] = m;
  const value = lookup(vars, variable);
  const isSet = value !== undefined;
  const nonEmpty = isSet && value !== '';
  const own = { text: value ?? '', variable, fromValue: isSet };
  const other = (source: string) => ({ text: interpolate(source, vars), variable, fromValue: false });
  switch (op) {
    case undefined:
      return own;
    case ':-':
      return nonEmpty ? own : other(arg);
    case '-':
      return isSet ? own : other(arg);
    case ':+':
      return nonEmpty ? other(arg) : { text: '', variable, fromValue: false };
    case '+':
      return isSet ? other(arg) : { text: '', variable, fromValue: false };
    case ':?':
    case '?':
      if (op === ':?' ? !nonEmpty : !isSet) {
        throw invalid(`required variable ${variable} is missing a value${arg ? `: ${interpolate(arg, vars)}` : ''}`);
      }
      return own;
    default:
      throw invalid(`unknown operator "${op}" in "\${${body}}"`);
  }
}

function lookup(vars: Record<string, string | undefined>, name: string): string | undefined {
  return Object.hasOwn(vars, name) ? vars[name] : undefined;
}

function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let j = from; j < text.length; j++) {
    if (text[j] === '$' && (text[j + 1] === '{' || text[j + 1] === '$')) {
      if (text[j + 1] === '{') depth++;
      j++;
    } else if (text[j] === '}' && --depth === 0) {
      return j;
    }
  }
  return -1;
}

function invalid(message: string): ComposeError {
  return new ComposeError(ErrorCode.ComposeInvalid, message);
}
