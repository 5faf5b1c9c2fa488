// The common half of PutObject and UploadPart: verify the declared size, stream the
// verified body through the quorum writer, then check Content-MD5 and
// x-amz-checksum-* against what was computed on the way in.
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { BucketRow, ChecksumSet } from '../../metadata/types.ts';
import type { WrittenChunk } from '../../shared/dataplane/index.ts';
import type { GatewayContext } from '../context.ts';
import type { S3Request } from '../http-types.ts';
import { S3Error } from '../s3-errors.ts';
import { checksumRequest, declaredLength, rejectUnsupportedWriteHeaders, type ChecksumRequest } from './object-headers.ts';

/** S3's single-request limit: 5 GiB. */
export const MAX_OBJECT_PART_SIZE = 5 * 1024 ** 3;

export interface ReceivedBody {
  chunk: WrittenChunk;
  size: number;
  checksum: ChecksumRequest;
  /** Checksum value of the requested algorithm (computed, and equal to the client's if given). */
  checksumValue: string | null;
  checksums: ChecksumSet;
}

export async function receiveBody(ctx: GatewayContext, req: S3Request, bucket: BucketRow, maxSize = ctx.options.maxPutSize): Promise<ReceivedBody> {
  rejectUnsupportedWriteHeaders(req.headers);
  const checksum = checksumRequest(req.headers);
  const size = declaredLength(req.headers, req.auth.decodedContentLength);
  if (size > maxSize) throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { ProposedSize: String(size), MaxSizeAllowed: String(maxSize) });
  const body = req.body();
  const algorithms = checksum.algorithm ? [checksum.algorithm] : [];
  const source = body as unknown as Readable;
  let chunk: WrittenChunk;
  try {
    chunk = await ctx.data.writeChunk({ tenantId: req.tenantId, bucket, source, size, checksums: algorithms });
  } catch (err) {
    if ((err as { code?: string }).code === 'IncompleteBody') {
      throw new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.');
    }
    throw err;
  }
  try {
    // The verifier's last checks (trailer checksum, trailer signature, decoded length) run at
    // its end: a chunk is only good if the verified stream itself ended cleanly.
    await finished(source, { writable: false });
    if (checksum.contentMd5 !== null && Buffer.from(chunk.md5, 'hex').toString('base64') !== checksum.contentMd5) {
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
    }
    let checksumValue: string | null = null;
    if (checksum.algorithm) {
      checksumValue = chunk.checksums[checksum.algorithm] ?? null;
      const claimed = checksum.inTrailer ? body.trailerChecksum?.value ?? null : checksum.expected;
      if (claimed !== null && claimed !== checksumValue) {
        throw new S3Error('BadDigest', `The ${checksum.algorithm} you specified did not match the calculated checksum.`);
      }
    }
    return { chunk, size, checksum, checksumValue, checksums: chunk.checksums };
  } catch (err) {
    chunk.settle(false);
    throw err;
  }
}
