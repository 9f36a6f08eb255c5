/**
 * The Engine's answers to a pull, a push or a build: a stream of JSON messages, where a
 * failure is a message of its own (the HTTP status was 200 long before).
 */
import type Docker from 'dockerode';

export interface JsonMessage {
  status?: string;
  id?: string;
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
  progressDetail?: { current?: number; total?: number };
  aux?: Record<string, unknown>;
}

/** Reads the stream to its end; resolves with the first error message it carried, if any. Rejects when the connection fails. */
export function followJson(modem: Docker['modem'], stream: NodeJS.ReadableStream, onMessage: (m: JsonMessage) => void): Promise<{ error: string | undefined }> {
  return new Promise((resolve, reject) => {
    let error: string | undefined;
    modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve({ error })),
      (m: JsonMessage) => {
        if (m.error || m.errorDetail) error ??= (m.errorDetail?.message ?? m.error ?? '').trim();
        onMessage(m);
      },
    );
  });
}
