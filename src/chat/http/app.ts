/**
 * The webhook server: `POST /mattermost/command`, `POST /mattermost/action`, `GET /healthz`,
 * one file per handler. Whatever else arrives gets a JSON 404, and no failure ever becomes a
 * stack trace or an HTML page.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../../config/index.js';
import type { Messages } from '../../i18n/index.js';
import type { ChatLog } from '../deps.js';
import type { ChatService } from '../service.js';
import { actionHandler } from './action.js';
import { commandHandler } from './command.js';
import { healthzHandler } from './healthz.js';
import { sendJson } from './reply.js';

export interface HttpDeps {
  service: Pick<ChatService, 'command' | 'action' | 'isStopping'>;
  config: Config;
  messages: Messages;
  log: ChatLog;
}

export function createChatApp(deps: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  if (deps.config.logLevel === 'debug' || deps.config.logLevel === 'silly') {
    app.use((req, res, next) => {
      const started = process.hrtime.bigint();
      res.on('finish', () => deps.log.debug('http', { method: req.method, path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
      next();
    });
  }
  app.get('/healthz', healthzHandler(deps));
  const command = commandHandler(deps);
  app.post('/mattermost/command', command);
  app.get('/mattermost/command', command);
  app.post('/mattermost/action', actionHandler(deps));
  app.use((_req: Request, res: Response) => sendJson(res, 404, { error: 'not found', text: deps.messages.refuse.notFound }));
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    deps.log.error('http: unexpected failure', { error: err.message });
    if (!res.headersSent) sendJson(res, 200, { response_type: 'ephemeral', text: deps.messages.engineUnknown, ephemeral_text: deps.messages.engineUnknown });
  });
  return app;
}
