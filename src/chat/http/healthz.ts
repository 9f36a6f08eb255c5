/** `GET /healthz`: 200 `{"status":"ok"}` while the bot takes commands; 503 once it is stopping. */
import type { RequestHandler } from 'express';
import type { HttpDeps } from './app.js';
import { sendJson } from './reply.js';

export function healthzHandler({ service }: HttpDeps): RequestHandler {
  return (_req, res) => (service.isStopping ? sendJson(res, 503, { status: 'stopping' }) : sendJson(res, 200, { status: 'ok' }));
}
