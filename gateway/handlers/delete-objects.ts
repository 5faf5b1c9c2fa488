// DeleteObject and DeleteObjects. Deleting a missing key succeeds (204), as in S3.
import type { Handler } from '../http-types.ts';
import * as xml from '../s3-xml/index.ts';
import { S3Error } from '../s3-errors.ts';
import { toS3Error } from '../error-mapping.ts';
import { requireBucket } from './bucket-lookup.ts';

/** 1000 keys of up to 1024 bytes each, with XML overhead. */
const MAX_DELETE_BODY = 2 * 1024 * 1024;

export const deleteObject: Handler = async (ctx, req) => {
  if (req.op.kind !== 'DeleteObject') throw new Error('unreachable');
  const bucket = await requireBucket(ctx, req);
  const r = await ctx.store.deleteObject(bucket.id, req.op.key, req.query.get('versionId') ?? undefined);
  const headers: Record<string, string> = {};
  if (r.deleteMarker) headers['x-amz-delete-marker'] = 'true';
  if (r.versionId && r.versionId !== 'null') headers['x-amz-version-id'] = r.versionId;
  return { status: 204, headers };
};

export const deleteObjects: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  const doc = xml.decodeDelete(await req.bodyBuffer(MAX_DELETE_BODY));
  const deleted: { key: string; versionId?: string }[] = [];
  const errors: { key: string; versionId?: string; code: string; message: string }[] = [];
  for (const o of doc.objects) {
    try {
      if (Buffer.byteLength(o.key) > 1024) throw new S3Error('KeyTooLongError');
      await ctx.store.deleteObject(bucket.id, o.key, o.versionId);
      deleted.push({ key: o.key, versionId: o.versionId });
    } catch (err) {
      const e = toS3Error(err);
      errors.push({ key: o.key, versionId: o.versionId, code: e.code, message: e.message });
    }
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: xml.encodeDeleteResult({ deleted: doc.quiet ? [] : deleted, errors }),
  };
};
