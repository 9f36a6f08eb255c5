/**
 * HTTP questions to the rehearsal's Mattermost, asked from inside its own container (curl,
 * else wget, as Mattermost's images and most others carry one of them): the scratch server
 * may sit on an internal network, or on a loopback port of a host the bot does not share, and
 * this way the bot needs no route to it. A token travels on the exec's stdin, never on a
 * command line (where `ps` on the host would show it).
 */
import { Readable } from 'node:stream';
import type { DockerEngine } from '../../docker/engine.js';

const SCRIPT = [
  'url="$1"',
  'if command -v curl >/dev/null 2>&1; then',
  // With a token: the header comes on stdin (curl -H @-), never on a command line.
  '  if [ "$MMUB_AUTH" = 1 ]; then exec curl -sS --max-time 5 -H @- -w "\\n%{http_code}" "$url"; fi',
  '  exec curl -sS --max-time 5 -w "\\n%{http_code}" "$url"',
  'fi',
  // wget (busybox's too) cannot read a header from stdin: no authenticated question then.
  'if [ "$MMUB_AUTH" = 1 ]; then exit 3; fi',
  'err=/tmp/.mm-upgrade-probe.$$',
  'if out=$(wget -q -T 5 -O - "$url" 2>"$err"); then rm -f "$err"; printf "%s\\n200" "$out"; exit 0; fi',
  'code=$(sed -n "s/.*HTTP\\/[0-9.]* \\([0-9][0-9][0-9]\\).*/\\1/p" "$err" | head -n 1); rm -f "$err"',
  'if [ -n "$code" ]; then printf "\\n%s" "$code"; exit 0; fi',
  'exit 1',
].join('\n');

export interface ProbeAnswer {
  status: number;
  json: Record<string, unknown> | undefined;
}

/** GET `url` from inside `container`; undefined when nothing answered (or no HTTP client is there). */
export async function getInside(engine: DockerEngine, container: string, url: string, token?: string): Promise<ProbeAnswer | undefined> {
  const r = await engine
    .exec(container, ['sh', '-c', SCRIPT, 'probe', url], {
      timeoutMs: 10_000,
      ...(token ? { env: ['MMUB_AUTH=1'], stdin: Readable.from([`Authorization: Bearer ${token}\n`]) } : {}),
    })
    .catch(() => undefined);
  if (!r || r.exitCode !== 0) return undefined;
  const lines = r.stdout.replace(/\n$/, '').split('\n');
  const status = Number(lines.pop());
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(lines.join('\n')) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return Number.isInteger(status) ? { status, json } : undefined;
}
