// Writes that must refuse what Fedgate cannot honour, and say exactly why, driven by
// @aws-sdk/client-s3 with default settings (and the aws cli for S3's wording):
// - CopyObject / UploadPartCopy refuse SSE-C, object lock and KMS like PutObject (501 naming the header);
// - ACLs behave as on an S3 bucket with Object Ownership = BucketOwnerEnforced (S3's default since
//   April 2023): private / bucket-owner-full-control accepted, anything else refused;
// - a write's 412 PreconditionFailed names the failed header in `Condition`, as S3 does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { s3Error } from '../helpers/s3-error.ts';
import { availableAwsClis, runAws } from '../helpers/aws-cli.ts';

let fg: TestFedgate;
let s3: S3Client;
const B = 'gaps';

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'src.txt', Body: 'source bytes' }));
});
after(async () => fg?.stop());

async function missing(key: string): Promise<boolean> {
  return (await s3Error(s3.send(new HeadObjectCommand({ Bucket: B, Key: key })))).status === 404;
}

/** The S3 error and the fields of its XML body the SDK keeps on the exception. */
async function s3Failure(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string; fields: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof S3ServiceException) return { name: e.name, status: e.$metadata.httpStatusCode, message: e.message, fields: e as unknown as Record<string, unknown> };
    throw e;
  }
  assert.fail('expected an S3 error');
}

const ssec = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: randomBytes(32).toString('base64') };

test('CopyObject refuses SSE-C, copy-source SSE-C, object lock and KMS like PutObject: 501 NotImplemented, nothing written', async () => {
  const put = await s3Failure(s3.send(new PutObjectCommand({ Bucket: B, Key: 'p.txt', Body: 'x', ...ssec })));
  assert.deepEqual([put.name, put.status], ['NotImplemented', 501]);
  const cases: [string, Record<string, unknown>, string][] = [
    ['c1', ssec, 'x-amz-server-side-encryption-customer-algorithm'],
    ['c2', { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: ssec.SSECustomerKey }, 'x-amz-copy-source-server-side-encryption-customer-algorithm'],
    ['c3', { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000) }, 'x-amz-object-lock-mode'],
    ['c4', { ObjectLockLegalHoldStatus: 'ON' }, 'x-amz-object-lock-legal-hold'],
    ['c5', { ServerSideEncryption: 'aws:kms' }, 'x-amz-server-side-encryption'],
  ];
  for (const [key, extra, headerName] of cases) {
    const r = await s3Failure(s3.send(new CopyObjectCommand({ Bucket: B, Key: key, CopySource: `${B}/src.txt`, ...extra })));
    assert.deepEqual([r.name, r.status, r.fields.Header], ['NotImplemented', 501, headerName], key);
    assert.ok(await missing(key), `${key} must not exist`);
  }
  // SSE-S3 is what every object gets anyway: accepted, as on PutObject.
  await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'c6', CopySource: `${B}/src.txt`, ServerSideEncryption: 'AES256' }));
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'c6' }))).Body!.transformToString(), 'source bytes');
});

test('UploadPartCopy refuses SSE-C and copy-source SSE-C: 501 NotImplemented', async () => {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp-copy' }));
  for (const extra of [ssec, { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: ssec.SSECustomerKey }]) {
    const r = await s3Error(s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'mp-copy', UploadId, PartNumber: 1, CopySource: `${B}/src.txt`, ...extra })));
    assert.deepEqual([r.name, r.status], ['NotImplemented', 501]);
  }
  const ok = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'mp-copy', UploadId, PartNumber: 1, CopySource: `${B}/src.txt` }));
  assert.equal(ok.CopyPartResult?.ETag, `"${createHash('md5').update('source bytes').digest('hex')}"`);
});

