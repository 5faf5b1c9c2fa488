// DeleteObject and DeleteObjects. Deleting a missing key succeeds (204), as in S3.
import type { Handler } from '../http-types.ts';
import * as xml from '../s3-xml/index.ts';
import { S3Error } from '../s3-errors.ts';
import { toS3Error } from '../error-mapping.ts';
import { requireBucket } from './bucket-lookup.ts';
import { versionHeader, versionIdParam } from './versioning.ts';
import { isWellFormedVersionId } from '../../metadata/types.ts';

/** 1000 keys of up to 1024 bytes each, with XML overhead. */
const MAX_DELETE_BODY = 2 * 1024 * 1024;

export const deleteObject: Handler = async (ctx, req) => {
  if (req.op.kind !== 'DeleteObject') throw new Error('unreachable');
  const bucket = await requireBucket(ctx, req);
  const versionId = versionIdParam(req);
  const r = await ctx.store.deleteObject(bucket.id, req.op.key, versionId);
  // API_DeleteObject.html: with a versionId S3 echoes it and says whether that version
  // was a delete marker; without one in a versioned bucket, it names the new marker.
  const headers: Record<string, string> = {};
  if (r.deleteMarker) headers['x-amz-delete-marker'] = 'true';
  if (versionId !== undefined) headers['x-amz-version-id'] = versionId;
  else if (r.versionId !== null) Object.assign(headers, versionHeader(bucket.versioning, r.versionId));
  return { status: 204, headers };
};

export const deleteObjects: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  const doc = xml.decodeDelete(await req.bodyBuffer(MAX_DELETE_BODY));
  const deleted: { key: string; versionId?: string; deleteMarker?: boolean; deleteMarkerVersionId?: string }[] = [];
  const errors: { key: string; versionId?: string; code: string; message: string }[] = [];
  for (const o of doc.objects) {
    try {
      if (Buffer.byteLength(o.key) > 1024) throw new S3Error('KeyTooLongError');
      // In a batch S3 reports a malformed version id as NoSuchVersion, per entry.
      if (o.versionId !== undefined && !isWellFormedVersionId(o.versionId)) throw new S3Error('NoSuchVersion', 'The specified version does not exist.');
      const r = await ctx.store.deleteObject(bucket.id, o.key, o.versionId);
      // DeletedObject (API_DeletedObject.html): DeleteMarkerVersionId is the new marker's
      // id, or — when a version was named and it was a marker — that version's id.
      if (o.versionId !== undefined) {
        deleted.push(r.deleteMarker ? { key: o.key, versionId: o.versionId, deleteMarker: true, deleteMarkerVersionId: o.versionId } : { key: o.key, versionId: o.versionId });
      } else if (r.deleteMarker && r.versionId !== null) {
        deleted.push({ key: o.key, deleteMarker: true, deleteMarkerVersionId: r.versionId });
      } else {
        deleted.push({ key: o.key });
      }
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
