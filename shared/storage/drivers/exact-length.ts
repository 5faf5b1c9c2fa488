// A pass-through that lets exactly `size` bytes out, or fails. The chunk that
// completes the body is held back until the source has really ended: a backend
// that sees all `size` bytes (Content-Length satisfied, or a file of the right
// length) could commit the blob, so it must never see them for a body that then
// turns out to be too long. The cost is one chunk of latency at the very end.
import { Transform, type TransformCallback } from 'node:stream';
import { IncompleteBodyError } from '../errors.ts';

export class ExactLength extends Transform {
  private readonly size: number;
  private seen = 0;
  private held: Buffer | null = null;
  /** True once every byte has been handed downstream (the backend may now commit). */
  delivered = false;
  /** Called on every chunk that passes, so a caller can run an inactivity watchdog. */
  onProgress: (() => void) | null = null;

  constructor(size: number) {
    super({ highWaterMark: 64 * 1024 });
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid blob size ${size}`);
    this.size = size;
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (buf.length === 0) {
      cb();
      return;
    }
    this.seen += buf.length;
    this.onProgress?.();
    if (this.held !== null || this.seen > this.size) {
      cb(new IncompleteBodyError(this.size, this.seen));
      return;
    }
    if (this.seen === this.size) {
      this.held = buf;
      cb();
      return;
    }
    cb(null, buf);
  }

  override _flush(cb: TransformCallback): void {
    if (this.seen !== this.size) {
      cb(new IncompleteBodyError(this.size, this.seen));
      return;
    }
    if (this.held) this.push(this.held);
    this.held = null;
    this.delivered = true;
    this.onProgress?.();
    cb();
  }
}
