/**
 * Which compose command computes the config hash a later `up -d` would compare: the flavour
 * that created the containers (their `com.docker.compose.version` label). docker-compose 1.x
 * (Python) and the Go rewrite (2.x and later, as the `docker compose` plugin or a standalone
 * `docker-compose`) hash differently, so a hash from the other flavour would be as stale as
 * none. `COMPOSE_CLI` overrides the choice.
 */

export type ComposeFlavour = 'v1' | 'v2';

export interface ComposeCli {
  /** The command, e.g. ['docker', 'compose'] or ['docker-compose']. */
  argv: string[];
  /** What `version --short` printed, e.g. 1.29.2. */
  version: string;
  flavour: ComposeFlavour;
}

/** Runs `<argv> version --short` and gives what it printed, or undefined when it did not run or failed. */
export type VersionProbe = (argv: string[]) => Promise<string | undefined>;

export type CliChoice = { cli: ComposeCli } | { unavailable: string };

/** 1.x is the Python docker-compose; 2.x and later the Go one (its labels say 2.29.7, 5.0.0…). */
export function flavourOf(version: string | undefined): ComposeFlavour | undefined {
  const major = /^v?(\d+)\.\d+/.exec(version?.trim() ?? '')?.[1];
  if (major === undefined) return undefined;
  return Number(major) === 1 ? 'v1' : Number(major) >= 2 ? 'v2' : undefined;
}

/** The commands to try, in order, for containers a given compose version created. */
export function candidatesFor(flavour: ComposeFlavour): string[][] {
  return flavour === 'v1' ? [['docker-compose']] : [['docker', 'compose'], ['docker-compose']];
}

export function describeCli(cli: ComposeCli): string {
  return `${cli.argv.join(' ')} ${cli.version}`;
}

/**
 * `override` (COMPOSE_CLI, split on spaces) is used as it is, whatever its version: the
 * sysadmin said so. Otherwise the first candidate of the creating flavour that runs and
 * reports a version of that same flavour.
 */
export async function chooseComposeCli(opts: { override: string[] | undefined; createdBy: string | undefined; probe: VersionProbe }): Promise<CliChoice> {
  const { override, createdBy, probe } = opts;
  if (override && override.length > 0) {
    const version = await probe(override);
    if (version === undefined) return { unavailable: `COMPOSE_CLI="${override.join(' ')}" does not run (\`${override.join(' ')} version --short\` failed)` };
    return { cli: { argv: override, version, flavour: flavourOf(version) ?? 'v2' } };
  }
  const flavour = flavourOf(createdBy);
  if (!flavour) {
    return { unavailable: createdBy ? `the containers name an unknown compose version "${createdBy}"` : 'the containers carry no com.docker.compose.version label (docker compose did not create them)' };
  }
  for (const argv of candidatesFor(flavour)) {
    const version = await probe(argv);
    if (version !== undefined && flavourOf(version) === flavour) return { cli: { argv, version: version.trim().replace(/^v/, ''), flavour } };
  }
  const wanted = flavour === 'v1' ? 'no docker-compose 1.x on PATH' : 'neither `docker compose` nor a docker-compose 2.x or later on PATH';
  return { unavailable: `${wanted} (the containers were created by docker compose ${createdBy}; set COMPOSE_CLI to name it)` };
}
