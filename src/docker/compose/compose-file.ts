import type { Document, YAMLMap } from 'yaml';
import { ComposeError, ErrorCode } from '../../common/errors.js';
import { isAlias, isMap, isScalar, isSeq, parseDocument } from './yaml.js';

export interface ComposeSource {
  file: string;
  bytes: Buffer;
  text: string;
  doc: Document.Parsed;
  services?: YAMLMap;
}

export function invalid(message: string, hint?: string): ComposeError {
  return new ComposeError(ErrorCode.ComposeInvalid, message, hint === undefined ? {} : { hint });
}

/** Text of a file that must round-trip byte for byte, so that splicing the text keeps every other byte. */
export function decodeUtf8(file: string, bytes: Buffer): string {
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw invalid(`${file} is not valid UTF-8: expected a UTF-8 text file`);
  return text;
}

export function parseComposeFile(file: string, bytes: Buffer): ComposeSource {
  const text = decodeUtf8(file, bytes);
  const doc = parseDocument(text, { merge: true });
  const error = doc.errors[0];
  if (error) throw invalid(`${file} is not valid YAML: ${error.message.split('\n')[0]}`);
  const root = deref(doc, doc.contents);
  if (isEmpty(root)) return { file, bytes, text, doc };
  if (!isMap(root)) throw invalid(`${file}: expected a mapping with a services: section at the top level`);
  const services = deref(doc, lookup(doc, root, 'services'));
  if (isEmpty(services)) return { file, bytes, text, doc };
  if (!isMap(services)) throw invalid(`${file}: services: must be a mapping of service names to their settings`);
  return { file, bytes, text, doc, services };
}

/**
 * The value node of `key` in `map` as docker compose sees it: the map's own key first,
 * then `<<` merge sources in order (the earlier source wins), through aliases.
 * `undefined` when the key is absent.
 */
export function lookup(doc: Document, map: YAMLMap, key: string, seen = new Set<YAMLMap>()): unknown {
  if (seen.has(map)) return undefined;
  seen.add(map);
  for (const pair of map.items) {
    if (isScalar(pair.key) && typeof pair.key.value !== 'symbol' && String(pair.key.value) === key) return pair.value ?? null;
  }
  for (const pair of map.items) {
    if (!isMergeKey(pair.key)) continue;
    const value = deref(doc, pair.value);
    for (const source of isSeq(value) ? value.items : [value]) {
      const sourceMap = deref(doc, source);
      const found = isMap(sourceMap) ? lookup(doc, sourceMap, key, seen) : undefined;
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export function keysOf(map: YAMLMap): string[] {
  return map.items.flatMap((p) => (isScalar(p.key) && typeof p.key.value !== 'symbol' ? [String(p.key.value)] : []));
}

export function deref(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

export function isEmpty(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** A plain `<<` key, which the parser (with `merge: true`) turns into a symbol; a quoted "<<" is an ordinary key. */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol' && key.value.description === '<<';
}