test('ACLs as with BucketOwnerEnforced: private and bucket-owner-full-control accepted; other canned ACLs and grants → 400 AccessControlListNotSupported', async () => {
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'acl-private', Body: 'a', ACL: 'private' }));
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'acl-bofc', Body: 'b', ACL: 'bucket-owner-full-control' }));
  for (const key of ['acl-private', 'acl-bofc']) assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: key }))).ContentLength, 1);

  const refused: [string, () => Promise<unknown>][] = [
    ['put-public', () => s3.send(new PutObjectCommand({ Bucket: B, Key: 'put-public', Body: 'x', ACL: 'public-read' }))],
    ['put-grant', () => s3.send(new PutObjectCommand({ Bucket: B, Key: 'put-grant', Body: 'x', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' }))],
    ['copy-public', () => s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy-public', CopySource: `${B}/src.txt`, ACL: 'public-read' }))],
    ['copy-grant', () => s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy-grant', CopySource: `${B}/src.txt`, GrantFullControl: 'id="someone-else"' }))],
    ['mpu-public', () => s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mpu-public', ACL: 'authenticated-read' }))],
  ];
  for (const [key, send] of refused) {
    const r = await s3Failure(send());
    assert.deepEqual([r.name, r.status, r.message], ['AccessControlListNotSupported', 400, 'The bucket does not allow ACLs'], key);
    assert.ok(await missing(key), `${key} must not exist`);
  }
  // A copy and a multipart upload with an owner-only ACL go through.
  await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy-bofc', CopySource: `${B}/src.txt`, ACL: 'bucket-owner-full-control' }));
  const mpu = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mpu-private', ACL: 'private' }));
  assert.ok(mpu.UploadId);
});

test('CreateBucket: private accepted; other ACLs → 400 InvalidBucketAclWithObjectOwnership; ObjectWriter ownership → 501', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'acl-ok', ACL: 'private' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'own-ok', ObjectOwnership: 'BucketOwnerEnforced' }));
  for (const input of [{ Bucket: 'acl-pub', ACL: 'public-read' as const }, { Bucket: 'acl-grant', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' }]) {
    const r = await s3Failure(s3.send(new CreateBucketCommand(input)));
    assert.deepEqual([r.name, r.status, r.message], ['InvalidBucketAclWithObjectOwnership', 400, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"]);
    assert.equal((await s3Error(s3.send(new HeadBucketCommand({ Bucket: input.Bucket })))).status, 404);
  }
  const w = await s3Failure(s3.send(new CreateBucketCommand({ Bucket: 'own-writer', ObjectOwnership: 'ObjectWriter', ACL: 'public-read' })));
  assert.deepEqual([w.name, w.status, w.fields.Header], ['NotImplemented', 501, 'x-amz-object-ownership']);
  const lock = await s3Failure(s3.send(new CreateBucketCommand({ Bucket: 'locked', ObjectLockEnabledForBucket: true })));
  assert.deepEqual([lock.name, lock.status], ['NotImplemented', 501]);
});

test('aws cli: put-object --acl public-read fails with S3\'s words', async (t) => {
  const cli = availableAwsClis()[0];
  if (!cli) {
    if (process.env.CI === 'true') assert.fail('aws cli is not installed');
    t.skip('aws cli is not installed');
    return;
  }
  const r = await runAws(cli, ['--endpoint-url', fg.endpoint, 's3api', 'put-object', '--bucket', B, '--key', 'cli-public', '--body', '/etc/hostname', '--acl', 'public-read'], fg.awsEnv());
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /An error occurred \(AccessControlListNotSupported\) when calling the PutObject operation: The bucket does not allow ACLs/);
  assert.ok(await missing('cli-public'));
});

test('PreconditionFailed on writes names the failed header in Condition (PutObject, CompleteMultipartUpload, CopyObject)', async () => {
  const put = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'cond', Body: 'one' }));
  let r = await s3Failure(s3.send(new PutObjectCommand({ Bucket: B, Key: 'cond', Body: 'two', IfNoneMatch: '*' })));
  assert.deepEqual([r.name, r.status, r.fields.Condition], ['PreconditionFailed', 412, 'If-None-Match']);
  r = await s3Failure(s3.send(new PutObjectCommand({ Bucket: B, Key: 'cond', Body: 'two', IfMatch: '"0123456789abcdef0123456789abcdef"' })));
  assert.deepEqual([r.name, r.status, r.fields.Condition], ['PreconditionFailed', 412, 'If-Match']);

  r = await s3Failure(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'cond', CopySource: `${B}/src.txt`, IfNoneMatch: '*' })));
  assert.deepEqual([r.name, r.status, r.fields.Condition], ['PreconditionFailed', 412, 'If-None-Match']);
  r = await s3Failure(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'cond', CopySource: `${B}/src.txt`, IfMatch: '"ffffffffffffffffffffffffffffffff"' })));
  assert.deepEqual([r.name, r.status, r.fields.Condition], ['PreconditionFailed', 412, 'If-Match']);

  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'cond' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'cond', UploadId, PartNumber: 1, Body: 'three' }));
  const complete = (cond: { IfNoneMatch?: string; IfMatch?: string }) =>
    s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'cond', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] }, ...cond }));
  r = await s3Failure(complete({ IfNoneMatch: '*' }));
  assert.deepEqual([r.name, r.status, r.fields.Condition], ['PreconditionFailed', 412, 'If-None-Match']);
  r = await s3Failure(complete({ IfMatch: '"ffffffffffffffffffffffffffffffff"' }));
  assert.deepEqual([r.name, r.status, r.fields.Condition], ['PreconditionFailed', 412, 'If-Match']);
  // Nothing was overwritten; the matching If-Match completes.
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond' }))).Body!.transformToString(), 'one');
  await complete({ IfMatch: put.ETag });
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond' }))).Body!.transformToString(), 'three');
});
