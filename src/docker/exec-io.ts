/**
 * The plumbing of `exec` with a hijacked connection: feeding stdin with backpressure and a
 * half-close, reading the output side, and collecting output up to a cap.
 */
import { PassThrough, Writable, type Duplex, type Readable } from 'node:stream';

/**
 * Pipes `input` into the hijacked connection with backpressure and, at its end, half-closes
 * the connection (shutdown of the write side only): the Engine then closes the process's
 * stdin while its output keeps coming back on the read side.
 */
export class StdinFeeder {
  private inputError: Error | undefined;
  private finished = false;
  private readonly done: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly input: Readable,
    private readonly connection: Duplex,
  ) {
    this.done = new Promise<void>((resolve) => {
      this.finish = () => {
        if (this.finished) return;
        this.finished = true;
        this.input.unpipe(this.connection);
        resolve();
      };
    });
    input.once('error', (err: Error) => {
      this.inputError = err;
      // The process must not take a truncated input for a whole one.
      connection.destroy(err);
      this.finish();
    });
    input.once('end', () => {
      connection.end();
      this.finish();
    });
    // The process went away (or the Engine closed) before all of the input was sent.
    connection.once('close', () => this.finish());
    input.pipe(connection, { end: false });
  }

  /** Stops feeding (once the output has ended) and frees both ends; the input's error, if any. */
  async stop(): Promise<Error | undefined> {
    this.finish();
    await this.done;
    if (!this.input.readableEnded && !this.input.destroyed) this.input.destroy();
    if (!this.connection.destroyed) this.connection.destroy();
    return this.inputError;
  }
}

/**
 * The read side of a connection that is also being written to. A process that exits before
 * reading all of its stdin makes the Engine close the connection with our data unread, and
 * the kernel reports that as a reset (or our next write as a broken pipe) after the output
 * already queued: that is the end of the output, and the exit code says how the process
 * fared. Any other error ends the output with that error.
 */
export function readSideOf(connection: Duplex): Readable {
  const out = new PassThrough();
  const dropped = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_WRITE_AFTER_END', 'ERR_STREAM_DESTROYED']);
  const endOnce = (err?: Error): void => {
    if (out.writableEnded || out.destroyed) return;
    if (err && !dropped.has((err as NodeJS.ErrnoException).code ?? '')) out.destroy(err);
    else out.end();
  };
  connection.on('error', endOnce);
  connection.once('close', () => endOnce());
  connection.pipe(out);
  return out;
}

export class Collector {
  private chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;
  constructor(private readonly cap: number) {}
  add(chunk: Buffer): void {
    if (this.size >= this.cap) {
      this.truncated = true;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }
  writable(): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.add(chunk);
        done();
      },
    });
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8') + (this.truncated ? '\n[output truncated]' : '');
  }
}
