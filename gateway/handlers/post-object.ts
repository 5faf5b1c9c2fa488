// POST Object: a browser form upload (RESTObjectPOST.html, sigv4-HTTPPOSTForms.html),
// authenticated by the form's policy signature (SigV4, or SigV2 as in HTTPPOSTForms.html)
// instead of request headers.
//
// Size: writeChunk needs the object size up front, and a multipart body's length minus
// the form around the file is not known until the file part ends. So the file part is
// spooled to a private temp file under the data dir (bounded by the policy's
// content-length-range maximum, else the 5 GiB single-upload limit), its size is then
// checked against content-length-range, and only then is it written to the backends
// and committed exactly as PutObject does. Nothing is stored when a check fails.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import type { Tag } from '../../metadata/tagging-cors.ts';
import type { GatewayContext } from '../context.ts';
import type { HandlerResult } from '../http-types.ts';
import { S3Error } from '../s3-errors.ts';
import { validateObjectKey } from '../router/index.ts';
import {
  checkPolicy, checkPostAlgorithm, decodePolicy, parsePostCredential, readPostForm, SIGV2_EXEMPT, SIGV4_EXEMPT, verifyPostSignature, verifyPostSignatureV2, type PostForm,
} from '../post-policy/index.ts';
import { decodeTagging, validateTags } from '../s3-xml/tagging.ts';
import { encodePostResponse } from '../s3-xml/post-response.ts';
import { metaFromHeaders, quoteEtag, rejectAclHeaders } from './object-headers.ts';

/** Form fields that become object headers, as on PutObject. */
const HEADER_FIELDS = ['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'expires', 'x-amz-storage-class'];

export interface PostCaller {
  tenantId: string;
  tenantName: string;
  /** Form fields the policy need not name, which depend on how the form was signed. */
  exempt: ReadonlySet<string>;
}

/**
 * A SigV2 form (AWSAccessKeyId + policy + signature, what boto3's generate_presigned_post makes
 * with signature_version='s3') or a SigV4 one (x-amz-algorithm / -credential / -date / -signature).
 */
function isSigV2Form(fields: ReadonlyMap<string, string>): boolean {
  return !fields.has('x-amz-signature') && !fields.has('x-amz-credential') && (fields.has('awsaccesskeyid') || fields.has('signature'));
}

async function authenticateForm(ctx: GatewayContext, fields: ReadonlyMap<string, string>): Promise<PostCaller> {
  const policy = fields.get('policy');
  if (isSigV2Form(fields)) {
    const signature = fields.get('signature');
    const akid = fields.get('awsaccesskeyid');
    if (policy === undefined || signature === undefined || akid === undefined) throw new S3Error('AccessDenied');
    const key = await ctx.resolveKey(akid);
    if (!key) throw new S3Error('InvalidAccessKeyId');
    verifyPostSignatureV2(key.secret, policy, signature);
    return { tenantId: key.tenantId, tenantName: key.tenantName, exempt: SIGV2_EXEMPT };
  }
  const signature = fields.get('x-amz-signature');
  // Anonymous form uploads need a public-write bucket, which Fedgate never has.
  if (policy === undefined || signature === undefined) throw new S3Error('AccessDenied');
  checkPostAlgorithm(fields.get('x-amz-algorithm'));
  const cred = parsePostCredential(fields.get('x-amz-credential'));
  const key = await ctx.resolveKey(cred.accessKeyId);
  if (!key) throw new S3Error('InvalidAccessKeyId');
  verifyPostSignature(key.secret, cred, policy, signature);
  return { tenantId: key.tenantId, tenantName: key.tenantName, exempt: SIGV4_EXEMPT };
}

function objectKey(form: PostForm): string {
  const raw = form.fields.get('key');
  if (raw === undefined) {
    throw new S3Error('InvalidArgument', "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.", { ArgumentName: 'key', ArgumentValue: '' });
  }
  const key = raw.replaceAll('${filename}', path.basename(form.filename));
  validateObjectKey(key);
  return key;
}

async function spool(ctx: GatewayContext, form: PostForm, max: number): Promise<{ file: string; size: number }> {
  const dir = ctx.options.spoolDir ?? os.tmpdir();
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `post-${randomUUID()}`);
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > max) cb(new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { MaxSizeAllowed: String(max) }));
      else cb(null, chunk);
    },
  });
  try {
    await pipeline(form.file, counter, fs.createWriteStream(file, { mode: 0o600 }));
    await form.finished;
  } catch (err) {
    form.abort();
    await fsp.rm(file, { force: true });
    throw err;
  }
  return { file, size };
}

