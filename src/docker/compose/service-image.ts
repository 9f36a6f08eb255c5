import type { Scalar } from 'yaml';
import { ComposeError, UpgradeBotError } from '../../common/errors.js';
import { invalid, lineAt, type ComposeSource } from './compose-file.js';
import { setEnvValue, type EnvEntry } from './env-file.js';
import { parseImageRef, type ImageRef } from './image-ref.js';
import { interpolate, interpolateSegments, type Segment } from './interpolate.js';
import type { ServiceImage } from './types.js';

export interface EnvFile {
  file: string;
  bytes: Buffer;
  text: string;
  entries: EnvEntry[];
  /**
   * Variables come from the `.env` file only: the bot runs in its own environment, not in
   * the admin's shell, so what docker compose might take from that shell is unknown here.
   */
  vars: Record<string, string>;
}

export interface Located {
  image: ServiceImage;
  /** The file that holds the tag, its bytes, and those bytes with another tag (absent when the tag cannot be changed). */
  tagFile: { file: string; bytes: Buffer; withTag?: (tag: string) => Buffer };
}

export function describeImage(
  service: string,
  source: ComposeSource,
  scalar: Scalar<string>,
  env: EnvFile,
  containerName: string | undefined,
): Located {
  const { file, text } = source;
  const raw = scalar.value;
  const [start, end] = scalar.range ?? [0, 0];
  const line = lineAt(text, start);
  const where = `${file}:${line}`;
  const quoted = scalar.type === 'QUOTE_DOUBLE' || scalar.type === 'QUOTE_SINGLE';
  const verbatim = (quoted || scalar.type === 'PLAIN') && text.slice(quoted ? start + 1 : start, quoted ? end - 1 : end) === raw;
  const rawStart = quoted ? start + 1 : start;

  const segments = withContext(where, () => interpolateSegments(raw, env.vars));
  const resolved = segments.map((s) => s.text).join('');
  const ref = parseResolved(where, service, raw, resolved, segments, env.file);
  const image: ServiceImage = { service, file, line, raw, resolved, ref, tagSource: { kind: 'literal', file, line } };
  if (containerName !== undefined) image.containerName = withContext(where, () => interpolate(containerName, env.vars));
  const located: Located = { image, tagFile: { file, bytes: source.bytes } };

  // Where the tag is in the resolved text; with no tag, where one would be inserted.
  const tagFrom = ref.name.length + (ref.tag === undefined ? 0 : 1);
  const tagTo = tagFrom + (ref.tag?.length ?? 0);
  const pieces = piecesAt(segments, ref.tag === undefined ? tagFrom - 1 : tagFrom, tagTo);
  const only = pieces.length === 1 ? pieces[0] : undefined;
  const variable = only?.segment.variable;

  if (ref.digest !== undefined) {
    image.tagProblem = `${where}: service "${service}" is pinned by digest (${resolved}); the bot changes tags only: remove "@${ref.digest}" to pin it by tag, or change the digest by hand`;
  } else if (!verbatim) {
    image.tagProblem = `${where}: the image of service "${service}" is written with escapes or on several lines; write it on one line (image: ${ref.name}:<tag>) or change the tag by hand`;
  } else if (only && variable === undefined && only.segment.text.length === only.segment.end - only.segment.start) {
    const at = rawStart + only.segment.start + (tagFrom - only.from);
    const insert = ref.tag === undefined ? ':' : '';
    located.tagFile.withTag = (tag) => Buffer.from(text.slice(0, at) + insert + tag + text.slice(at + tagTo - tagFrom), 'utf8');
  } else if (only && variable !== undefined && only.segment.fromValue) {
    const entry = env.entries.filter((e) => e.name === variable).at(-1);
    image.tagSource = { kind: 'env', file: env.file, variable, line: entry?.line ?? 0 };
    located.tagFile = { file: env.file, bytes: env.bytes };
    if (ref.tag === undefined || only.from !== tagFrom || only.to !== tagTo) {
      image.tagProblem = `${where}: the tag of service "${service}" is part of the value of ${variable} in ${env.file}; give the tag a variable of its own (image: ${ref.name}:\${${variable}_TAG}) or change ${variable} by hand`;
    } else if (entry?.value !== env.vars[variable]) {
      image.tagProblem = `${env.file}:${entry?.line}: ${variable} is built from other variables; set it to a plain tag (${variable}=${ref.tag}) or change it by hand`;
    } else {
      located.tagFile.withTag = (tag) => Buffer.from(setEnvValue(env.text, variable, tag), 'utf8');
    }
  } else if (only && variable !== undefined && !Object.hasOwn(env.vars, variable)) {
    image.tagProblem = `${where}: the tag of service "${service}" comes from ${variable}, which is not defined in ${env.file} (docker compose may take it from a shell the bot cannot see); add ${variable}=${ref.tag ?? '<tag>'} to ${env.file}, or write the tag in ${file}`;
  } else {
    image.tagProblem = `${where}: the tag of service "${service}" in "${raw}" mixes literal text and variables; write it either literally (image: ${ref.name}:${ref.tag ?? '<tag>'}) or as one variable defined in ${env.file} (image: ${ref.name}:\${TAG}), or change it by hand`;
  }
  return located;
}

function parseResolved(where: string, service: string, raw: string, resolved: string, segments: Segment[], envFile: string): ImageRef {
  try {
    return parseImageRef(resolved);
  } catch {
    const unset = [...new Set(segments.filter((s) => s.variable !== undefined && !s.fromValue).map((s) => s.variable))];
    const missing = unset.length ? `; not defined in ${envFile}: ${unset.join(', ')}` : '';
    throw invalid(`${where}: image "${raw}" of service "${service}" resolves to "${resolved}", which is not a valid image reference${missing}`);
  }
}

/** The segments whose resolved text overlaps [from, to), and the empty ones that touch it: all that make up the tag. */
function piecesAt(segments: Segment[], from: number, to: number): Array<{ segment: Segment; from: number; to: number }> {
  const pieces: Array<{ segment: Segment; from: number; to: number }> = [];
  let pos = 0;
  for (const segment of segments) {
    const next = pos + segment.text.length;
    const overlaps = pos < to && next > from;
    const touches = pos === next && pos >= from && pos <= to;
    if (overlaps || touches) pieces.push({ segment, from: pos, to: next });
    pos = next;
  }
  return pieces;
}

export function withContext<T>(where: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof UpgradeBotError) throw new ComposeError(err.code, `${where}: ${err.message}`, { cause: err });
    throw err;
  }
}
