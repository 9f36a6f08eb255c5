/**
 * Docker's multiplexed stream format (8-byte header: stream type, 3 zero bytes, big-endian
 * length) as a Transform: stdout frames flow on with backpressure, stderr frames go to a
 * side sink. A container with a TTY sends raw bytes, which pass through as stdout.
 */
import { Transform, type TransformCallback } from 'node:stream';

export class DemuxStdout extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private raw = false;

  constructor(private readonly onStderr: (chunk: Buffer) => void, private readonly tty = false) {
    super();
    this.raw = tty;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.raw) return done(null, chunk);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const type = this.pending[0]!;
      if (type > 2 || this.pending[1] !== 0 || this.pending[2] !== 0 || this.pending[3] !== 0) {
        this.raw = true;
        const rest = this.pending;
        this.pending = Buffer.alloc(0);
        return done(null, rest);
      }
      const length = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + length) break;
      const payload = this.pending.subarray(8, 8 + length);
      this.pending = this.pending.subarray(8 + length);
      if (type === 2) this.onStderr(Buffer.from(payload));
      else this.push(Buffer.from(payload));
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    done(null, this.pending.length > 0 ? this.pending : undefined);
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