function successResult(req: IncomingMessage, form: PostForm, bucket: string, key: string, etag: string, versionId: string): HandlerResult {
  const proto = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  const location = `${proto}://${req.headers.host ?? 'localhost'}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const headers: Record<string, string> = { etag: quoteEtag(etag), location };
  if (versionId !== 'null') headers['x-amz-version-id'] = versionId;
  const redirect = form.fields.get('success_action_redirect') ?? form.fields.get('redirect');
  if (redirect !== undefined) {
    try {
      const url = new URL(redirect);
      url.searchParams.append('bucket', bucket);
      url.searchParams.append('key', key);
      url.searchParams.append('etag', quoteEtag(etag));
      return { status: 303, headers: { ...headers, location: url.toString() } };
    } catch {
      // An unusable redirect falls back to success_action_status, as S3 does.
    }
  }
  const status = form.fields.get('success_action_status');
  if (status === '200') return { status: 200, headers };
  if (status === '201') return { status: 201, headers: { ...headers, 'content-type': 'application/xml' }, body: encodePostResponse({ location, bucket, key, etag }) };
  return { status: 204, headers };
}

/**
 * Serves a POST Object. `onCaller` learns the tenant as soon as the signature is
 * verified, so the access log names it even when a later check fails.
 */
export async function postObject(ctx: GatewayContext, bucketName: string, req: IncomingMessage, onCaller: (c: PostCaller) => void): Promise<HandlerResult> {
  const form = await readPostForm(req, { maxFileSize: ctx.options.maxPutSize });
  try {
    const caller = await authenticateForm(ctx, form.fields);
    onCaller(caller);
    const bucket = await ctx.store.getBucket(caller.tenantId, bucketName);
    if (!bucket) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucketName });
    const key = objectKey(form);
    const fields = new Map(form.fields);
    fields.set('key', key);
    fields.set('bucket', bucketName);
    const range = checkPolicy(decodePolicy(form.fields.get('policy')!), fields, new Date(), caller.exempt);
    const asHeaders: IncomingHttpHeaders = {};
    // The `acl` field is the form's x-amz-acl: the bucket owns every object (BucketOwnerEnforced).
    const acl = form.fields.get('acl');
    if (acl !== undefined) rejectAclHeaders({ 'x-amz-acl': acl }, 'AccessControlListNotSupported');
    for (const [name, value] of form.fields) if (HEADER_FIELDS.includes(name) || name.startsWith('x-amz-meta-')) asHeaders[name] = value;
    const meta = metaFromHeaders(asHeaders);
    const taggingField = form.fields.get('tagging');
    const tags: Tag[] = taggingField === undefined ? [] : validateTags(decodeTagging(Buffer.from(taggingField, 'utf8')), 'object');

    const { file, size } = await spool(ctx, form, Math.min(range.max ?? ctx.options.maxPutSize, ctx.options.maxPutSize));
    try {
      if (size < range.min) throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(size), MinSizeAllowed: String(range.min) });
      const chunk = await ctx.data.writeChunk({ tenantId: caller.tenantId, bucket, source: fs.createReadStream(file), size, checksums: [] });
      const version = await chunk.commit((sealed) =>
        ctx.store.commitObject({
          ...meta,
          checksum: null,
          bucketId: bucket.id,
          key,
          size,
          etag: chunk.md5,
          multipartParts: null,
          parts: [{ partNumber: 1, size, etag: chunk.md5, checksums: chunk.checksums, chunk: sealed }],
          tags,
        }),
      );
      return { ...successResult(req, form, bucketName, key, version.etag, version.versionId), bytes: size };
    } finally {
      await fsp.rm(file, { force: true });
    }
  } catch (err) {
    form.abort();
    form.file.resume();
    throw err;
  }
}
