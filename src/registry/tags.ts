/**
 * Tag lists through the registry's HTTP API v2 (`GET /v2/<name>/tags/list`), for the release
 * watch: pages followed through `Link: <…>; rel="next"`, the Bearer-token challenge of Docker
 * Hub (and other token registries), Basic auth for a private registry. No maintained Node
 * library covers these three today (docker-registry-client is unmaintained): this is small.
 */
import { UpgradeBotError, ErrorCode } from '../common/errors.js';
import { parseImageRef } from '../docker/compose/image-ref.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface Repository {
  /** `registry-1.docker.io`, `registry.example.net:5000`, `127.0.0.1:5000`. */
  host: string;
  /** `library/postgres`, `mattermost/mattermost-team-edition`. */
  name: string;
  /** http only for a registry on loopback (as the Docker engine allows without TLS). */
  scheme: 'http' | 'https';
}

/** Where the tags of an image reference live (Docker Hub when no registry host is named). */
export function repositoryOf(image: string): Repository {
  const { name } = parseImageRef(image);
  const first = name.split('/')[0]!;
  const hasHost = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasHost) return { host: 'registry-1.docker.io', name: name.includes('/') ? name : `library/${name}`, scheme: 'https' };
  const host = first;
  const hostname = host.replace(/:\d+$/, '');
  const loopback = hostname === 'localhost' || /^127\./.test(hostname) || hostname === '[::1]';
  return { host: host === 'docker.io' || host === 'index.docker.io' ? 'registry-1.docker.io' : host, name: name.slice(first.length + 1), scheme: loopback ? 'http' : 'https' };
}

export class RegistryError extends UpgradeBotError {
  constructor(message: string, hint?: string) {
    super(ErrorCode.DockerRequestFailed, message, hint ? { hint } : {});
  }
}

type Fetch = typeof fetch;

/** Every tag of `repo`, all pages. */
export async function listTags(repo: Repository, credentials: RegistryCredentials | undefined, opts: { fetch?: Fetch; timeoutMs?: number; maxPages?: number } = {}): Promise<string[]> {
  const doFetch = opts.fetch ?? fetch;
  const where = `${repo.host}/${repo.name}`;
  let authorization: string | undefined;
  let url: string | undefined = `${repo.scheme}://${repo.host}/v2/${repo.name}/tags/list?n=1000`;
  const tags: string[] = [];
  for (let page = 0; url && page < (opts.maxPages ?? 100); page++) {
    let res = await get(doFetch, url, authorization, opts.timeoutMs, where);
    if (res.status === 401) {
      authorization = await answerChallenge(doFetch, res.headers.get('www-authenticate'), credentials, where, opts.timeoutMs);
      res = await get(doFetch, url, authorization, opts.timeoutMs, where);
      if (res.status === 401) {
        throw new RegistryError(
          credentials ? `${where}: the registry refused REGISTRY_USER "${credentials.username}" and its password` : `${where}: the registry requires credentials`,
          credentials ? 'Check REGISTRY_USER and REGISTRY_PASSWORD.' : 'Set REGISTRY_USER and REGISTRY_PASSWORD.',
        );
      }
    }
    if (res.status === 404) throw new RegistryError(`${where}: no such repository in the registry`, 'Check RELEASE_WATCH_IMAGE (or APP_IMAGE).');
    if (!res.ok) throw new RegistryError(`${where}: the registry answered HTTP ${res.status} to the tag list`);
    const body = (await res.json()) as { tags?: string[] | null };
    tags.push(...(body.tags ?? []));
    url = nextPage(res.headers.get('link'), url);
  }
  return tags;
}

async function get(doFetch: Fetch, url: string, authorization: string | undefined, timeoutMs = 20_000, where: string): Promise<Response> {
  try {
    return await doFetch(url, { headers: { Accept: 'application/json', ...(authorization ? { Authorization: authorization } : {}) }, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (err) {
    throw new RegistryError(`${where}: the registry could not be reached (${(err as Error).message})`);
  }
}

/** `Bearer realm="…",service="…",scope="…"` → a token; `Basic realm="…"` → the credentials. */
async function answerChallenge(doFetch: Fetch, header: string | null, credentials: RegistryCredentials | undefined, where: string, timeoutMs?: number): Promise<string> {
  const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;
  const scheme = header?.split(' ')[0]?.toLowerCase();
  if (scheme === 'basic') {
    if (!basic) throw new RegistryError(`${where}: the registry requires credentials`, 'Set REGISTRY_USER and REGISTRY_PASSWORD.');
    return basic;
  }
  if (scheme !== 'bearer') throw new RegistryError(`${where}: the registry asked for an authentication it does not name (${header ?? 'no WWW-Authenticate'})`);
  const params = Object.fromEntries([...header!.slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
  if (!params.realm) throw new RegistryError(`${where}: the registry's Bearer challenge names no realm`);
  const tokenUrl = new URL(params.realm);
  if (params.service) tokenUrl.searchParams.set('service', params.service);
  if (params.scope) tokenUrl.searchParams.set('scope', params.scope);
  const res = await get(doFetch, tokenUrl.toString(), basic, timeoutMs, where);
  if (res.status === 401 || res.status === 403) throw new RegistryError(`${where}: the registry's token service refused REGISTRY_USER "${credentials?.username ?? ''}" and its password`, 'Check REGISTRY_USER and REGISTRY_PASSWORD.');
  if (!res.ok) throw new RegistryError(`${where}: the registry's token service answered HTTP ${res.status}`);
  const body = (await res.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new RegistryError(`${where}: the registry's token service gave no token`);
  return `Bearer ${token}`;
}

/** RFC 8288 `Link: </v2/x/tags/list?last=…&n=…>; rel="next"`, relative to the page. */
function nextPage(link: string | null, current: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return new URL(m[1]!, current).toString();
  }
  return undefined;
}
