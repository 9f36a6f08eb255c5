/** The working state of an upgrade (or rollback) job: plain JSON, journaled after each step. */
import type { BackupResult } from '../../backup/dump.js';
import type { ComposeFiles } from '../../docker/compose/index.js';
import type { ContainerSpec } from '../../docker/engine.js';
import type { ComposeOutlook } from './compose-hash.js';
import type { RehearsalReport } from '../rehearse/run.js';

export interface ServiceMove {
  role: 'app' | 'db';
  service: string;
  /** Container name (the compose container_name, or the name compose gave it). */
  container: string;
  repository: string;
  fromTag: string;
  toTag: string;
  fromRef: string;
  toRef: string;
  fromImageId: string;
  toImageId: string | undefined;
  /** The tag changes (the compose file is edited). */
  moves: boolean;
  /** The image ID changes: the container is recreated. Known after the pull. */
  recreate: boolean;
  spec: ContainerSpec | undefined;
}

export interface UpgradeState {
  kind: 'upgrade' | 'rollback';
  from: string;
  target: string;
  force: boolean;
  /** rollback --with-db: the dump to restore between the db and the app start. */
  restoreDump: string | undefined;
  files: ComposeFiles;
  project: string;
  app: ServiceMove;
  db: ServiceMove;
  backup: BackupResult | undefined;
  appStoppedAt: string | undefined;
  healthyAt: string | undefined;
  /** Error lines found in the logs (quoted in the report). */
  logLines: string[];
  changelog: string;
  removedImages: string[];
  /** Copies of the compose files as they were before the job, for a human finishing by hand. */
  savedFiles: Array<{ file: string; saved: string }>;
  /** Who started it outside the maintenance window from chat ("Upgrade now anyway"): recorded in the history. */
  overrideWindow?: string;
  /** What the rehearsal on a scratch copy measured (REHEARSAL), when one ran. */
  rehearsal?: RehearsalReport;
  /** sha256 of the compose files and `.env` when the plan was made (compose-guard.ts). */
  composeDigests?: Record<string, string>;
  /** What compose's own config hashes say (absent in journals of older versions). */
  compose?: ComposeOutlook;
}

export function changelogUrl(template: string, version: string): string {
  const [major = '', minor = '', patch = ''] = version.split('.');
  return template.replace(/\{version\}/g, version).replace(/\{major\}/g, major).replace(/\{minor\}/g, minor).replace(/\{patch\}/g, patch);
}
