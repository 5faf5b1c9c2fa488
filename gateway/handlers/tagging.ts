// Get/Put/DeleteObjectTagging and Get/Put/DeleteBucketTagging (API references of the
// same names), plus the helpers the write paths use for x-amz-tagging and the read
// paths for x-amz-tagging-count. Object tags belong to one object version.
import type { IncomingHttpHeaders } from 'node:http';
import type { Tag } from '../../metadata/tagging-cors.ts';
import type { ObjectVersion } from '../../metadata/types.ts';
import type { GatewayContext } from '../context.ts';
import type { Handler, S3Request } from '../http-types.ts';
import { S3Error } from '../s3-errors.ts';
import { TAGGING_BODY_LIMIT, decodeTagging, encodeTagging, parseTaggingHeader, validateTags } from '../s3-xml/tagging.ts';
import { requireBucket } from './bucket-lookup.ts';
import { header } from './object-headers.ts';
import { readXmlBody } from './xml-body.ts';

/** The x-amz-tagging header of a write, validated; undefined when absent. */
export function taggingFromHeaders(headers: IncomingHttpHeaders): Tag[] | undefined {
  const v = header(headers, 'x-amz-tagging');
  return v === undefined ? undefined : validateTags(parseTaggingHeader(v), 'object');
}

/** The object version a `?tagging` or `?acl` request names (versionId), with S3's errors for missing ones and delete markers. */
export async function targetVersion(ctx: GatewayContext, req: S3Request): Promise<ObjectVersion> {
  if (!('key' in req.op) || req.op.key === undefined) throw new Error('unreachable');
  const key = req.op.key;
  const bucket = await requireBucket(ctx, req);
  const versionId = req.query.get('versionId') ?? undefined;
  const v = await ctx.store.getObject(bucket.id, key, versionId);
  if (!v) {
    if (versionId !== undefined && versionId !== 'null') throw new S3Error('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
    throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
  }
  // A delete marker has no tags (API_GetObjectTagging: 405 for a marker named by versionId).
  if (v.deleteMarker) {
    if (versionId !== undefined) throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: req.method, ResourceType: 'DeleteMarker' });
    throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
  }
  return v;
}

function versionHeader(v: ObjectVersion): Record<string, string> {
  return v.versionId !== 'null' ? { 'x-amz-version-id': v.versionId } : {};
}

export const getObjectTagging: Handler = async (ctx, req) => {
  const v = await targetVersion(ctx, req);
  const tags = await ctx.tagsCors.getObjectTags(v.id);
  return { status: 200, headers: { 'content-type': 'application/xml', ...versionHeader(v) }, body: encodeTagging(tags) };
};

export const putObjectTagging: Handler = async (ctx, req) => {
  const v = await targetVersion(ctx, req);
  const tags = validateTags(decodeTagging(await readXmlBody(req, TAGGING_BODY_LIMIT)), 'object');
  await ctx.tagsCors.putObjectTags(v.id, tags);
  return { status: 200, headers: versionHeader(v) };
};

export const deleteObjectTagging: Handler = async (ctx, req) => {
  const v = await targetVersion(ctx, req);
  await ctx.tagsCors.putObjectTags(v.id, []);
  return { status: 204, headers: versionHeader(v) };
};

export const getBucketTagging: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  const tags = await ctx.tagsCors.getBucketTags(bucket.id);
  if (!tags) throw new S3Error('NoSuchTagSet', undefined, { BucketName: bucket.name });
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: encodeTagging(tags) };
};

export const putBucketTagging: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  const tags = validateTags(decodeTagging(await readXmlBody(req, TAGGING_BODY_LIMIT)), 'bucket');
  await ctx.tagsCors.putBucketTags(bucket.id, tags);
  return { status: 204 };
};

export const deleteBucketTagging: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  await ctx.tagsCors.deleteBucketTags(bucket.id);
  return { status: 204 };
};

/**
 * Tags for the version a CopyObject creates (API_CopyObject.html, x-amz-tagging-directive):
 * COPY (default) keeps the source version's tags, REPLACE takes x-amz-tagging's.
 */
export async function tagsForCopy(ctx: GatewayContext, headers: IncomingHttpHeaders, sourceVersionUuid: string): Promise<Tag[]> {
  const directive = (header(headers, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (directive === 'REPLACE') return taggingFromHeaders(headers) ?? [];
  if (directive !== 'COPY') throw new S3Error('InvalidArgument', 'Unknown tagging directive.', { ArgumentName: 'x-amz-tagging-directive', ArgumentValue: directive });
  return ctx.tagsCors.getObjectTags(sourceVersionUuid);
}
