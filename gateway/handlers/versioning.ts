// PutBucketVersioning, and the versionId rules every versioned operation shares.
// Sources: API_PutBucketVersioning.html, API_GetObject.html ("versionId"),
// userguide/DeleteMarker.html ("Working with delete markers").
import type { ObjectVersion, Versioning } from '../../metadata/types.ts';
import { isWellFormedVersionId } from '../../metadata/types.ts';
import type { Handler, S3Request } from '../http-types.ts';
import * as xml from '../s3-xml/index.ts';
import { S3Error } from '../s3-errors.ts';
import { requireBucket } from './bucket-lookup.ts';

/** A VersioningConfiguration is a few dozen bytes. */
const MAX_VERSIONING_BODY = 64 * 1024;

export const putBucketVersioning: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  const conf = xml.decodeVersioningConfiguration(await req.bodyBuffer(MAX_VERSIONING_BODY));
  // MFA delete needs the x-amz-mfa device check, which Fedgate has no device for.
  if (conf.mfaDelete === 'Enabled') throw new S3Error('NotImplemented', 'MFA Delete is not implemented by Fedgate');
  if (conf.status !== null) await ctx.store.setBucketVersioning(bucket.id, conf.status);
  return { status: 200 };
};

/**
 * The `versionId` query parameter, checked as S3 does: absent → undefined; empty →
 * InvalidArgument "Version id cannot be the empty string"; not an id this store could
 * have issued → InvalidArgument "Invalid version id specified" (not NoSuchVersion).
 */
export function versionIdParam(req: S3Request, name = 'versionId'): string | undefined {
  const v = req.query.get(name);
  if (v === null) return undefined;
  checkVersionId(v, name);
  return v;
}

export function checkVersionId(v: string, name = 'versionId'): void {
  if (v === '') throw new S3Error('InvalidArgument', 'Version id cannot be the empty string', { ArgumentName: name, ArgumentValue: v });
  if (!isWellFormedVersionId(v)) throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: name, ArgumentValue: v });
}

/**
 * Whether a response names the version: always in a bucket that has had versioning
 * (a suspended bucket's writes answer "null"), never in one that has not.
 */
export function versionHeader(versioning: Versioning, versionId: string): Record<string, string> {
  return versioning !== 'Unversioned' || versionId !== 'null' ? { 'x-amz-version-id': versionId } : {};
}

function withHeaders(err: S3Error, headers: Record<string, string>): S3Error {
  return Object.assign(err, { responseHeaders: headers });
}

/**
 * The version a GET / HEAD names (`v`, as read), or throw what S3 answers: NoSuchVersion
 * for an unknown id; for a delete marker, 404 NoSuchKey when it is the latest version and
 * 405 MethodNotAllowed when asked for by id — both with x-amz-delete-marker: true
 * (API_GetObject.html, "DeleteMarker").
 */
export function readableVersion(v: ObjectVersion | null, key: string, versionId: string | undefined, method: string): ObjectVersion {
  if (!v) {
    if (versionId !== undefined) throw new S3Error('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
    throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
  }
  if (!v.deleteMarker) return v;
  const headers = { 'x-amz-delete-marker': 'true', 'x-amz-version-id': v.versionId, 'last-modified': v.lastModified.toUTCString() };
  if (versionId === undefined) throw withHeaders(new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key }), headers);
  throw withHeaders(new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: method, ResourceType: 'DeleteMarker' }), headers);
}
