/**
 * The stand-in's outgoing calls to integrations (slash commands, button callbacks), as the
 * real server makes them: node:http with Go's header set and order (`User-Agent:
 * Mattermost-Bot/1.1`, `Accept: application/json`, …), the form encoded like Go's
 * url.Values.Encode (sorted keys, QueryEscape), gzip accepted, the reply read up to 1 MiB,
 * the OutgoingIntegrationRequestsTimeout, and the untrusted-connection rule: an address in a
 * reserved range is refused unless AllowedUntrustedInternalConnections lets it through.
 */
import { request } from 'node:http';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface OutgoingResult {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: string;
  requestHeaders: Record<string, string>;
  requestBody: string;
}

/** Go's `AddressForbidden`, as `client.Do` wraps it. */
export class IntegrationError extends Error {
  constructor(message: string, readonly requestHeaders: Record<string, string>, readonly requestBody: string) {
    super(message);
  }
}

const MAX_RESPONSE = 1024 * 1024;

/** Go's url.QueryEscape: unreserved characters kept, space as `+`, the rest %XX. */
export function goQueryEscape(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      if (/[A-Za-z0-9\-_.~]/.test(c)) return c;
      if (c === ' ') return '+';
      return `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** url.Values.Encode: keys sorted. */
export function goFormEncode(fields: Record<string, string>): string {
  return Object.keys(fields)
    .sort()
    .map((k) => `${goQueryEscape(k)}=${goQueryEscape(fields[k]!)}`)
    .join('&');
}

const reserved = new BlockList();
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) reserved.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) reserved.addSubnet(net, prefix, 'ipv6');

/** Whether the server's untrusted client may connect to `url` (httpservice.MakeTransport(false)). */
export async function addressAllowed(url: URL, allowedSetting: string): Promise<boolean> {
  const allowed = allowedSetting.split(/[\s,]+/).filter((x) => x !== '');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (allowed.includes(host)) return true;
  const ips = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  return ips.some((ip) => {
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (!reserved.check(ip, family)) return true;
    return allowed.some((entry) => {
      const m = /^(.+)\/(\d+)$/.exec(entry);
      if (!m || isIP(m[1]!) === 0) return false;
      const list = new BlockList();
      list.addSubnet(m[1]!, Number(m[2]), isIP(m[1]!) === 6 ? 'ipv6' : 'ipv4');
      return list.check(ip, family);
    });
  });
}

export interface OutgoingRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Array<[string, string]>;
  body?: string;
  timeoutMs: number;
  allowedUntrusted: string;
}

export async function callIntegration(req: OutgoingRequest): Promise<OutgoingResult> {
  const url = new URL(req.url);
  const headers: Array<[string, string]> = [['Host', url.host], ['User-Agent', 'Mattermost-Bot/1.1']];
  if (req.body !== undefined) headers.push(['Content-Length', String(Buffer.byteLength(req.body))]);
  headers.push(...req.headers, ['Accept-Encoding', 'gzip']);
  const requestHeaders = Object.fromEntries(headers.map(([k, v]) => [k.toLowerCase(), v]));
  const requestBody = req.body ?? '';
  if (url.protocol !== 'http:') throw new IntegrationError(`${req.method} "${req.url}": unsupported protocol scheme in the stand-in (http only)`, requestHeaders, requestBody);
  if (!(await addressAllowed(url, req.allowedUntrusted))) {
    throw new IntegrationError(
      `${req.method === 'POST' ? 'Post' : 'Get'} "${req.url}": address forbidden, you may need to set AllowedUntrustedInternalConnections to allow an integration access to your internal network`,
      requestHeaders,
      requestBody,
    );
  }
  return new Promise((resolve, reject) => {
    const r = request(
      { host: url.hostname, port: url.port || 80, path: `${url.pathname}${url.search}`, method: req.method, headers: headers.flat(), timeout: req.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_RESPONSE) chunks.push(c.subarray(0, MAX_RESPONSE - size));
          size += c.length;
        });
        res.on('end', () => {
          let body = Buffer.concat(chunks);
          if (res.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          resolve({
            status: res.statusCode ?? 0,
            statusText: `${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
            headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
            body: body.toString('utf8'),
            requestHeaders,
            requestBody,
          });
        });
        res.on('error', (err) => reject(new IntegrationError(err.message, requestHeaders, requestBody)));
      },
    );
    const deadline = setTimeout(() => r.destroy(new Error(`${req.method} "${req.url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`)), req.timeoutMs);
    r.on('close', () => clearTimeout(deadline));
    r.on('timeout', () => r.destroy(new Error(`${req.method} "${req.url}": i/o timeout`)));
    r.on('error', (err) => reject(new IntegrationError(err.message, requestHeaders, requestBody)));
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}
