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

/**
 * How much of a refused body is read (and thrown away) before the refusal is sent. A refusal
 * sent while the sender is still writing is followed by the close of the connection, and the
 * rest of the body arriving then makes the kernel reset it: the sender may never read the
 * refusal (Mattermost would show "Command failed" instead of why). 256 kB covers the largest
 * slash request Mattermost sends (a text of 16,383 runes, up to 12 bytes each once
 * form-encoded); a body declared larger is refused at once. The request-fuzzing test found it.
 */
export const DRAIN_LIMIT = 256 * 1024;

/** Reads the body as `kind`; what is wrong with it, when something is. */
export async function readBody(req: Request, res: Response, kind: 'form' | 'json'): Promise<BodyProblem | undefined> {
  const declared = Number(req.get('content-length') ?? 0);
  if (declared > BODY_LIMIT) return declared > DRAIN_LIMIT ? 'tooLarge' : drained(req, 'tooLarge');
  if (!req.is(kind === 'form' ? 'application/x-www-form-urlencoded' : 'application/json')) return drained(req, 'contentType');
  try {
    await new Promise<void>((resolve, reject) => parsers[kind](req, res, (err?: unknown) => (err ? reject(err) : resolve())));
  } catch (err) {
    return drained(req, (err as { type?: string }).type === 'entity.too.large' ? 'tooLarge' : 'malformed');
  }
  return req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? undefined : 'malformed';
}

/** `problem`, once the rest of the body has arrived (up to DRAIN_LIMIT more bytes) or the request ended otherwise. */
function drained(req: Request, problem: BodyProblem): Promise<BodyProblem> {
  if (req.complete || req.destroyed) return Promise.resolve(problem);
  return new Promise((resolve) => {
    let seen = 0;
    const done = (): void => {
      req.off('data', onData).off('end', done).off('error', done).off('close', done);
      resolve(problem);
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > DRAIN_LIMIT) done();
    };
    req.on('data', onData).once('end', done).once('error', done).once('close', done);
    req.resume();
  });
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
