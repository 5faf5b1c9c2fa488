// GetObjectAttributes with the real SDK (default settings) and the real aws cli: which attributes
// come back, in S3's forms (unquoted ETag, composite checksum without "-N", parts listed only for
// a composite checksum), part pagination, versions and delete markers, and the exact errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectAttributesCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { s3Error } from '../helpers/s3-error.ts';
import { errorFields, signedFetch } from '../helpers/signed-fetch.ts';
import { availableAwsClis, runAws } from '../helpers/aws-cli.ts';
import { checksumBase64 } from '../../shared/checksums/index.ts';

const MiB = 1024 * 1024;
const ALL = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
let fg: TestFedgate;
let s3: S3Client;

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'attrs' }));
});

after(async () => {
  await fg?.stop();
});

test('a single PUT: every attribute, as HeadObject describes the same object', async () => {
  const body = randomBytes(70_000);
  await s3.send(new PutObjectCommand({ Bucket: 'attrs', Key: 'one', Body: body, ChecksumAlgorithm: 'CRC32C' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'attrs', Key: 'one', ChecksumMode: 'ENABLED' }));
  const a = await s3.send(new GetObjectAttributesCommand({ Bucket: 'attrs', Key: 'one', ObjectAttributes: [...ALL] }));
  assert.equal(a.ETag, createHash('md5').update(body).digest('hex'), 'unquoted MD5');
  assert.equal(a.ObjectSize, body.length);
  assert.equal(a.StorageClass, 'STANDARD');
  assert.deepEqual([a.Checksum?.ChecksumCRC32C, a.Checksum?.ChecksumType], [await checksumBase64('CRC32C', body), 'FULL_OBJECT']);
  assert.equal(a.Checksum?.ChecksumCRC32C, head.ChecksumCRC32C);
  assert.equal(a.ObjectParts, undefined, 'not a multipart object');
  assert.equal(a.LastModified?.getTime(), head.LastModified?.getTime());
  assert.equal(a.VersionId, undefined, 'an unversioned bucket names no version');

  const only = await s3.send(new GetObjectAttributesCommand({ Bucket: 'attrs', Key: 'one', ObjectAttributes: ['ObjectSize'] }));
  assert.deepEqual([only.ObjectSize, only.ETag, only.Checksum, only.StorageClass], [body.length, undefined, undefined, undefined], 'only what was asked for');
});

async function multipart(key: string, parts: Buffer[], alg?: 'SHA256'): Promise<{ sums: string[]; complete: string | undefined }> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'attrs', Key: key, ...(alg ? { ChecksumAlgorithm: alg } : {}) }));
  const done = [];
  const sums: string[] = [];
  for (const [i, p] of parts.entries()) {
    const r = await s3.send(new UploadPartCommand({ Bucket: 'attrs', Key: key, UploadId, PartNumber: i + 1, Body: p, ...(alg ? { ChecksumAlgorithm: alg } : {}) }));
    sums.push(r.ChecksumSHA256 ?? '');
    done.push({ PartNumber: i + 1, ETag: r.ETag, ...(alg ? { ChecksumSHA256: r.ChecksumSHA256 } : {}) });
  }
  const c = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'attrs', Key: key, UploadId, MultipartUpload: { Parts: done } }));
  return { sums, complete: c.ChecksumSHA256 };
}

test('a multipart object with a composite SHA-256: its parts with their checksums, page by page; the checksum without "-N"', async () => {
  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1000)];
  const { sums, complete } = await multipart('mp-sha', parts, 'SHA256');
  assert.match(complete!, /-3$/);
  const a = await s3.send(new GetObjectAttributesCommand({ Bucket: 'attrs', Key: 'mp-sha', ObjectAttributes: [...ALL] }));
  assert.match(a.ETag!, /^[0-9a-f]{32}-3$/);
  assert.equal(a.ObjectSize, 10 * MiB + 1000);
  assert.deepEqual([a.Checksum?.ChecksumSHA256, a.Checksum?.ChecksumType], [complete!.replace(/-3$/, ''), 'COMPOSITE']);
  assert.equal(a.ObjectParts?.TotalPartsCount, 3);
  assert.equal(a.ObjectParts?.IsTruncated, false);
  assert.deepEqual(
    a.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumSHA256]),
    parts.map((p, i) => [i + 1, p.length, sums[i]]),
  );

  const first = await s3.send(new GetObjectAttributesCommand({ Bucket: 'attrs', Key: 'mp-sha', ObjectAttributes: ['ObjectParts'], MaxParts: 2 }));
  assert.deepEqual(first.ObjectParts?.Parts?.map((p) => p.PartNumber), [1, 2]);
  assert.deepEqual([first.ObjectParts?.IsTruncated, first.ObjectParts?.NextPartNumberMarker, first.ObjectParts?.MaxParts], [true, '2', 2]);
  const rest = await s3.send(
    new GetObjectAttributesCommand({ Bucket: 'attrs', Key: 'mp-sha', ObjectAttributes: ['ObjectParts'], MaxParts: 2, PartNumberMarker: first.ObjectParts!.NextPartNumberMarker }),
  );
  assert.deepEqual(rest.ObjectParts?.Parts?.map((p) => p.PartNumber), [3]);
  assert.deepEqual([rest.ObjectParts?.IsTruncated, rest.ObjectParts?.PartNumberMarker, rest.ObjectParts?.TotalPartsCount], [false, '2', 3]);
});

