import type { ImageRef } from './image-ref.js';

export interface ComposeFiles {
  /** Absolute paths, in COMPOSE_FILE order. */
  files: string[];
  /** The `.env` in the first file's folder. */
  envFile: string;
}

export type TagSource =
  | { kind: 'literal'; file: string; line: number }
  | { kind: 'env'; file: string; variable: string; line: number };

export interface ServiceImage {
  service: string;
  /** The compose file whose `image:` wins: the last one that sets it. */
  file: string;
  line: number;
  raw: string;
  resolved: string;
  ref: ImageRef;
  tagSource: TagSource;
  containerName?: string;
  /** Why setServiceTag would refuse to change this tag, and what to change by hand instead. */
  tagProblem?: string;
}

/** One file edit; writing `before` back undoes it. */
export interface FileChange {
  file: string;
  before: Buffer;
  after: Buffer;
}
