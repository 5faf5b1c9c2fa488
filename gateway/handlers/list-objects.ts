// ListObjectsV2 and ListObjects (V1). Pagination is keyset-based in the metadata
// authority; the continuation token is an opaque encoding of the last key returned.
import type { Handler, S3Request } from '../http-types.ts';
import type { GatewayContext } from '../context.ts';
import * as xml from '../s3-xml/index.ts';
import { S3Error } from '../s3-errors.ts';
import { requireBucket } from './bucket-lookup.ts';
import { encodingType, pageSize } from './list-args.ts';

const TOKEN_PREFIX = 'fg1:';

function encodeToken(after: string): string {
  return Buffer.from(TOKEN_PREFIX + after, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const s = Buffer.from(token, 'base64url').toString('utf8');
  if (!s.startsWith(TOKEN_PREFIX)) throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token', ArgumentValue: token });
  return s.slice(TOKEN_PREFIX.length);
}

async function list(ctx: GatewayContext, req: S3Request, after: string | undefined, limit: number) {
  const bucket = await requireBucket(ctx, req);
  const prefix = req.query.get('prefix') ?? '';
  const delimiter = req.query.get('delimiter') || undefined;
  const result = await ctx.store.listObjects(bucket.id, { prefix, delimiter, after, maxKeys: limit });
  return { bucket, prefix, delimiter, result };
}

export const listObjectsV2: Handler = async (ctx, req) => {
  const limit = pageSize(req, 'max-keys');
  const enc = encodingType(req);
  const token = req.query.get('continuation-token');
  const startAfter = req.query.get('start-after') ?? undefined;
  const after = token !== null ? decodeToken(token) : startAfter;
  const { bucket, prefix, delimiter, result } = await list(ctx, req, after, limit);
  const fetchOwner = req.query.get('fetch-owner') === 'true';
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: xml.encodeListObjectsV2({
      bucket: bucket.name,
      prefix,
      delimiter,
      maxKeys: limit,
      encodingType: enc,
      continuationToken: token ?? undefined,
      startAfter,
      nextContinuationToken: result.isTruncated && result.nextAfter !== null ? encodeToken(result.nextAfter) : undefined,
      isTruncated: result.isTruncated,
      contents: result.contents,
      owner: fetchOwner ? { id: req.tenantId, displayName: req.tenantName } : undefined,
      commonPrefixes: result.commonPrefixes,
    }),
  };
};

export const listObjectsV1: Handler = async (ctx, req) => {
  const limit = pageSize(req, 'max-keys');
  const enc = encodingType(req);
  const marker = req.query.get('marker') ?? undefined;
  const { bucket, prefix, delimiter, result } = await list(ctx, req, marker || undefined, limit);
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: xml.encodeListObjectsV1({
      bucket: bucket.name,
      prefix,
      delimiter,
      maxKeys: limit,
      encodingType: enc,
      marker: marker ?? '',
      // S3 returns NextMarker only when a delimiter was given; otherwise clients use the last key.
      nextMarker: result.isTruncated && delimiter !== undefined && result.nextAfter !== null ? result.nextAfter : undefined,
      isTruncated: result.isTruncated,
      contents: result.contents,
      owner: { id: req.tenantId, displayName: req.tenantName },
      commonPrefixes: result.commonPrefixes,
    }),
  };
};
