// PutObject: a new immutable chunk on the placement targets, then the metadata
// commit as the visibility point (PRODUCT.md §1.3). Conditional writes are decided
// by that commit, atomically.
import type { Handler } from '../http-types.ts';
import type { WriteCondition } from '../../metadata/types.ts';
import { headerForAlgorithm } from '../../shared/checksums/index.ts';
import { S3Error } from '../s3-errors.ts';
import { requireBucket } from './bucket-lookup.ts';
import { header, metaFromHeaders, quoteEtag, unquoteEtag } from './object-headers.ts';
import { taggingFromHeaders } from './tagging.ts';
import { receiveBody } from './write-body.ts';
import { versionHeader } from './versioning.ts';
import { validateObjectKey } from '../router/index.ts';

export function writeCondition(headers: Parameters<typeof header>[0]): WriteCondition | undefined {
  const ifNoneMatch = header(headers, 'if-none-match');
  const ifMatch = header(headers, 'if-match');
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error('NotImplemented', 'If-None-Match on writes supports only "*"');
  }
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  return { ifNoneMatch: ifNoneMatch !== undefined ? '*' : undefined, ifMatch: ifMatch !== undefined ? unquoteEtag(ifMatch) : undefined };
}

export const putObject: Handler = async (ctx, req) => {
  if (req.op.kind !== 'PutObject') throw new Error('unreachable');
  const key = req.op.key;
  validateObjectKey(key);
  const bucket = await requireBucket(ctx, req);
  const meta = metaFromHeaders(req.headers);
  let condition = writeCondition(req.headers);
  // A conditional write remembers what was latest when its upload began: a delete of the key
  // during the upload makes it a 409 ConditionalRequestConflict at commit (as S3 answers).
  if (condition) condition = { ...condition, seenVersion: await ctx.store.currentVersionId(bucket.id, key) };
  const tags = taggingFromHeaders(req.headers);
  const body = await receiveBody(ctx, req, bucket);
  const version = await body.chunk.commit((sealed) =>
    ctx.store.commitObject({
      ...meta,
      checksum: body.checksum.algorithm && body.checksumValue ? { algorithm: body.checksum.algorithm, value: body.checksumValue, type: 'FULL_OBJECT' } : null,
      bucketId: bucket.id,
      key,
      size: body.size,
      etag: body.chunk.md5,
      multipartParts: null,
      parts: [{ partNumber: 1, size: body.size, etag: body.chunk.md5, checksums: body.checksums, chunk: sealed }],
      condition,
      tags: tags ?? undefined,
    }),
  );
  const headers: Record<string, string> = { etag: quoteEtag(version.etag) };
  if (body.checksum.algorithm && body.checksumValue) {
    headers[headerForAlgorithm(body.checksum.algorithm)] = body.checksumValue;
    headers['x-amz-checksum-type'] = 'FULL_OBJECT';
  }
  Object.assign(headers, versionHeader(bucket.versioning, version.versionId));
  return { status: 200, headers, bytes: body.size };
};
