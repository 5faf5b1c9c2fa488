// @aws-sdk/client-s3 with its default settings (CRC32 checksums, aws-chunked
// trailers for streams) against a whole Fedgate on its default local-disk backends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, ListObjectsCommand,
  CopyObjectCommand, DeleteObjectCommand, DeleteObjectsCommand, DeleteBucketCommand, ListBucketsCommand, CreateMultipartUploadCommand,
  UploadPartCommand, CompleteMultipartUploadCommand, HeadBucketCommand, GetBucketLocationCommand, S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { s3Error } from '../helpers/s3-error.ts';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';

let fg: TestFedgate;
let s3: S3Client;

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'sdk' }));
});
after(async () => fg?.stop());


test('PutObject with a stream body (aws-chunked + CRC32 trailer) stores exactly the bytes', async () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const put = await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'stream.bin', Body: Readable.from([data.subarray(0, 1000), data.subarray(1000)]), ContentLength: data.length }));
  assert.equal(put.ETag, `"${createHash('md5').update(data).digest('hex')}"`);
  assert.ok(put.ChecksumCRC32, 'the CRC32 the SDK asked for is echoed');
  const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'stream.bin', ChecksumMode: 'ENABLED' }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data));
  assert.equal(got.ChecksumCRC32, put.ChecksumCRC32);
});

test('GetObject serves ranges, HeadObject metadata, conditional GET 304 / 412', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'meta.txt', Body: '0123456789', ContentType: 'text/plain', Metadata: { owner: 'ana' }, CacheControl: 'max-age=60' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'sdk', Key: 'meta.txt' }));
  assert.equal(head.ContentLength, 10);
  assert.equal(head.ContentType, 'text/plain');
  assert.equal(head.CacheControl, 'max-age=60');
  assert.deepEqual(head.Metadata, { owner: 'ana' });
  const r = await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'meta.txt', Range: 'bytes=-3' }));
  assert.equal(await r.Body!.transformToString(), '789');
  assert.equal(r.ContentRange, 'bytes 7-9/10');
  assert.deepEqual(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'meta.txt', Range: 'bytes=10-' }))), { name: 'InvalidRange', status: 416 });
  // A 304 has no body, so the SDK can only report the status (as it does against AWS).
  assert.equal((await s3Error(s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'meta.txt', IfNoneMatch: head.ETag })))).status, 304);
  assert.deepEqual(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'meta.txt', IfMatch: '"0000"' }))), { name: 'PreconditionFailed', status: 412 });
});

test('PutObject with If-None-Match: * lets exactly one creator win', async () => {
  const results = await Promise.allSettled(
    Array.from({ length: 8 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'race', Body: `writer ${i}`, IfNoneMatch: '*' }))),
  );
  const ok = results.filter((r) => r.status === 'fulfilled');
  assert.equal(ok.length, 1);
  for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as S3ServiceException).name, 'PreconditionFailed');
  const winner = results.indexOf(ok[0]);
  const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'race' }));
  assert.equal(await got.Body!.transformToString(), `writer ${winner}`);
});

test('ListObjectsV2 paginates with continuation tokens and groups common prefixes', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'listing' }));
  const keys = ['a/1', 'a/2', 'b', 'c/x/y', 'd', 'é'];
  for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: 'listing', Key: k, Body: k }));
  const seen: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', MaxKeys: 2, ContinuationToken: token }));
    seen.push(...(page.Contents ?? []).map((c) => c.Key!));
    token = page.NextContinuationToken;
    assert.equal(page.IsTruncated, token !== undefined);
  } while (token);
  assert.deepEqual(seen, keys);
  const grouped = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/' }));
  assert.deepEqual(grouped.CommonPrefixes!.map((p) => p.Prefix), ['a/', 'c/']);
  assert.deepEqual(grouped.Contents!.map((c) => c.Key), ['b', 'd', 'é']);
  const v1 = await s3.send(new ListObjectsCommand({ Bucket: 'listing', Marker: 'b', Prefix: '' }));
  assert.deepEqual(v1.Contents!.map((c) => c.Key), ['c/x/y', 'd', 'é']);
});

