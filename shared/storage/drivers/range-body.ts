// Make a ranged GET body hold exactly the bytes asked for, whatever the server did
// with the Range header. RFC 9110 §14.2 lets a server ignore Range (200 + whole
// object), and some S3 implementations get edge cases wrong — s3rver 3.7 treats
// `bytes=0-0` as `bytes=0-` and sends the whole object. Compliant answers (206 with
// the Content-Range asked for) pass through untouched.
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import type { ByteRange } from '../types.ts';

/** Drops `skip` bytes, passes `take`, discards the rest. */
class Window extends Transform {
  private toSkip: number;
  private left: number;
  constructor(skip: number, take: number) {
    super();
    this.toSkip = skip;
    this.left = take;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let buf = chunk;
    if (this.toSkip > 0) {
      const n = Math.min(this.toSkip, buf.length);
      this.toSkip -= n;
      buf = buf.subarray(n);
    }
    if (this.left > 0 && buf.length > 0) {
      const out = buf.subarray(0, this.left);
      this.left -= out.length;
      this.push(out);
    }
    cb();
  }
}

/**
 * `contentRange` is the response's Content-Range (absent on a 200), `contentLength`
 * its Content-Length. Throws a RangeError when the server answered a range that does
 * not contain the start asked for.
 */
export function exactRangeBody(body: Readable, asked: ByteRange, contentRange: string | undefined, contentLength: number | undefined): Readable {
  let first = 0;
  let last: number;
  const m = contentRange ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange.trim()) : null;
  if (m) {
    first = Number(m[1]);
    last = Number(m[2]);
  } else if (contentLength !== undefined) {
    last = contentLength - 1;
  } else {
    last = Number.MAX_SAFE_INTEGER;
  }
  if (first > asked.start) throw new RangeError(`server answered bytes ${first}-${last} for a range starting at ${asked.start}`);
  const wantLast = Math.min(asked.end, last);
  if (first === asked.start && last === wantLast) return body;
  const out = new Window(asked.start - first, Math.max(0, wantLast - asked.start + 1));
  pipeline(body, out, () => {});
  return out;
}
