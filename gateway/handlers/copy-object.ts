// CopyObject: zero-copy — the new version references the source's chunks, so no
// blob is rewritten, whatever the size (ARCHITECTURE.md "Data model").
import type { Handler, S3Request } from '../http-types.ts';
import type { GatewayContext } from '../context.ts';
import type { ObjectVersion } from '../../metadata/types.ts';
import * as xml from '../s3-xml/index.ts';
import { S3Error } from '../s3-errors.ts';
import { parseCopySource, validateObjectKey } from '../router/index.ts';
import { requireBucket } from './bucket-lookup.ts';
import { header, metaFromHeaders, quoteEtag, rejectUnsupportedCopyHeaders, unquoteEtag } from './object-headers.ts';
import { writeCondition } from './put-object.ts';
import { checkVersionId, versionHeader } from './versioning.ts';
import { tagsForCopy } from './tagging.ts';

/** The source version after x-amz-copy-source-if-* (same precedence as reads; every failure is 412). */
export async function loadCopySource(ctx: GatewayContext, req: S3Request): Promise<ObjectVersion> {
  const src = parseCopySource(req.headers['x-amz-copy-source']);
  const bucket = await ctx.store.getBucket(req.tenantId, src.bucket);
  if (!bucket) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: src.bucket });
  if (src.versionId !== undefined) checkVersionId(src.versionId);
  const v = await ctx.store.getVersion(bucket.id, src.key, src.versionId);
  if (!v && src.versionId !== undefined) throw new S3Error('NoSuchVersion', 'The specified version does not exist.', { Key: src.key, VersionId: src.versionId });
  if (!v) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: src.key });
  // API_CopyObject.html: a delete marker cannot be a copy source; named by id it is a 400.
  if (v.deleteMarker && src.versionId !== undefined) throw new S3Error('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.');
  if (v.deleteMarker) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: src.key });
  const lm = Math.floor(v.lastModified.getTime() / 1000);
  const date = (name: string) => {
    const s = header(req.headers, name);
    const t = s === undefined ? NaN : Date.parse(s);
    return Number.isNaN(t) ? null : Math.floor(t / 1000);
  };
  const ifMatch = header(req.headers, 'x-amz-copy-source-if-match');
  const ifNoneMatch = header(req.headers, 'x-amz-copy-source-if-none-match');
  const ius = date('x-amz-copy-source-if-unmodified-since');
  const ims = date('x-amz-copy-source-if-modified-since');
  const matches = (list: string) => list.split(',').some((e) => e.trim() === '*' || unquoteEtag(e) === v.etag);
  // S3: If-Match true + If-Unmodified-Since false → copy; If-None-Match false + If-Modified-Since true → 412.
  const failed =
    (ifMatch !== undefined && !matches(ifMatch)) ||
    (ifMatch === undefined && ius !== null && lm > ius) ||
    (ifNoneMatch !== undefined && matches(ifNoneMatch)) ||
    (ifNoneMatch === undefined && ims !== null && lm <= ims);
  if (failed) throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'x-amz-copy-source-If-*' });
  return v;
}

export const copyObject: Handler = async (ctx, req) => {
  if (req.op.kind !== 'CopyObject') throw new Error('unreachable');
  validateObjectKey(req.op.key);
  const bucket = await requireBucket(ctx, req);
  // A copy writes a new object: it refuses what PutObject refuses, before the source is read.
  rejectUnsupportedCopyHeaders(req.headers);
  const src = await loadCopySource(ctx, req);
  const directive = (header(req.headers, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive });
  }
  const sameObject = src.bucketId === bucket.id && src.key === req.op.key;
  if (sameObject && directive === 'COPY' && header(req.headers, 'x-amz-storage-class') === undefined) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const meta = directive === 'REPLACE' ? metaFromHeaders(req.headers) : { contentType: src.contentType, headers: src.headers, userMetadata: src.userMetadata, storageClass: header(req.headers, 'x-amz-storage-class') ?? src.storageClass };
  const tags = await tagsForCopy(ctx, req.headers, src.id);
  const version = await ctx.store.commitObject({
    ...meta,
    checksum: src.checksum,
    bucketId: bucket.id,
    key: req.op.key,
    size: src.size,
    etag: src.etag,
    multipartParts: src.multipartParts,
    parts: src.parts.map((p) => ({ partNumber: p.partNumber, size: p.size, etag: p.etag, checksums: p.checksums, chunk: { existingChunkId: p.chunk.id } })),
    condition: writeCondition(req.headers),
    tags,
  });
  const headers: Record<string, string> = { 'content-type': 'application/xml' };
  if (src.versionId !== 'null' || parseCopySource(req.headers['x-amz-copy-source']).versionId !== undefined) headers['x-amz-copy-source-version-id'] = src.versionId;
  Object.assign(headers, versionHeader(bucket.versioning, version.versionId));
  return {
    status: 200,
    headers,
    body: xml.encodeCopyObjectResult({
      etag: quoteEtag(version.etag),
      lastModified: version.lastModified,
      checksums: version.checksum ? { [version.checksum.algorithm]: version.checksum.value } : undefined,
      checksumType: version.checksum?.type,
    }),
  };
};