test('multipart upload with the SDK default CRC32: ETag md5-of-md5s-N and composite checksum', async () => {
  const p1 = randomBytes(5 * 1024 * 1024);
  const p2 = randomBytes(4321);
  const create = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'sdk', Key: 'mp.bin', ChecksumAlgorithm: 'CRC32' }));
  const u1 = await s3.send(new UploadPartCommand({ Bucket: 'sdk', Key: 'mp.bin', UploadId: create.UploadId, PartNumber: 1, Body: p1, ChecksumAlgorithm: 'CRC32' }));
  const u2 = await s3.send(new UploadPartCommand({ Bucket: 'sdk', Key: 'mp.bin', UploadId: create.UploadId, PartNumber: 2, Body: p2, ChecksumAlgorithm: 'CRC32' }));
  const done = await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: 'sdk',
      Key: 'mp.bin',
      UploadId: create.UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: u1.ETag, ChecksumCRC32: u1.ChecksumCRC32 }, { PartNumber: 2, ETag: u2.ETag, ChecksumCRC32: u2.ChecksumCRC32 }] },
    }),
  );
  const md5 = (b: Buffer) => createHash('md5').update(b).digest();
  assert.equal(done.ETag, `"${createHash('md5').update(Buffer.concat([md5(p1), md5(p2)])).digest('hex')}-2"`);
  assert.match(done.ChecksumCRC32 ?? '', /^[A-Za-z0-9+/]{6}==-2$/);
  const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'mp.bin' }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat([p1, p2])));
  const tail = await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'mp.bin', Range: `bytes=${p1.length - 3}-${p1.length + 2}` }));
  assert.ok(Buffer.from(await tail.Body!.transformToByteArray()).equals(Buffer.concat([p1, p2]).subarray(p1.length - 3, p1.length + 3)), 'a range across the part boundary');
});

test('CompleteMultipartUpload rejects a small middle part with EntityTooSmall and a wrong ETag with InvalidPart', async () => {
  const create = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'sdk', Key: 'bad.bin' }));
  const u1 = await s3.send(new UploadPartCommand({ Bucket: 'sdk', Key: 'bad.bin', UploadId: create.UploadId, PartNumber: 1, Body: 'small' }));
  const u2 = await s3.send(new UploadPartCommand({ Bucket: 'sdk', Key: 'bad.bin', UploadId: create.UploadId, PartNumber: 2, Body: 'tail' }));
  const complete = (parts: { PartNumber: number; ETag?: string }[]) => s3.send(new CompleteMultipartUploadCommand({ Bucket: 'sdk', Key: 'bad.bin', UploadId: create.UploadId, MultipartUpload: { Parts: parts } }));
  assert.equal((await s3Error(complete([{ PartNumber: 1, ETag: u1.ETag }, { PartNumber: 2, ETag: u2.ETag }]))).name, 'EntityTooSmall');
  assert.equal((await s3Error(complete([{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }]))).name, 'InvalidPart');
  assert.equal((await s3Error(complete([{ PartNumber: 2, ETag: u2.ETag }, { PartNumber: 1, ETag: u1.ETag }]))).name, 'InvalidPartOrder');
  assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'sdk', Key: 'bad.bin' })))).status, 404);
});

test('CopyObject is zero-copy and REPLACE changes metadata', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'src', Body: 'copy me', Metadata: { v: '1' } }));
  await s3.send(new CopyObjectCommand({ Bucket: 'sdk', Key: 'dst', CopySource: 'sdk/src' }));
  const src = await fg.admin('GET', '/admin/replicas?tenant=root&bucket=sdk&key=src');
  const dst = await fg.admin('GET', '/admin/replicas?tenant=root&bucket=sdk&key=dst');
  assert.equal(dst.json.parts[0].chunkId, src.json.parts[0].chunkId, 'the copy references the same chunk');
  await s3.send(new CopyObjectCommand({ Bucket: 'sdk', Key: 'src', CopySource: 'sdk/src', MetadataDirective: 'REPLACE', Metadata: { v: '2' } }));
  assert.deepEqual((await s3.send(new HeadObjectCommand({ Bucket: 'sdk', Key: 'src' }))).Metadata, { v: '2' });
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'dst' }))).Body!.transformToString(), 'copy me');
  assert.equal((await s3Error(s3.send(new CopyObjectCommand({ Bucket: 'sdk', Key: 'src', CopySource: 'sdk/src' })))).name, 'InvalidRequest');
});

