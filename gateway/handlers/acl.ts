// ACLs as a BucketOwnerEnforced bucket answers them (gateway/s3-xml/acl.ts): reads show the
// owner's FULL_CONTROL; writes that would change nothing are accepted, any other grant is
// 400 AccessControlListNotSupported. Every Fedgate bucket is owned by its tenant.
import type { Handler, S3Request } from '../http-types.ts';
import { S3Error } from '../s3-errors.ts';
import { ACL_BODY_LIMIT, encodeAccessControlPolicy, encodeOwnershipControls, isOwnerOnlyPolicy } from '../s3-xml/acl.ts';
import { requireBucket } from './bucket-lookup.ts';
import { rejectAclHeaders } from './object-headers.ts';
import { targetVersion } from './tagging.ts';
import { readXmlBody } from './xml-body.ts';

const XML = { 'content-type': 'application/xml' };
const owner = (req: S3Request) => ({ id: req.tenantId, displayName: req.tenantName });
const versionHeader = (versionId: string): Record<string, string> => (versionId !== 'null' ? { 'x-amz-version-id': versionId } : {});

/** A canned ACL or grant headers, or an AccessControlPolicy body: accepted only if it grants the owner alone. */
async function checkAclWrite(req: S3Request): Promise<void> {
  rejectAclHeaders(req.headers, 'AccessControlListNotSupported');
  const body = await readXmlBody(req, ACL_BODY_LIMIT);
  if (body.length > 0 && !isOwnerOnlyPolicy(body, req.tenantId)) throw new S3Error('AccessControlListNotSupported');
}

export const getBucketAcl: Handler = async (ctx, req) => {
  await requireBucket(ctx, req);
  return { status: 200, headers: XML, body: encodeAccessControlPolicy(owner(req)) };
};

export const putBucketAcl: Handler = async (ctx, req) => {
  await requireBucket(ctx, req);
  await checkAclWrite(req);
  return { status: 200 };
};

export const getObjectAcl: Handler = async (ctx, req) => {
  const v = await targetVersion(ctx, req);
  return { status: 200, headers: { ...XML, ...versionHeader(v.versionId) }, body: encodeAccessControlPolicy(owner(req)) };
};

export const putObjectAcl: Handler = async (ctx, req) => {
  const v = await targetVersion(ctx, req);
  await checkAclWrite(req);
  return { status: 200, headers: versionHeader(v.versionId) };
};

export const getBucketOwnershipControls: Handler = async (ctx, req) => {
  await requireBucket(ctx, req);
  return { status: 200, headers: XML, body: encodeOwnershipControls() };
};
