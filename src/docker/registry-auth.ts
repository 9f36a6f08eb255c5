/**
 * Which credentials go with a pull, a push or a registry question: REGISTRY_USER and
 * REGISTRY_PASSWORD when set, else the entry for that registry in the Docker config file of
 * the user the bot runs as (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as
 * `docker login` writes it). Credential helpers (`credsStore`, `credHelpers`) are programs
 * the bot does not run: such a registry needs REGISTRY_USER/REGISTRY_PASSWORD.
 */
import { readFileSync } from 'node:fs';
import { parseImageRef } from './compose/image-ref.js';

export interface Credentials {
  username: string;
  password: string;
}

/** What the Engine takes as X-Registry-Auth. */
export type AuthConfig = { username: string; password: string; serveraddress: string } | { identitytoken: string; serveraddress: string };

export const DOCKER_HUB = 'https://index.docker.io/v1/';

/** The registry part of an image reference, as `docker login` names it (Docker Hub's own address for Hub images). */
export function registryOf(ref: string): string {
  const name = parseImageRef(ref).name;
  const first = name.split('/')[0] ?? '';
  return name.includes('/') && /[.:]|^localhost$/.test(first) ? first : DOCKER_HUB;
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

export class RegistryCredentials {
  /** From the configuration: REGISTRY_USER/REGISTRY_PASSWORD, and the Docker config file. */
  static of(docker: { registryAuth: Credentials | undefined; configFile: string | undefined }): RegistryCredentials {
    return new RegistryCredentials(docker.registryAuth, docker.configFile);
  }

  constructor(
    private readonly explicit: Credentials | undefined,
    /** The Docker config file; read at each use (a `docker login` meanwhile counts). */
    private readonly dockerConfigFile: string | undefined,
  ) {}

  /** The X-Registry-Auth for the registry of `ref`, or undefined for none. */
  for(ref: string): AuthConfig | undefined {
    const serveraddress = registryOf(ref);
    if (this.explicit) return { ...this.explicit, serveraddress };
    const entry = this.entry(serveraddress);
    if (entry?.identitytoken) return { identitytoken: entry.identitytoken, serveraddress };
    if (entry?.username && entry.password) return { username: entry.username, password: entry.password, serveraddress };
    return undefined;
  }

  /**
   * X-Registry-Config for a build (its FROM images): every registry of the Docker config with
   * a user and password, and the registries of `refs` with REGISTRY_USER when it is set.
   */
  registryConfig(refs: string[]): Record<string, { username: string; password: string }> {
    const out: Record<string, { username: string; password: string }> = {};
    for (const key of Object.keys(this.read()?.auths ?? {})) {
      const entry = this.entry(key);
      if (entry?.username && entry.password) out[key] = { username: entry.username, password: entry.password };
    }
    if (this.explicit) for (const ref of refs) out[registryOf(ref)] = { ...this.explicit };
    return out;
  }

  /** User and password for the registry's HTTP API (Basic auth, or a token request), when known. */
  basicFor(ref: string): Credentials | undefined {
    const auth = this.for(ref);
    return auth && 'username' in auth ? { username: auth.username, password: auth.password } : undefined;
  }

  /** Every password and token the Docker config file holds now (and its `auth` strings): what logs and chat must mask. */
  secrets(): string[] {
    const out: string[] = [];
    for (const key of Object.keys(this.read()?.auths ?? {})) {
      const raw = this.read()?.auths?.[key];
      const entry = this.entry(key);
      for (const s of [entry?.password, entry?.identitytoken, raw?.auth]) if (s) out.push(s);
    }
    return out;
  }

  /** Where the credentials for `ref` come from, for messages (never the secret itself). */
  describe(ref: string): string {
    const registry = registryOf(ref);
    if (this.explicit) return `REGISTRY_USER (${this.explicit.username})`;
    const entry = this.entry(registry);
    if (entry?.username) return `${this.dockerConfigFile} (${entry.username})`;
    if (entry?.identitytoken) return `${this.dockerConfigFile} (a token)`;
    const config = this.read();
    const helper = config?.credHelpers?.[hostOf(registry)] ?? config?.credsStore;
    if (helper) return `none: ${this.dockerConfigFile} names the credential helper "${helper}", which the bot does not run (set REGISTRY_USER and REGISTRY_PASSWORD)`;
    return 'none (anonymous)';
  }

  private entry(registry: string): { username?: string; password?: string; identitytoken?: string } | undefined {
    const auths = this.read()?.auths ?? {};
    const wanted = hostOf(registry);
    for (const [key, value] of Object.entries(auths)) {
      if (hostOf(key) !== wanted) continue;
      if (value.identitytoken) return { identitytoken: value.identitytoken };
      if (value.username && value.password) return { username: value.username, password: value.password };
      if (value.auth) {
        const decoded = Buffer.from(value.auth, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
      }
    }
    return undefined;
  }

  private read(): DockerConfigFile | undefined {
    if (!this.dockerConfigFile) return undefined;
    try {
      return JSON.parse(readFileSync(this.dockerConfigFile, 'utf8')) as DockerConfigFile;
    } catch {
      return undefined;
    }
  }
}

/** `https://index.docker.io/v1/`, `index.docker.io`, `docker.io` name the same registry; `host:port` keys as written. */
function hostOf(address: string): string {
  const host = address.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return host === 'docker.io' || host === 'registry-1.docker.io' ? 'index.docker.io' : host;
}
