// Streaming decoder for aws-chunked bodies
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
// .../sigv4-streaming-trailers.html). Wire format:
//
//   hex-size[;chunk-signature=<64 hex>]\r\n <size bytes> \r\n      (repeated)
//   0[;chunk-signature=<64 hex>]\r\n                                 (final chunk)
//   name:value\r\n ... [x-amz-trailer-signature:<64 hex>\r\n]        (trailer mode)
//   \r\n
//
// Payload bytes are forwarded as subarrays of the incoming buffers (no copies, no
// per-byte loops); only chunk-header and trailer lines, which are short and bounded,
// are ever buffered. Signed chunks are verified against the chain seeded by the
// request signature: sig(n) = HMAC(kSigning, "AWS4-HMAC-SHA256-PAYLOAD\n" + date +
// "\n" + scope + "\n" + sig(n-1) + "\n" + hex(SHA256("")) + "\n" + hex(SHA256(data n))).
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { createHasher } from '../../shared/checksums/index.ts';
import type { Hasher } from '../../shared/checksums/index.ts';
import {
  decodedLengthMismatch, incompleteBody, invalidChunkSize, malformedTrailer, signatureDoesNotMatch,
} from './errors.ts';
import { EMPTY_SHA256, signHex, signaturesEqual } from './signing.ts';
import type { SigningContext } from './signing.ts';
import { TrailerFields, verifyTrailerChecksum, verifyTrailerSignature } from './trailer.ts';
import type { DeclaredTrailer, TrailerChecksum } from './trailer.ts';

/** Longest chunk-header line accepted ("hex;chunk-signature=" + 64 hex is ~90 bytes). */
const MAX_HEADER_LINE = 4096;
/** Bound on the whole trailer section. */
const MAX_TRAILER_BYTES = 16 * 1024;
/** sigv4-streaming: every chunk but the last must carry at least 8 KiB. */
const MIN_SIGNED_CHUNK = 8192;
const CR = 0x0d;
const LF = 0x0a;

export interface ChunkedDecoderOptions {
  /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: chunk signatures are verified. */
  signing: SigningContext | null;
  /** The mode announces a trailer section. */
  trailer: boolean;
  declared: DeclaredTrailer | null;
  decodedLength: number | null;
}

type State = 'header' | 'data' | 'data-crlf' | 'trailer' | 'done';

export class AwsChunkedDecoder extends Transform {
  private readonly signing: SigningContext | null;
  private readonly trailerMode: boolean;
  private readonly declared: DeclaredTrailer | null;
  private readonly decodedLength: number | null;
  private readonly checksum: Hasher | null;
  private readonly trailers = new TrailerFields();
  private state: State = 'header';
  /** Partial header / trailer line carried over from the previous buffer. */
  private pending: Buffer | null = null;
  private trailerBytes = 0;
  private remaining = 0;
  private crlfSeen = 0;
  private decoded = 0;
  private chunkIndex = 0;
  private lastChunkSize = -1;
  private previousSignature: string;
  private chunkSignature = '';
  private chunkHash: Hash | null = null;
  private verifiedTrailer: TrailerChecksum | null = null;

  constructor(opts: ChunkedDecoderOptions) {
    super();
    this.signing = opts.signing;
    this.trailerMode = opts.trailer;
    this.declared = opts.declared;
    this.decodedLength = opts.decodedLength;
    this.checksum = opts.declared ? createHasher(opts.declared.algorithm) : null;
    this.previousSignature = opts.signing?.seedSignature ?? '';
  }

  /** After the stream ended: the verified trailing checksum, or null. */
  get trailerChecksum(): TrailerChecksum | null {
    return this.verifiedTrailer;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    this.finish().then(() => cb(), (err: Error) => cb(err));
  }

