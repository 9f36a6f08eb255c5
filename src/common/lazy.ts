/**
 * A CommonJS package loaded when it is first used rather than when the process starts: for
 * what `serve` and most commands never touch (YAML, tar, the progress bar), whose modules
 * would otherwise be read, compiled and kept in memory by every process.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function lazy<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}
