/**
 * `POST /mattermost/action`: a button click. Mattermost sends it without any token: the
 * signed `context` inside says it is ours (decisions.ts checks it). Always HTTP 200 with a
 * JSON PostActionIntegrationResponse, refusals as `ephemeral_text`; anything else would show
 * the clicker Mattermost's generic "Action integration error."
 */
import type { Request, RequestHandler, Response } from 'express';
import type { HttpDeps } from './app.js';
import { field, quotedContentType, readBody, sendJson } from './reply.js';

export function actionHandler({ service, messages: m, log }: HttpDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    const problem = await readBody(req, res, 'json');
    if (problem === 'tooLarge') return sendJson(res, 200, { ephemeral_text: m.refuse.tooLarge });
    if (problem === 'contentType') return sendJson(res, 200, { ephemeral_text: m.refuse.contentType('application/json', quotedContentType(req)) });
    if (problem) return sendJson(res, 200, { ephemeral_text: m.refuse.badJson });
    const body = req.body as Record<string, unknown>;
    const userId = field(body, 'user_id');
    if (userId === '') return sendJson(res, 200, { ephemeral_text: m.refuse.badJson });
    try {
      const reply = await service.action({ userId, channelId: field(body, 'channel_id'), postId: field(body, 'post_id'), context: body.context });
      sendJson(res, 200, reply);
    } catch (err) {
      log.error('chat: a button callback failed', { error: (err as Error).message });
      sendJson(res, 200, { ephemeral_text: m.engineUnknown });
    }
  };
}