  private consume(buf: Buffer): void {
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case 'data': {
          const take = Math.min(this.remaining, buf.length - pos);
          const piece = buf.subarray(pos, pos + take);
          this.chunkHash?.update(piece);
          this.checksum?.update(piece);
          this.remaining -= take;
          pos += take;
          this.push(piece);
          if (this.remaining === 0) this.state = 'data-crlf';
          break;
        }
        case 'data-crlf': {
          // The CRLF closing a chunk's data may straddle two reads.
          const expected = this.crlfSeen === 0 ? CR : LF;
          if (buf[pos] !== expected) throw incompleteBody();
          pos++;
          if (++this.crlfSeen === 2) {
            this.crlfSeen = 0;
            this.endChunk();
            this.state = 'header';
          }
          break;
        }
        case 'header':
        case 'trailer': {
          const nl = buf.indexOf(LF, pos);
          const end = nl === -1 ? buf.length : nl;
          const limit = this.state === 'header' ? MAX_HEADER_LINE : MAX_TRAILER_BYTES - this.trailerBytes;
          const pendingLength = this.pending?.length ?? 0;
          if (pendingLength + (end - pos) > limit) throw this.state === 'header' ? incompleteBody() : malformedTrailer();
          const part = buf.subarray(pos, end);
          if (nl === -1) {
            this.pending = this.pending ? Buffer.concat([this.pending, part]) : Buffer.from(part);
            pos = buf.length;
            break;
          }
          let line = this.pending ? Buffer.concat([this.pending, part]) : part;
          this.pending = null;
          pos = nl + 1;
          if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
          if (this.state === 'header') this.onHeaderLine(line.toString('latin1'));
          else this.onTrailerLine(line.toString('utf8'), line.length + 1);
          break;
        }
        case 'done':
          // Bytes after the closing empty line: the framing is not what the client announced.
          throw incompleteBody();
      }
    }
  }

  private onHeaderLine(line: string): void {
    const semi = line.indexOf(';');
    const sizeText = (semi === -1 ? line : line.slice(0, semi)).trim();
    const size = /^[0-9a-fA-F]{1,16}$/.test(sizeText) ? parseInt(sizeText, 16) : NaN;
    if (!Number.isSafeInteger(size)) throw incompleteBody();
    if (this.signing) {
      const sig = /(?:^|;)\s*chunk-signature=([0-9a-fA-F]{64})\s*(?:;|$)/.exec(line.slice(semi + 1));
      if (semi === -1 || !sig) throw signatureDoesNotMatch();
      this.chunkSignature = sig[1];
      // Only the final data chunk (the one before the 0-size chunk) may be short.
      if (size > 0 && this.lastChunkSize >= 0 && this.lastChunkSize < MIN_SIGNED_CHUNK) {
        throw invalidChunkSize(this.chunkIndex, this.lastChunkSize);
      }
      this.chunkHash = size > 0 ? createHash('sha256') : null;
    }
    this.chunkIndex++;
    if (size === 0) {
      if (this.signing) this.verifyChunk(EMPTY_SHA256);
      this.state = 'trailer';
      return;
    }
    if (this.decodedLength !== null && this.decoded + size > this.decodedLength) throw decodedLengthMismatch();
    this.decoded += size;
    this.lastChunkSize = size;
    this.remaining = size;
    this.state = 'data';
  }

  private endChunk(): void {
    if (!this.signing || !this.chunkHash) return;
    this.verifyChunk(this.chunkHash.digest('hex'));
    this.chunkHash = null;
  }

  private verifyChunk(dataHash: string): void {
    const signing = this.signing as SigningContext;
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${signing.amzDate}\n${signing.scope}\n${this.previousSignature}\n${EMPTY_SHA256}\n${dataHash}`;
    const expected = signHex(signing.key, toSign);
    if (!signaturesEqual(expected, this.chunkSignature)) throw signatureDoesNotMatch();
    this.previousSignature = expected;
  }

  private onTrailerLine(line: string, wireBytes: number): void {
    this.trailerBytes += wireBytes;
    if (line === '') {
      this.state = 'done';
      return;
    }
    // Without a trailer mode nothing but the closing empty line may follow the final chunk.
    if (!this.trailerMode) throw incompleteBody();
    this.trailers.add(line);
  }

  private async finish(): Promise<void> {
    if (this.state === 'trailer' && this.pending === null && this.trailers.fields.length === 0 && this.trailers.signature === null) {
      // Some encoders stop right after the final chunk's header, without the empty line.
      this.state = 'done';
    }
    // A body cut anywhere, including inside the trailer section, is IncompleteBody.
    if (this.state !== 'done') throw incompleteBody();
    if (this.decodedLength !== null && this.decoded !== this.decodedLength) throw decodedLengthMismatch();
    if (this.trailerMode && this.signing) verifyTrailerSignature(this.trailers, this.signing, this.previousSignature);
    this.verifiedTrailer = await verifyTrailerChecksum(this.trailers, this.declared, this.checksum);
  }
}
