/**
 * Health and version of the Mattermost server, from its two anonymous endpoints. Plain
 * fetch with a per-request timeout (Client4 has none): a hung server must not hang a
 * health check.
 */
import { isStrictVersion, versionFromHeader } from '../common/version.js';

export interface ServerProbe {
  /** The server answered HTTP at all. */
  reachable: boolean;
  /** `GET /api/v4/system/ping` answered 200 with status OK. */
  pingOk: boolean;
  pingStatus: number | undefined;
  /** `Version` from `config/client?format=old`, else from the `X-Version-Id` header. */
  version: string | undefined;
  buildNumber: string | undefined;
  error: string | undefined;
}

export type Fetch = typeof fetch;

export async function probeServer(baseUrl: string, { timeoutMs = 3_000, fetchImpl = fetch }: { timeoutMs?: number; fetchImpl?: Fetch } = {}): Promise<ServerProbe> {
  const probe: ServerProbe = { reachable: false, pingOk: false, pingStatus: undefined, version: undefined, buildNumber: undefined, error: undefined };
  const get = (path: string): Promise<Response> =>
    fetchImpl(`${baseUrl}${path}`, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  try {
    const ping = await get('/api/v4/system/ping');
    probe.reachable = true;
    probe.pingStatus = ping.status;
    const body = (await ping.json().catch(() => undefined)) as { status?: string } | undefined;
    probe.pingOk = ping.status === 200 && body?.status === 'OK';
    probe.version = versionFromHeader(ping.headers.get('x-version-id') ?? '');
    if (!probe.pingOk) probe.error = `ping answered HTTP ${ping.status}${body?.status ? ` (${body.status})` : ''}`;
  } catch (err) {
    probe.error = describeFetchError(err);
    return probe;
  }
  try {
    const res = await get('/api/v4/config/client?format=old');
    if (res.ok) {
      const cfg = (await res.json()) as { Version?: string; BuildNumber?: string };
      // `Version` is the schema version, which some patch releases did not move (5.31.x said
      // 5.30.0); official builds carry the release in `BuildNumber`.
      probe.version = (cfg.BuildNumber && isStrictVersion(cfg.BuildNumber) ? cfg.BuildNumber : cfg.Version) || probe.version;
      probe.buildNumber = cfg.BuildNumber || undefined;
    }
  } catch (err) {
    probe.error ??= describeFetchError(err);
  }
  return probe;
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'no answer in time';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
