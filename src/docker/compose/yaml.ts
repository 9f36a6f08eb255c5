/**
 * The few functions of the `yaml` package the compose code uses, loading its 70-odd modules on
 * the first call: `serve` starts without them and reads compose files only when a job runs.
 */
import type * as Yaml from 'yaml';
import { lazy } from '../../common/lazy.js';

const yaml = lazy<typeof Yaml>('yaml');

export function parseDocument(text: string, options: Yaml.ParseOptions & Yaml.DocumentOptions & Yaml.SchemaOptions): Yaml.Document.Parsed {
  return yaml().parseDocument(text, options);
}

export function parse(text: string): unknown {
  return yaml().parse(text);
}

export function isMap(node: unknown): node is Yaml.YAMLMap {
  return yaml().isMap(node);
}

export function isSeq(node: unknown): node is Yaml.YAMLSeq {
  return yaml().isSeq(node);
}

export function isScalar(node: unknown): node is Yaml.Scalar {
  return yaml().isScalar(node);
}

export function isAlias(node: unknown): node is Yaml.Alias {
  return yaml().isAlias(node);
}