test('bucket errors: InvalidBucketName, BucketAlreadyOwnedByYou, NoSuchBucket, BucketNotEmpty', async () => {
  assert.equal((await s3Error(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).name, 'InvalidBucketName');
  assert.equal((await s3Error(s3.send(new CreateBucketCommand({ Bucket: 'sdk' })))).name, 'BucketAlreadyOwnedByYou');
  assert.equal((await s3Error(s3.send(new ListObjectsV2Command({ Bucket: 'nope-nope' })))).name, 'NoSuchBucket');
  assert.equal((await s3Error(s3.send(new DeleteBucketCommand({ Bucket: 'sdk' })))).name, 'BucketNotEmpty');
  const loc = await s3.send(new GetBucketLocationCommand({ Bucket: 'sdk' }));
  assert.equal(loc.LocationConstraint ?? '', '');
  await s3.send(new HeadBucketCommand({ Bucket: 'sdk' }));
});

test('DeleteObjects deletes in batch and DeleteObject of a missing key succeeds', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'd1', Body: '1' }));
  await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'd2', Body: '2' }));
  const r = await s3.send(new DeleteObjectsCommand({ Bucket: 'sdk', Delete: { Objects: [{ Key: 'd1' }, { Key: 'd2' }] } }));
  assert.deepEqual(r.Deleted!.map((d) => d.Key).sort(), ['d1', 'd2']);
  await s3.send(new DeleteObjectCommand({ Bucket: 'sdk', Key: 'never-existed' }));
  assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'sdk', Key: 'd1' })))).status, 404);
});

test('tenant isolation: two tenants each own "photos" and neither sees the other', async () => {
  const alice = (await fg.admin('POST', '/admin/tenants', { name: 'alice' })).json;
  const bob = (await fg.admin('POST', '/admin/tenants', { name: 'bob' })).json;
  assert.match(alice.accessKeyId, /^[A-Z0-9]{20}$/);
  const a = fg.client(alice);
  const b = fg.client(bob);
  await a.send(new CreateBucketCommand({ Bucket: 'photos' }));
  await b.send(new CreateBucketCommand({ Bucket: 'photos' }));
  await a.send(new PutObjectCommand({ Bucket: 'photos', Key: 'secret.jpg', Body: 'alice only' }));
  assert.equal((await b.send(new ListObjectsV2Command({ Bucket: 'photos' }))).KeyCount, 0);
  assert.equal((await s3Error(b.send(new GetObjectCommand({ Bucket: 'photos', Key: 'secret.jpg' })))).name, 'NoSuchKey');
  await b.send(new PutObjectCommand({ Bucket: 'photos', Key: 'secret.jpg', Body: 'bob' }));
  assert.equal(await (await a.send(new GetObjectCommand({ Bucket: 'photos', Key: 'secret.jpg' }))).Body!.transformToString(), 'alice only');
  assert.deepEqual((await b.send(new ListBucketsCommand({}))).Buckets!.map((x) => x.Name), ['photos']);
  const second = (await fg.admin('POST', '/admin/tenants/alice/keys')).json;
  assert.notEqual(second.accessKeyId, alice.accessKeyId);
  assert.equal(await (await fg.client(second).send(new GetObjectCommand({ Bucket: 'photos', Key: 'secret.jpg' }))).Body!.transformToString(), 'alice only', "a tenant's second key sees the same data");
  assert.equal((await s3Error(b.send(new ListObjectsV2Command({ Bucket: 'sdk' })))).name, 'NoSuchBucket');
});

