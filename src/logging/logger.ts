/**
 * The winston logger factory. Records carry a fixed message and structured fields; a
 * redaction format runs first, so no transport ever sees a secret.
 */
import winston from 'winston';
import { Redactor } from './redact.js';

export type Logger = winston.Logger;

/** A winston format that masks secrets in the message and in every field. */
export const redactFormat = winston.format((info, opts) => {
  const { redactor } = opts as { redactor: Redactor };
  for (const key of Object.keys(info)) {
    if (key === 'level') continue;
    info[key] = key === 'message' ? redactor.value(info[key]) : redactor.value(info[key], key);
  }
  return info;
});

export interface LoggerOptions {
  level?: string;
  secrets?: readonly string[];
  /** `json` for services (one JSON object a line), `text` for a person at a terminal. */
  style?: 'json' | 'text';
  stream?: NodeJS.WritableStream;
}

export function createLogger({ level = 'info', secrets = [], style = 'json', stream = process.stderr }: LoggerOptions = {}): Logger {
  const redactor = new Redactor(secrets);
  const render =
    style === 'json'
      ? winston.format.json()
      : winston.format.printf((info) => {
          const { level: lvl, message, timestamp, ...fields } = info;
          const extra = Object.entries(fields)
            .filter(([k]) => typeof k === 'string')
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          return `${String(timestamp)} ${lvl}: ${String(message)}${extra ? ' ' + extra : ''}`;
        });
  return winston.createLogger({
    level,
    format: winston.format.combine(redactFormat({ redactor }), winston.format.timestamp(), render),
    transports: [new winston.transports.Stream({ stream })],
  });
}
