/**
 * The compose files between the plan and the pin: they must be writable by the bot (checked
 * before anything changes), and nobody may have edited them since the plan was made — the
 * plan a person approved describes the files as they were, and the containers are recreated
 * from their current settings, not from an edit the bot never looked at.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PolicyError } from '../../common/errors.js';
import type { ComposeFiles } from '../../docker/compose/index.js';

/** sha256 of each compose file and of the `.env` beside the first (`absent` when there is none). */
export async function composeDigests(files: ComposeFiles): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of [...files.files, files.envFile]) {
    out[file] = await readFile(file).then(
      (b) => createHash('sha256').update(b).digest('hex'),
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return 'absent';
        throw err;
      },
    );
  }
  return out;
}

/** Refuses when a file changed since `planned` was taken. */
export async function assertUnchangedSincePlan(files: ComposeFiles, planned: Record<string, string> | undefined): Promise<void> {
  if (!planned) return; // a journal of an older version
  const now = await composeDigests(files);
  const changed = Object.keys(planned).filter((f) => now[f] !== planned[f]);
  if (changed.length > 0) {
    throw new PolicyError(
      `${changed.join(' and ')} changed since the plan was made: someone edited ${changed.length > 1 ? 'them' : 'it'} while this job ran`,
      'Nothing was changed. Look at the edit, then start the upgrade again: its plan will include it.',
      { key: 'compose.changed', params: { files: changed.join(', ') } },
    );
  }
}

/**
 * The files the pin will rewrite, and their folders (the new content is written beside them
 * and renamed into place), must be writable — a file made read-only (chmod, chattr +i, a
 * read-only mount) is a person's "do not touch", found here before the backup and the pull.
 */
export async function assertWritable(files: string[]): Promise<void> {
  const problems: string[] = [];
  for (const path of [...new Set([...files, ...files.map((f) => dirname(f))])]) {
    await access(path, constants.W_OK).catch((err: NodeJS.ErrnoException) => problems.push(`${path} (${err.code === 'EROFS' ? 'read-only file system' : err.code === 'EPERM' ? 'immutable' : 'not writable'})`));
  }
  if (problems.length > 0) {
    throw new PolicyError(
      `the bot cannot write ${problems.join(', ')}: it must pin the new tags there`,
      'Nothing was changed. Make the compose files writable by the bot (or pin the tags by hand), then start again.',
      { key: 'compose.read-only', params: { files: problems.join(', ') } },
    );
  }
}