test('SigV4: wrong secret, unknown key, clock skew and an expired presigned URL are refused', async () => {
  const wrong = fg.client({ accessKeyId: fg.accessKeyId, secretAccessKey: 'not-the-secret-at-all' });
  assert.deepEqual(await s3Error(wrong.send(new ListBucketsCommand({}))), { name: 'SignatureDoesNotMatch', status: 403 });
  const unknown = fg.client({ accessKeyId: 'AKIDUNKNOWN000000000', secretAccessKey: 'x'.repeat(40) });
  assert.deepEqual(await s3Error(unknown.send(new ListBucketsCommand({}))), { name: 'InvalidAccessKeyId', status: 403 });
  const skewed = new S3Client({ endpoint: fg.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: fg.accessKeyId, secretAccessKey: fg.secretAccessKey }, systemClockOffset: -20 * 60 * 1000, maxAttempts: 1 });
  assert.deepEqual(await s3Error(skewed.send(new ListBucketsCommand({}))), { name: 'RequestTimeTooSkewed', status: 403 });
  skewed.destroy();
  await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'presigned', Body: 'p' }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'sdk', Key: 'presigned' }), { expiresIn: 1 });
  assert.equal(await (await fetch(url)).text(), 'p');
  await new Promise((r) => setTimeout(r, 2100));
  const expired = await fetch(url);
  assert.equal(expired.status, 403);
  assert.match(await expired.text(), /<Code>AccessDenied<\/Code>/);
});

test('PutObject with a wrong trailing checksum answers BadDigest and leaves no object and no blob', async () => {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { Sha256 } = await import('@smithy/core/checksum');
  const url = new URL(`${fg.endpoint}/sdk/bad-trailer`);
  const data = Buffer.from('x'.repeat(1000));
  // aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER, as the SDKs send it — with a CRC32 that is not the data's.
  const body = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n')]);
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: fg.accessKeyId, secretAccessKey: fg.secretAccessKey }, sha256: Sha256, uriEscapePath: false });
  const signed = await signer.sign({
    method: 'PUT',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    headers: {
      host: url.host,
      'content-encoding': 'aws-chunked',
      'content-length': String(body.length),
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    },
  });
  const chunksBefore = (await fg.rt.pool.query('SELECT count(*)::int AS n FROM chunks')).rows[0].n;
  const res = await fetch(url, { method: 'PUT', headers: signed.headers, body });
  assert.equal(res.status, 400);
  assert.match(await res.text(), /<Code>BadDigest<\/Code>/);
  assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'sdk', Key: 'bad-trailer' })))).status, 404);
  // The blobs the quorum writer wrote before the trailer arrived are deleted again, rows and all.
  for (let i = 0; i < 50 && (await fg.rt.pool.query('SELECT count(*)::int AS n FROM chunks')).rows[0].n !== chunksBefore; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal((await fg.rt.pool.query('SELECT count(*)::int AS n FROM chunks')).rows[0].n, chunksBefore);
});

test('the audit chain of S3 requests verifies through the admin API, and a tampered entry is reported', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'audited', Body: 'a' }));
  const ok = await fg.admin('GET', '/admin/audit/verify');
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal(ok.json.ok, true);
  assert.ok(ok.json.checked > 0);
  const { rows } = await fg.rt.pool.query<{ id: number }>("SELECT id FROM audit_log WHERE plane = 's3' AND resource = '/sdk/audited' ORDER BY id DESC LIMIT 1");
  // Tampering needs the superuser to lift the append-only trigger first, as an attacker with DB access would.
  await fg.rt.pool.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
  await fg.rt.pool.query("UPDATE audit_log SET result = '403' WHERE id = $1", [rows[0].id]);
  await fg.rt.pool.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
  const bad = await fg.admin('GET', '/admin/audit/verify');
  assert.equal(bad.status, 409);
  assert.equal(bad.json.ok, false);
  assert.equal(bad.json.brokenAt, rows[0].id);
});
