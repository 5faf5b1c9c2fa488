import type { BucketRow } from '../../metadata/types.ts';
import type { GatewayContext } from '../context.ts';
import type { S3Request } from '../http-types.ts';
import { S3Error } from '../s3-errors.ts';

/** The caller's bucket named by the operation, or NoSuchBucket: another tenant's bucket of that name does not exist for this caller. */
export async function requireBucket(ctx: GatewayContext, req: S3Request): Promise<BucketRow> {
  const name = 'bucket' in req.op ? req.op.bucket : undefined;
  if (!name) throw new Error('operation has no bucket');
  const b = await ctx.store.getBucket(req.tenantId, name);
  if (!b) throw noSuchBucket(name);
  return b;
}

export function noSuchBucket(name: string): S3Error {
  return new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: name });
}
