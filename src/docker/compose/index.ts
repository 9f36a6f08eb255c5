import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Scalar } from 'yaml';
import { BadInputError, ComposeError, ErrorCode } from '../../common/errors.js';
import { isVersionTag } from '../../common/version.js';
import { writeFileAtomic } from './atomic-write.js';
import { decodeUtf8, deref, invalid, isEmpty, keysOf, lookup, parseComposeFile, type ComposeSource } from './compose-file.js';
import { scanEnvFile } from './env-file.js';
import { interpolate } from './interpolate.js';
import { describeImage, withContext, type EnvFile, type Located } from './service-image.js';
import type { ComposeFiles, FileChange, ServiceImage } from './types.js';
import { isMap, isScalar } from './yaml.js';

export type { ComposeFiles, FileChange, ServiceImage, TagSource } from './types.js';
export { formatImageRef, parseImageRef, type ImageRef } from './image-ref.js';
export { interpolate } from './interpolate.js';
export { parseEnvFile, setEnvValue } from './env-file.js';
export { writeFileAtomic } from './atomic-write.js';

/** How files are read; tests pass their own reader. */
export interface ComposeIo {
  readFile?: (path: string) => Promise<Buffer>;
}
type Reader = (path: string) => Promise<Buffer>;

/** Splits a COMPOSE_FILE value on ':' (as docker compose does on Linux) and resolves each path against `cwd`. */
export function composeFilesFrom(composeFileSetting: string, cwd = process.cwd()): ComposeFiles {
  const files = composeFileSetting
    .split(':')
    .map((f) => f.trim())
    .filter((f) => f !== '')
    .map((f) => resolve(cwd, f));
  const first = files[0];
  if (first === undefined) throw invalid('COMPOSE_FILE is empty: expected the compose file path(s), several joined by ":"');
  return { files, envFile: join(dirname(first), '.env') };
}

/** The folder of the first compose file, where docker compose runs the project from. */
export function readComposeProjectDir(files: ComposeFiles): string {
  return dirname(files.envFile);
}

export async function readServiceImage(files: ComposeFiles, service: string, io: ComposeIo = {}): Promise<ServiceImage> {
  return (await locate(files, service, io.readFile ?? readFile)).image;
}

/**
 * Pins `service` to `newTag` where its tag is written (the compose file, or the `.env` line of
 * its variable), changing nothing else; writes atomically with a `.bak`, re-reads to confirm,
 * and writes the original back when the confirmation fails.
 */
export async function setServiceTag(files: ComposeFiles, service: string, newTag: string, io: ComposeIo = {}): Promise<FileChange> {
  if (!isVersionTag(newTag)) {
    throw new BadInputError(
      `"${newTag}" is not a version tag: expected an exact version such as 10.11.4 or 15-alpine`,
      'Moving tags such as latest or stable are refused: an upgrade and its rollback need the exact image.',
    );
  }
  const read = io.readFile ?? readFile;
  const { image, tagFile } = await locate(files, service, read);
  if (image.tagProblem !== undefined || !tagFile.withTag) {
    throw invalid(image.tagProblem ?? `${image.file}:${image.line}: cannot change the tag of service "${service}"`);
  }
  const change: FileChange = { file: tagFile.file, before: tagFile.bytes, after: tagFile.bytes };
  if (image.ref.tag === newTag) return change;
  change.after = tagFile.withTag(newTag);
  await writeOrFail(change.file, change.after, `could not write ${change.file}`, { backup: true });
  const problem = await confirmTag(files, service, change, newTag, read);
  if (problem !== undefined) {
    await writeOrFail(change.file, change.before, `${problem}, and writing the original back failed too: restore it from ${change.file}.bak`);
    throw new ComposeError(ErrorCode.ComposeEditFailed, `${problem}; the original ${change.file} was written back`);
  }
  return change;
}

export async function restoreFileChange(change: FileChange): Promise<void> {
  await writeOrFail(change.file, change.before, `could not write the previous content back to ${change.file}`);
}

