/**
 * How the bot answers Mattermost: always a JSON body with `Content-Type: application/json`
 * exactly (Mattermost reads a reply as JSON only then; an empty or non-JSON body is shown to
 * the person as a failure), and bodies read with a size limit, never trusting the sender.
 */
import express, { type Request, type Response } from 'express';

/** A slash command or a button click is a few hundred bytes; 64 kB leaves room and no more. */
export const BODY_LIMIT = 64 * 1024;

export function sendJson(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}

export type BodyProblem = 'tooLarge' | 'contentType' | 'malformed';

const parsers = {
  form: express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 100 }),
  json: express.json({ limit: BODY_LIMIT, strict: true }),
};

/** Reads the body as `kind`; what is wrong with it, when something is. */
export async function readBody(req: Request, res: Response, kind: 'form' | 'json'): Promise<BodyProblem | undefined> {
  if (Number(req.get('content-length') ?? 0) > BODY_LIMIT) return 'tooLarge';
  if (!req.is(kind === 'form' ? 'application/x-www-form-urlencoded' : 'application/json')) return 'contentType';
  try {
    await new Promise<void>((resolve, reject) => parsers[kind](req, res, (err?: unknown) => (err ? reject(err) : resolve())));
  } catch (err) {
    return (err as { type?: string }).type === 'entity.too.large' ? 'tooLarge' : 'malformed';
  }
  return req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? undefined : 'malformed';
}

/** The received Content-Type, shortened and without backticks, to quote it back. */
export function quotedContentType(req: Request): string {
  return (req.get('content-type') ?? '').replace(/[`\r\n]/g, '').slice(0, 80);
}

/** A form or JSON field as a string ('' when absent or not a string). */
export function field(body: unknown, name: string): string {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}
