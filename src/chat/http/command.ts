/**
 * `POST /mattermost/command`: a slash command. Accepted only with a token of MM_SLASH_TOKENS
 * (`Authorization: Token …` or the form's `token`, compared in constant time); otherwise 401
 * and nothing runs. Every other answer is HTTP 200 with a JSON CommandResponse, refusals
 * included, since Mattermost shows a generic error for anything else. A command configured
 * as GET sends the same fields as a query string: that works too.
 */
import type { Request, RequestHandler, Response } from 'express';
import { ephemeral } from '../deps.js';
import { slashTokenOf, tokenMatches } from '../verify.js';
import type { HttpDeps } from './app.js';
import { field, quotedContentType, readBody, sendJson } from './reply.js';

export function commandHandler({ service, config, messages: m, log }: HttpDeps): RequestHandler {
  const tokens = config.mattermost.slashTokens;
  const unauthorized = (res: Response): void => sendJson(res, 401, ephemeral(m.refuse.unauthorized));
  return async (req: Request, res: Response) => {
    const header = req.get('authorization');
    if (/^Token\s/i.test(header ?? '') && !tokenMatches(slashTokenOf(header, undefined), tokens)) return unauthorized(res);
    let body: unknown = req.query;
    if (req.method === 'POST') {
      const problem = await readBody(req, res, 'form');
      if (problem === 'tooLarge') return sendJson(res, 200, ephemeral(m.refuse.tooLarge));
      if (problem === 'contentType') return sendJson(res, 200, ephemeral(m.refuse.contentType('application/x-www-form-urlencoded', quotedContentType(req))));
      if (problem) return sendJson(res, 200, ephemeral(m.refuse.badForm));
      body = req.body;
    }
    if (!tokenMatches(slashTokenOf(header, field(body, 'token')), tokens)) {
      log.warn('chat: a slash command without a valid token was refused', { ip: req.socket.remoteAddress });
      return unauthorized(res);
    }
    const userId = field(body, 'user_id');
    const channelId = field(body, 'channel_id');
    if (userId === '' || channelId === '') return sendJson(res, 200, ephemeral(m.refuse.badForm));
    try {
      const reply = await service.command({
        userId,
        userName: field(body, 'user_name'),
        channelId,
        teamId: field(body, 'team_id'),
        command: field(body, 'command').toLowerCase(),
        text: field(body, 'text'),
        responseUrl: field(body, 'response_url') || undefined,
      });
      sendJson(res, 200, reply);
    } catch (err) {
      log.error('chat: a slash command failed', { error: (err as Error).message });
      sendJson(res, 200, ephemeral(m.engineUnknown));
    }
  };
}
