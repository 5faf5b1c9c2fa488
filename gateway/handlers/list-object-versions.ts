// ListObjectVersions (API_ListObjectVersions.html): Version and DeleteMarker entries
// in (key, newest first) order, with prefix / delimiter roll-up and key-marker /
// version-id-marker pagination; MaxKeys counts versions, markers and prefixes alike.
import type { Handler } from '../http-types.ts';
import * as xml from '../s3-xml/index.ts';
import { S3Error } from '../s3-errors.ts';
import { requireBucket } from './bucket-lookup.ts';
import { checkVersionId } from './versioning.ts';
import { encodingType, pageSize } from './list-args.ts';

export const listObjectVersions: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  const maxKeys = pageSize(req, 'max-keys');
  const enc = encodingType(req);
  const prefix = req.query.get('prefix') ?? '';
  const delimiter = req.query.get('delimiter') || undefined;
  const keyMarker = req.query.get('key-marker') || undefined;
  const versionIdMarker = req.query.get('version-id-marker') ?? undefined;
  if (versionIdMarker !== undefined) {
    if (keyMarker === undefined) {
      throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker });
    }
    checkVersionId(versionIdMarker, 'version-id-marker');
  }
  const r = await ctx.store.listObjectVersions(bucket.id, { prefix, delimiter, keyMarker, versionIdMarker, maxKeys });
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: xml.encodeListVersions({
      bucket: bucket.name,
      prefix,
      keyMarker: keyMarker ?? '',
      versionIdMarker: versionIdMarker ?? '',
      nextKeyMarker: r.nextKeyMarker,
      nextVersionIdMarker: r.nextVersionIdMarker,
      delimiter,
      maxKeys,
      encodingType: enc,
      isTruncated: r.isTruncated,
      versions: r.versions,
      commonPrefixes: r.commonPrefixes,
      owner: { id: req.tenantId, displayName: req.tenantName },
    }),
  };
};
