// Zero trust in providers, on the read path: a whole-chunk read is checked against the size
// and the CRC-32C the metadata recorded when the chunk was written (MD5 for chunks written
// before CRC-32C was recorded: ~7× the CPU, on the hash worker from 4 MiB on). The last
// piece of the body is held back until the check passes, so a replica that returns other bytes than were stored
// never delivers a complete response: the stream errors instead (the client sees a cut
// connection and retries; the bad replica is marked and no longer read).
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { createHash } from 'node:crypto';
import { crc32c } from '../checksums/crc.ts';
import { crc32cHex, createHasher, type Hasher } from '../checksums/index.ts';
import { md5HasherFor } from '../checksums/off-thread.ts';

/** The replica's bytes are not the chunk's: wrong size or wrong digest. */
export class ReplicaMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplicaMismatchError';
  }
}

/** What a whole-chunk read is checked against. */
export interface ExpectedBytes {
  size: number;
  /** Hex MD5. */
  md5: string;
  /** Hex CRC-32C, '' when not recorded. */
  crc32c: string;
}

const CRC_HEX = /^[0-9a-f]{8}$/;
const MD5_HEX = /^[0-9a-f]{32}$/;

/** True when the record has a digest a read can be checked against. */
export function checkable(e: ExpectedBytes): boolean {
  return CRC_HEX.test(e.crc32c) || MD5_HEX.test(e.md5);
}

/** Why `bytes` (read whole) are not the recorded ones, or null when they are. */
export function mismatchOf(bytes: Buffer, e: ExpectedBytes): string | null {
  if (bytes.length !== e.size) return `the replica sent ${bytes.length} of ${e.size} bytes`;
  if (CRC_HEX.test(e.crc32c)) {
    const got = crc32cHex(crc32c(bytes));
    return got === e.crc32c ? null : `the replica's bytes have CRC-32C ${got}, not the recorded ${e.crc32c}`;
  }
  const got = createHash('md5').update(bytes).digest('hex');
  return got === e.md5 ? null : `the replica's bytes have MD5 ${got}, not the recorded ${e.md5}`;
}

/** CRC-32C when recorded, else MD5: one digest per read, the cheaper one. */
class Digest {
  readonly hasher: Hasher;
  readonly name: 'CRC-32C' | 'MD5';
  readonly want: string;
  constructor(e: ExpectedBytes) {
    const useCrc = CRC_HEX.test(e.crc32c);
    this.hasher = useCrc ? createHasher('CRC32C') : md5HasherFor(e.size);
    this.name = useCrc ? 'CRC-32C' : 'MD5';
    this.want = useCrc ? e.crc32c : e.md5;
  }
  async hex(): Promise<string> {
    return (await this.hasher.digest()).toString('hex');
  }
}

class Verifier extends Transform {
  private readonly digest: Digest;
  private held: Buffer | null = null;
  private seen = 0;
  private readonly expected: ExpectedBytes;
  private readonly onMismatch: (why: string) => unknown;

  constructor(expected: ExpectedBytes, onMismatch: (why: string) => unknown) {
    super();
    this.expected = expected;
    this.onMismatch = onMismatch;
    this.digest = new Digest(expected);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expected.size) {
      this.mismatch(`the replica sent more than the recorded ${this.expected.size} bytes`, cb);
      return;
    }
    const h = this.digest.hasher;
    h.update(chunk);
    const previous = this.held;
    this.held = chunk;
    // An MD5 on the hash worker that falls behind holds the read back (bounded memory).
    if (h.full?.() && h.drained) h.drained().then(() => cb(null, previous ?? undefined));
    else cb(null, previous ?? undefined);
  }

  override _flush(cb: TransformCallback): void {
    if (this.seen !== this.expected.size) {
      this.mismatch(`the replica sent ${this.seen} of ${this.expected.size} bytes`, cb);
      return;
    }
    this.digest.hex().then(
      (got) => {
        if (got !== this.digest.want) {
          this.mismatch(`the replica's bytes have ${this.digest.name} ${got}, not the recorded ${this.digest.want}`, cb);
          return;
        }
        cb(null, this.held ?? undefined);
        this.held = null;
      },
      (err: Error) => cb(err),
    );
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.digest.hasher.dispose?.();
    this.held = null;
    cb(err);
  }

  /** The stream errors only once the mismatch is recorded: a client that retries at once must not meet the same replica. */
  private mismatch(why: string, cb: TransformCallback): void {
    this.digest.hasher.dispose?.();
    Promise.resolve()
      .then(() => this.onMismatch(why))
      .catch(() => {})
      .finally(() => cb(new ReplicaMismatchError(why)));
  }
}

/**
 * `source` (a whole chunk as one replica sends it) checked against the recorded size and
 * digest; `onMismatch` is told once when the bytes are not the chunk's, and the stream errors
 * after the promise it may return has settled. Destroying the result destroys `source`.
 */
export function verifiedRead(source: Readable, expected: ExpectedBytes, onMismatch: (why: string) => unknown): Readable {
  const v = new Verifier(expected, onMismatch);
  pipeline(source, v, () => {});
  return v;
}
