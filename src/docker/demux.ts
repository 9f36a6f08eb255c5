/**
 * Docker's multiplexed stream format (8-byte header: stream type, 3 zero bytes, big-endian
 * length) as a Transform: stdout frames flow on with backpressure, stderr frames go to a
 * side sink. A container with a TTY sends raw bytes, which pass through as stdout.
 */
import { Transform, type TransformCallback } from 'node:stream';

export class DemuxStdout extends Transform {
  /** The frame header being read (it may come split across chunks). */
  private readonly header = Buffer.alloc(8);
  private headerBytes = 0;
  /** The current frame: its stream (1 stdout, 2 stderr) and the payload bytes still to come. */
  private stream = 1;
  private remaining = 0;
  /** A stderr frame's parts, handed over whole. */
  private stderrParts: Buffer[] = [];
  private raw: boolean;

  constructor(private readonly onStderr: (chunk: Buffer) => void, tty = false) {
    super();
    this.raw = tty;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.raw) return done(null, chunk);
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        const n = Math.min(8 - this.headerBytes, chunk.length - offset);
        chunk.copy(this.header, this.headerBytes, offset, offset + n);
        this.headerBytes += n;
        offset += n;
        if (this.headerBytes < 8) break;
        this.headerBytes = 0;
        const type = this.header[0]!;
        if (type > 2 || this.header[1] !== 0 || this.header[2] !== 0 || this.header[3] !== 0) {
          // Not multiplexed after all: these 8 bytes and all that follows are output as it is.
          this.raw = true;
          this.push(Buffer.from(this.header));
          return done(null, offset < chunk.length ? chunk.subarray(offset) : undefined);
        }
        this.stream = type;
        this.remaining = this.header.readUInt32BE(4);
        continue;
      }
      // The payload goes on as it comes, a view of the chunk (no copy): pg_dump's output
      // arrives in frames of a few KiB, and copying each one cost CPU and memory for nothing.
      const n = Math.min(this.remaining, chunk.length - offset);
      const part = chunk.subarray(offset, offset + n);
      this.remaining -= n;
      offset += n;
      if (this.stream !== 2) this.push(part);
      else {
        this.stderrParts.push(Buffer.from(part));
        if (this.remaining === 0) this.onStderr(Buffer.concat(this.stderrParts.splice(0)));
      }
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.stderrParts.length > 0) this.onStderr(Buffer.concat(this.stderrParts.splice(0)));
    done();
  }
}

/** Splits a whole multiplexed buffer (as `logs` returns without follow) into its two streams. */
export function demuxBuffer(buf: Buffer, tty = false): { stdout: Buffer; stderr: Buffer } {
  if (tty) return { stdout: buf, stderr: Buffer.alloc(0) };
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const type = buf[i]!;
    if (type > 2 || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) {
      out.push(buf.subarray(i));
      i = buf.length;
      break;
    }
    const length = buf.readUInt32BE(i + 4);
    (type === 2 ? err : out).push(buf.subarray(i + 8, i + 8 + length));
    i += 8 + length;
  }
  if (i < buf.length) out.push(buf.subarray(i));
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
}