test('a multipart object without a composite checksum: only the number of parts', async () => {
  // No checksum at all: the client computes none (else the SDK would add its CRC32 to every part).
  const plain = new S3Client({ endpoint: fg.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: fg.accessKeyId, secretAccessKey: fg.secretAccessKey }, requestChecksumCalculation: 'WHEN_REQUIRED' });
  const { UploadId } = await plain.send(new CreateMultipartUploadCommand({ Bucket: 'attrs', Key: 'mp-plain' }));
  const parts = [randomBytes(5 * MiB), randomBytes(10)];
  const done = [];
  for (const [i, p] of parts.entries()) done.push({ PartNumber: i + 1, ETag: (await plain.send(new UploadPartCommand({ Bucket: 'attrs', Key: 'mp-plain', UploadId, PartNumber: i + 1, Body: p }))).ETag });
  await plain.send(new CompleteMultipartUploadCommand({ Bucket: 'attrs', Key: 'mp-plain', UploadId, MultipartUpload: { Parts: done } }));
  plain.destroy();
  const a = await s3.send(new GetObjectAttributesCommand({ Bucket: 'attrs', Key: 'mp-plain', ObjectAttributes: ['ObjectParts', 'Checksum'] }));
  assert.deepEqual(a.ObjectParts, { TotalPartsCount: 2 });
  assert.equal(a.Checksum, undefined);
});

test('versions and delete markers as GetObject has them', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'attrs-v' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'attrs-v', VersioningConfiguration: { Status: 'Enabled' } }));
  const v1 = await s3.send(new PutObjectCommand({ Bucket: 'attrs-v', Key: 'k', Body: 'first' }));
  await s3.send(new PutObjectCommand({ Bucket: 'attrs-v', Key: 'k', Body: 'second, longer' }));
  const latest = await s3.send(new GetObjectAttributesCommand({ Bucket: 'attrs-v', Key: 'k', ObjectAttributes: ['ObjectSize'] }));
  assert.equal(latest.ObjectSize, 14);
  const old = await s3.send(new GetObjectAttributesCommand({ Bucket: 'attrs-v', Key: 'k', VersionId: v1.VersionId, ObjectAttributes: ['ObjectSize', 'ETag'] }));
  assert.deepEqual([old.ObjectSize, old.VersionId, old.ETag], [5, v1.VersionId, createHash('md5').update('first').digest('hex')]);
  const marker = await s3.send(new DeleteObjectCommand({ Bucket: 'attrs-v', Key: 'k' }));
  assert.deepEqual(await s3Error(s3.send(new GetObjectAttributesCommand({ Bucket: 'attrs-v', Key: 'k', ObjectAttributes: ['ETag'] }))), {
    name: 'NoSuchKey',
    status: 404,
    deleteMarker: 'true',
    versionId: marker.VersionId,
  });
  const byId = await s3Error(s3.send(new GetObjectAttributesCommand({ Bucket: 'attrs-v', Key: 'k', VersionId: marker.VersionId, ObjectAttributes: ['ETag'] })));
  assert.deepEqual([byId.name, byId.status, byId.deleteMarker], ['MethodNotAllowed', 405, 'true']);
});

test('errors: an unknown or missing attribute name, a bad max-parts, no such key or bucket', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'attrs', Key: 'e', Body: 'x' }));
  let r = await signedFetch(fg, 'GET', '/attrs/e?attributes', { headers: { 'x-amz-object-attributes': 'ETag,Colour' } });
  assert.equal(r.status, 400);
  assert.deepEqual(
    [errorFields(r.text).Code, errorFields(r.text).Message, errorFields(r.text).ArgumentName, errorFields(r.text).ArgumentValue],
    ['InvalidArgument', 'Invalid attribute name specified.', 'x-amz-object-attributes', 'Colour'],
  );
  r = await signedFetch(fg, 'GET', '/attrs/e?attributes');
  assert.deepEqual([r.status, errorFields(r.text).Code, errorFields(r.text).Message], [400, 'InvalidArgument', 'Invalid attribute name specified.']);
  r = await signedFetch(fg, 'GET', '/attrs/e?attributes', { headers: { 'x-amz-object-attributes': 'ETag', 'x-amz-max-parts': '-1' } });
  assert.deepEqual([r.status, errorFields(r.text).Code, errorFields(r.text).ArgumentName], [400, 'InvalidArgument', 'x-amz-max-parts']);
  assert.deepEqual(await s3Error(s3.send(new GetObjectAttributesCommand({ Bucket: 'attrs', Key: 'nope', ObjectAttributes: ['ETag'] }))), { name: 'NoSuchKey', status: 404 });
  assert.deepEqual(await s3Error(s3.send(new GetObjectAttributesCommand({ Bucket: 'no-such-attrs', Key: 'k', ObjectAttributes: ['ETag'] }))), { name: 'NoSuchBucket', status: 404 });
});

for (const cli of availableAwsClis()) {
  test(`${cli.label}: s3api get-object-attributes`, async () => {
    const body = randomBytes(4096);
    await s3.send(new PutObjectCommand({ Bucket: 'attrs', Key: 'cli/obj', Body: body }));
    const r = await runAws(cli, ['--endpoint-url', fg.endpoint, 's3api', 'get-object-attributes', '--bucket', 'attrs', '--key', 'cli/obj', '--object-attributes', 'ETag', 'ObjectSize', 'StorageClass'], fg.awsEnv());
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.ETag, out.ObjectSize, out.StorageClass], [createHash('md5').update(body).digest('hex'), 4096, 'STANDARD']);
    assert.ok(out.LastModified);
  });
}
