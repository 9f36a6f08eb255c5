/**
 * The release watch: the tags of the image to watch, the exact X.Y.Z versions newer than the
 * running one (never a pre-release, never `latest`), each suggested once (remembered in
 * STATE_DIR/release-watch.json). For a team that builds its own images, whether its registry
 * has that version yet decides between a *Plan upgrade* button and "build and push it first".
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { compareVersions, isStrictVersion, parseVersion } from '../common/version.js';
import { writeDurably } from '../state/durable-file.js';

export interface Suggestion {
  version: string;
  /** A major version jump (the ESR path warning). */
  majorJump: boolean;
  /** The team's own image for it exists (else it must be built and pushed first). */
  ready: boolean;
}

export interface ReleaseWatchDeps {
  /** The running Mattermost version. */
  running(): Promise<string>;
  /** The tags of the watched image. */
  tags(): Promise<string[]>;
  /** Whether the image the deployment would pull for `version` exists (always true when the watched image is the app image). */
  available(version: string): Promise<boolean>;
  stateFile: string;
  suggest(s: Suggestion): Promise<void>;
}

/**
 * One look: the new suggestions, posted and remembered, oldest version first. A version the
 * team's registry lacks is said once ("build and push it first"), and suggested again, with
 * its button, once it is there.
 */
export async function watchReleases(d: ReleaseWatchDeps): Promise<Suggestion[]> {
  const [running, tags, seen] = await Promise.all([d.running(), d.tags(), readRemembered(d.stateFile)]);
  const versions = [...new Set(tags.filter((t) => isStrictVersion(t)))].filter((v) => compareVersions(v, running) > 0 && !seen.suggested.includes(v)).sort(compareVersions);
  const made: Suggestion[] = [];
  for (const version of versions) {
    const ready = await d.available(version);
    if (!ready && seen.waiting.includes(version)) continue;
    const s: Suggestion = { version, majorJump: parseVersion(version).major > parseVersion(running).major, ready };
    await d.suggest(s);
    if (ready) {
      seen.suggested.push(version);
      seen.waiting = seen.waiting.filter((v) => v !== version);
    } else seen.waiting.push(version);
    await remember(d.stateFile, seen);
    made.push(s);
  }
  return made;
}

interface Remembered {
  suggested: string[];
  /** Said to need a build first. */
  waiting: string[];
}

async function readRemembered(file: string): Promise<Remembered> {
  try {
    const r = JSON.parse(await readFile(file, 'utf8')) as Partial<Remembered>;
    return { suggested: r.suggested ?? [], waiting: r.waiting ?? [] };
  } catch {
    return { suggested: [], waiting: [] };
  }
}

async function remember(file: string, r: Remembered): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeDurably(file, JSON.stringify(r, null, 2) + '\n');
}
