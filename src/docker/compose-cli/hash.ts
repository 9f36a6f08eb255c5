/**
 * `config --hash`: the configuration hash compose itself compares with a container's
 * `com.docker.compose.config-hash` label to decide whether `up -d` recreates it. Both
 * flavours take `--hash=a,b` and print one `service hash` line per service.
 */
import type { ComposeCli } from './select.js';

/** A compose project as its containers' labels name it. */
export interface ComposeProject {
  files: string[];
  project: string;
  /** `com.docker.compose.project.working_dir`: where relative paths and `.env` are read from. */
  workingDir: string;
}

export function hashCommand(cli: ComposeCli, p: ComposeProject, services: string[]): string[] {
  return [...cli.argv, '-p', p.project, '--project-directory', p.workingDir, ...p.files.flatMap((f) => ['-f', f]), 'config', `--hash=${services.join(',')}`];
}

/** The hashes of `services` in the command's output; throws naming what is missing. */
export function parseHashes(stdout: string, services: string[]): Record<string, string> {
  const found: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s+([0-9a-f]{64})\s*$/.exec(line.trim());
    if (m) found[m[1]!] = m[2]!;
  }
  const missing = services.filter((s) => !(s in found));
  if (missing.length > 0) throw new Error(`no hash for ${missing.join(', ')} in its output`);
  return Object.fromEntries(services.map((s) => [s, found[s]!]));
}
