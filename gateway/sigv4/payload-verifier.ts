// The body side of SigV4: a Transform from the raw request body to the object bytes,
// chosen by the payload mode authenticate() found in x-amz-content-sha256.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import type { AuthResult } from './authenticate.ts';
import { AwsChunkedDecoder } from './chunked-decoder.ts';
import { contentSha256Mismatch, malformedTrailer } from './errors.ts';
import { declaredTrailer } from './trailer.ts';
import type { TrailerChecksum } from './trailer.ts';

export type PayloadVerifier = Transform & {
  /** After the stream ended: verified trailing checksum, e.g. { algorithm: 'CRC32', value: '<base64>' }, or null. */
  readonly trailerChecksum: TrailerChecksum | null;
};

/** UNSIGNED-PAYLOAD: nothing to verify; bytes pass through untouched. */
class UnsignedPayload extends PassThrough {
  readonly trailerChecksum: TrailerChecksum | null = null;
}

/** A hex SHA-256 in x-amz-content-sha256: hashed as it streams, compared at the end. */
class Sha256Payload extends Transform {
  readonly trailerChecksum: TrailerChecksum | null = null;
  private readonly expected: string;
  private readonly hash = createHash('sha256');

  constructor(expected: string) {
    super();
    this.expected = expected;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const computed = this.hash.digest('hex');
    cb(computed === this.expected ? null : contentSha256Mismatch(this.expected, computed));
  }
}

/**
 * Builds the verifier for an authenticated request. For aws-chunked modes it strips
 * the framing, verifies chunk signatures (signed modes) as data streams, and at the end
 * checks the decoded length, the trailer signature (signed trailer mode) and the
 * trailing x-amz-checksum-* named by x-amz-trailer. Verification failures are emitted
 * as SigV4Error 'error' events; whatever was already pushed must then be discarded.
 *
 * Throws SigV4Error synchronously when x-amz-trailer is unusable (InvalidRequest), or
 * is set while the payload mode carries no trailer (MalformedTrailerError), so callers
 * can answer before reading the body.
 */
export function createPayloadVerifier(auth: AuthResult, headers: IncomingHttpHeaders): PayloadVerifier {
  const declared = declaredTrailer(headers);
  const mode = auth.payload;
  const trailer = (mode.kind === 'streaming-signed' && mode.trailer) || mode.kind === 'streaming-unsigned-trailer';
  if (declared !== null && !trailer) throw malformedTrailer();
  switch (mode.kind) {
    case 'unsigned':
      return new UnsignedPayload();
    case 'sha256':
      return new Sha256Payload(mode.hex);
    case 'streaming-signed':
      return new AwsChunkedDecoder({ signing: auth.signing, trailer: mode.trailer, declared, decodedLength: auth.decodedContentLength });
    case 'streaming-unsigned-trailer':
      return new AwsChunkedDecoder({ signing: null, trailer: true, declared, decodedLength: auth.decodedContentLength });
  }
}
