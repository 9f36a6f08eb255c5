/** A small router and the server's way of answering: exact `application/json`, AppError bodies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, errors, newId, type User } from './model.js';

export interface Ctx {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
  requestId: string;
  /** The caller, from `Authorization: Bearer|Token <token>` (set for routes that need a session). */
  user: User;
  body(): Promise<string>;
  json<T>(name: string): Promise<T>;
}

export type Handler = (ctx: Ctx) => Promise<[number, unknown] | [number, unknown, string]>;

export interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  session: boolean;
  handler: Handler;
}

/** `/api/v4/posts/{post_id:[A-Za-z0-9]+}/patch` → a route; `{name}` alone means `[^/]+`. */
export function route(method: string, path: string, handler: Handler, { session = true }: { session?: boolean } = {}): Route {
  const names: string[] = [];
  const source = path.replace(/\{(\w+)(?::([^}]+))?\}/g, (_m, name: string, re: string | undefined) => {
    names.push(name);
    return `(${re ?? '[^/]+'})`;
  });
  return { method, pattern: new RegExp(`^${source}$`), names, session, handler };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = typeof body === 'string' && contentType !== 'application/json' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: AppError, requestId: string): void {
  sendJson(res, err.status, { id: err.id, message: err.message, detailed_error: err.detailed, request_id: requestId, status_code: err.status });
}

export function readBody(req: IncomingMessage, limit = 4 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) reject(new AppError(413, 'api.context.body_too_large', 'Request body is too large.'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function tokenOf(req: IncomingMessage): string | undefined {
  const m = /^(?:bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** Runs the matching route; false when none matches (the caller answers the 404). */
export async function dispatch(routes: Route[], req: IncomingMessage, res: ServerResponse, url: URL, auth: (token: string | undefined) => Promise<User | undefined>): Promise<boolean> {
  const requestId = newId();
  for (const r of routes) {
    if (r.method !== req.method) continue;
    const m = r.pattern.exec(url.pathname);
    if (!m) continue;
    let bodyText: Promise<string> | undefined;
    const body = (): Promise<string> => (bodyText ??= readBody(req));
    const ctx: Ctx = {
      req,
      url,
      requestId,
      params: Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])),
      user: undefined as unknown as User,
      body,
      json: async <T>(name: string): Promise<T> => {
        try {
          return JSON.parse(await body()) as T;
        } catch (err) {
          if (err instanceof AppError) throw err;
          throw errors.invalidBody(name);
        }
      },
    };
    try {
      if (r.session) {
        const user = await auth(tokenOf(req));
        if (!user) throw errors.sessionExpired();
        ctx.user = user;
      }
      const [status, out, contentType] = await r.handler(ctx);
      sendJson(res, status, out, contentType);
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError(500, 'app.standin.unexpected', 'An unexpected error occurred.', (err as Error).message);
      sendError(res, e, requestId);
    }
    return true;
  }
  return false;
}
