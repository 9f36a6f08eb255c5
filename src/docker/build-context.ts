/**
 * A build context as `docker build` sends it: the folder as a tar, without what its
 * `.dockerignore` excludes (Docker's own rules, through @balena/dockerignore, which is what
 * dockerode uses too — but dockerode only applies them to the top-level names it is given),
 * the Dockerfile and `.dockerignore` always included. Symlinks are sent as symlinks.
 */
import { lstatSync, readFileSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import type ignoreModule from '@balena/dockerignore';
import type tar from 'tar-fs';
import { lazy } from '../common/lazy.js';

// Loaded for the first build only. @balena/dockerignore is CommonJS whose types say `export
// default`: what require() gives is the factory itself.
const dockerignore = lazy<typeof ignoreModule.default>('@balena/dockerignore');
const tarFs = lazy<typeof tar>('tar-fs');

export interface BuildContext {
  stream: Readable;
  /** Bytes of tar sent so far (the whole context once the stream has ended). */
  bytes(): number;
}

export function packContext(dir: string, dockerfile = 'Dockerfile'): BuildContext {
  let rules = '';
  try {
    rules = readFileSync(`${dir}/.dockerignore`, 'utf8');
  } catch {
    // no .dockerignore: everything goes
  }
  const ig = dockerignore()({ ignorecase: false }).add(rules);
  // A `!exception` can bring back a file inside an excluded folder: then folders are walked anyway.
  const pruneFolders = !rules.split('\n').some((l) => l.trim().startsWith('!'));
  const always = new Set([dockerfile, '.dockerignore']);
  // tar-fs asks about every path (absolute) as it walks the folder; an ignored folder is not walked.
  const ignore = (name: string): boolean => {
    const rel = relative(dir, name).split(sep).join('/');
    if (rel === '' || always.has(rel)) return false;
    if (!ig.ignores(rel)) return false;
    return pruneFolders || !lstatSync(name).isDirectory();
  };
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // As `docker build` sends it: modes as they are (no umask), owned by root.
  const options: tar.PackOptions & { umask: number } = {
    ignore,
    umask: 0, // tar-fs supports it; its types do not say so
    map: (header) => {
      header.uid = 0;
      header.gid = 0;
      return header;
    },
  };
  const pack = tarFs().pack(dir, options);
  pack.on('error', (err) => counter.destroy(err));
  return { stream: pack.pipe(counter), bytes: () => bytes };
}