/** Re-reads what was written; returns what is wrong, or undefined when the service now has `newTag`. */
export async function confirmTag(files: ComposeFiles, service: string, change: FileChange, newTag: string, read: Reader): Promise<string | undefined> {
  try {
    if (!(await read(change.file)).equals(change.after)) return `${change.file} does not hold what was written`;
    const { ref } = (await locate(files, service, read)).image;
    return ref.tag === newTag ? undefined : `service "${service}" reads as tag "${ref.tag ?? ''}" after the edit, not "${newTag}"`;
  } catch (err) {
    return `${change.file} could not be read back after the edit (${err instanceof Error ? err.message : String(err)})`;
  }
}

async function writeOrFail(file: string, data: Buffer, what: string, opts: { backup?: boolean } = {}): Promise<void> {
  try {
    await writeFileAtomic(file, data, opts);
  } catch (err) {
    throw new ComposeError(ErrorCode.ComposeEditFailed, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

async function locate(files: ComposeFiles, service: string, read: Reader): Promise<Located> {
  const env = await readEnv(files.envFile, read);
  const sources: ComposeSource[] = [];
  for (const file of files.files) sources.push(parseComposeFile(file, await readCompose(file, read)));
  const named = files.files.join(', ');

  const withServices = sources.filter((s) => s.services);
  if (withServices.length === 0) throw invalid(`no services: section in ${named}: expected a compose file that declares services`);
  const definitions = withServices.flatMap((s) => {
    const node = s.services && lookup(s.doc, s.services, service);
    return node === undefined ? [] : [{ source: s, node: deref(s.doc, node) }];
  });
  if (definitions.length === 0) {
    const known = [...new Set(withServices.flatMap((s) => (s.services ? keysOf(s.services) : [])))];
    throw invalid(`service "${service}" is not in ${named}: expected one of ${known.map((k) => `"${k}"`).join(', ')}`);
  }
  for (const { source, node } of definitions) {
    if (!isEmpty(node) && !isMap(node)) throw invalid(`${source.file}: service "${service}" must be a mapping of settings`);
  }
  /** The value of `key` in the last file that sets it, as docker compose merges several files. */
  const setting = (key: string) =>
    definitions
      .map(({ source, node }) => ({ source, value: isMap(node) ? deref(source.doc, lookup(source.doc, node, key)) : undefined }))
      .filter((found) => found.value !== undefined)
      .at(-1);

  const image = setting('image');
  if (!image || !isScalar(image.value) || typeof image.value.value !== 'string' || image.value.value === '') {
    throw invalid(
      `service "${service}" has no image: in ${named}: expected an image: line with a tag, for example image: mattermost/mattermost-team-edition:10.11.4`,
      'A service built with build: alone cannot be upgraded by tag; give it an image: name:tag.',
    );
  }
  const container = setting('container_name');
  const containerName = container && isScalar(container.value) && !isEmpty(container.value) ? String(container.value.value) : undefined;
  return describeImage(service, image.source, image.value as Scalar<string>, env, containerName);
}

async function readEnv(file: string, read: Reader): Promise<EnvFile> {
  const bytes = await read(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return Buffer.alloc(0);
    throw invalid(`cannot read ${file}: ${err.message}`);
  });
  const text = decodeUtf8(file, bytes);
  const entries = withContext(file, () => scanEnvFile(text));
  const vars = Object.create(null) as Record<string, string>;
  for (const e of entries) vars[e.name] = e.quote === "'" ? e.value : withContext(`${file}:${e.line}`, () => interpolate(e.value, vars));
  return { file, bytes, text, entries, vars };
}

async function readCompose(file: string, read: Reader): Promise<Buffer> {
  return read(file).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'ENOENT'
      ? invalid(`compose file ${file} does not exist: expected COMPOSE_FILE to name existing files`)
      : invalid(`cannot read compose file ${file}: ${err.message}`);
  });
}
