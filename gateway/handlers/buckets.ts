// Bucket operations. Buckets are per tenant: two tenants may both own `photos`
// (PRODUCT.md §1.3), so a name taken by another tenant is never BucketAlreadyExists.
import type { Handler } from '../http-types.ts';
import * as xml from '../s3-xml/index.ts';
import { validateBucketName } from '../router/index.ts';
import { S3Error } from '../s3-errors.ts';
import { requireBucket } from './bucket-lookup.ts';
import { header, rejectAclHeaders } from './object-headers.ts';

/** CreateBucketConfiguration is tiny; anything larger is not one. */
const MAX_CONFIG_BODY = 64 * 1024;

export const listBuckets: Handler = async (ctx, req) => {
  const buckets = await ctx.store.listBuckets(req.tenantId);
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: xml.encodeListAllMyBuckets({
      owner: { id: req.tenantId, displayName: req.tenantName },
      buckets,
    }),
  };
};

/**
 * Every bucket is created as S3 creates one by default since April 2023: Object Ownership
 * BucketOwnerEnforced (ACLs disabled), no object lock. Asking for anything else is refused,
 * not ignored (API_CreateBucket.html, userguide/object-ownership-error-responses.html).
 */
function checkCreateBucketHeaders(headers: Parameters<typeof header>[0]): void {
  const ownership = header(headers, 'x-amz-object-ownership');
  if (ownership !== undefined && ownership !== 'BucketOwnerEnforced') {
    if (ownership === 'BucketOwnerPreferred' || ownership === 'ObjectWriter') throw new S3Error('NotImplemented', undefined, { Header: 'x-amz-object-ownership' });
    throw new S3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-object-ownership', ArgumentValue: ownership });
  }
  rejectAclHeaders(headers, 'InvalidBucketAclWithObjectOwnership');
  if (header(headers, 'x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true') {
    throw new S3Error('NotImplemented', undefined, { Header: 'x-amz-bucket-object-lock-enabled' });
  }
}

export const createBucket: Handler = async (ctx, req) => {
  if (req.op.kind !== 'CreateBucket') throw new Error('unreachable');
  validateBucketName(req.op.bucket);
  checkCreateBucketHeaders(req.headers);
  const body = await req.bodyBuffer(MAX_CONFIG_BODY);
  const conf = body.length > 0 ? xml.decodeCreateBucketConfiguration(body) : { locationConstraint: undefined };
  const region = conf.locationConstraint || ctx.options.region;
  const existing = await ctx.store.getBucket(req.tenantId, req.op.bucket);
  if (existing) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: req.op.bucket });
  await ctx.store.createBucket({ tenantId: req.tenantId, name: req.op.bucket, region, physical: [] });
  return { status: 200, headers: { location: `/${req.op.bucket}` } };
};

export const headBucket: Handler = async (ctx, req) => {
  const b = await requireBucket(ctx, req);
  return { status: 200, headers: { 'x-amz-bucket-region': b.region } };
};

export const deleteBucket: Handler = async (ctx, req) => {
  const b = await requireBucket(ctx, req);
  const physical = await ctx.store.deleteBucket(b.id).catch((e: unknown) => {
    // S3 names the bucket in a BucketNotEmpty answer (ErrorResponses.html).
    if ((e as { code?: string }).code === 'BucketNotEmpty') throw new S3Error('BucketNotEmpty', undefined, { BucketName: b.name });
    throw e;
  });
  ctx.data.forgetBucket(b.id);
  // Physical buckets go best-effort: one still holding a zero-copy blob of another
  // bucket (or on a backend that is down) simply stays; the metadata no longer points at it.
  await Promise.allSettled(
    physical.map((p) => ctx.data.backends.get(p.backendId)?.driver.deleteBucket(p.physicalName, AbortSignal.timeout(5000))),
  );
  return { status: 204 };
};

export const getBucketLocation: Handler = async (ctx, req) => {
  const b = await requireBucket(ctx, req);
  // us-east-1 is reported as an empty LocationConstraint, as S3 does.
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: xml.encodeLocationConstraint(b.region === 'us-east-1' ? '' : b.region) };
};

export const getBucketVersioning: Handler = async (ctx, req) => {
  const b = await requireBucket(ctx, req);
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: xml.encodeVersioningConfiguration(b.versioning) };
};
