// Object integrity end to end with the real SDK: every algorithm in headers and trailers,
// x-amz-checksum-mode on GET / HEAD, COMPOSITE and FULL_OBJECT multipart checksums, and the
// exact errors for bad values. AWS behaviour: "Checking object integrity" (S3 user guide) and
// the PutObject / CreateMultipartUpload / CompleteMultipartUpload / GetObject API references.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type ChecksumAlgorithm,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { errorFields, signedFetch } from '../helpers/signed-fetch.ts';
import { checksumBase64 } from '../../shared/checksums/index.ts';

const MiB = 1024 * 1024;
const ALGS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
const FIELD = { CRC32: 'ChecksumCRC32', CRC32C: 'ChecksumCRC32C', CRC64NVME: 'ChecksumCRC64NVME', SHA1: 'ChecksumSHA1', SHA256: 'ChecksumSHA256' } as const;
let fg: TestFedgate;
let s3: S3Client;

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'sums' }));
});

after(async () => {
  await fg?.stop();
});

async function s3Error(p: Promise<unknown>): Promise<{ code: string; status: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { code: err.name, status: err.$metadata?.httpStatusCode ?? 0, message: err.message };
  }
  assert.fail('expected an S3 error');
}

for (const alg of ALGS) {
  test(`PutObject with ${alg} stores the checksum; HEAD and GET with checksum mode return it`, async () => {
    const data = randomBytes(10_000);
    const expected = await checksumBase64(alg, data);
    const put = await s3.send(new PutObjectCommand({ Bucket: 'sums', Key: `put/${alg}`, Body: data, ChecksumAlgorithm: alg as ChecksumAlgorithm }));
    assert.equal(put[FIELD[alg]], expected);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'sums', Key: `put/${alg}`, ChecksumMode: 'ENABLED' }));
    assert.equal(head[FIELD[alg]], expected);
    assert.equal(head.ChecksumType, 'FULL_OBJECT');
    const plain = await s3.send(new HeadObjectCommand({ Bucket: 'sums', Key: `put/${alg}` }));
    assert.equal(plain[FIELD[alg]], undefined, 'no checksum without x-amz-checksum-mode');
    // The SDK validates the body against the returned checksum while reading it.
    const get = await s3.send(new GetObjectCommand({ Bucket: 'sums', Key: `put/${alg}`, ChecksumMode: 'ENABLED' }));
    assert.equal(get[FIELD[alg]], expected);
    assert.deepEqual(Buffer.from(await get.Body!.transformToByteArray()), data);
  });

  test(`PutObject with a wrong x-amz-checksum-${alg.toLowerCase()} header is BadDigest and stores nothing`, async () => {
    const data = Buffer.from('the bytes');
    const wrong = await checksumBase64(alg, Buffer.from('other bytes'));
    const r = await signedFetch(fg, 'PUT', `/sums/bad/${alg}`, { body: data, headers: { [`x-amz-checksum-${alg.toLowerCase()}`]: wrong } });
    assert.equal(r.status, 400);
    const f = errorFields(r.text);
    assert.equal(f.Code, 'BadDigest');
    assert.equal(f.Message, `The ${alg} you specified did not match the calculated checksum.`);
    assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'sums', Key: `bad/${alg}` })))).status, 404);
  });
}

test('every algorithm also arrives as an aws-chunked trailer (SDK streaming body) and is stored', async () => {
  for (const alg of ALGS) {
    const data = randomBytes(70_000);
    // A stream body of known length makes the SDK send STREAMING-UNSIGNED-PAYLOAD-TRAILER with x-amz-trailer.
    const put = await s3.send(new PutObjectCommand({ Bucket: 'sums', Key: `trailer/${alg}`, Body: Readable.from([data.subarray(0, 30_000), data.subarray(30_000)]), ContentLength: data.length, ChecksumAlgorithm: alg as ChecksumAlgorithm }));
    const expected = await checksumBase64(alg, data);
    assert.equal(put[FIELD[alg]], expected, alg);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'sums', Key: `trailer/${alg}`, ChecksumMode: 'ENABLED' }));
    assert.equal(head[FIELD[alg]], expected, alg);
  }
});

test('a checksum header whose value has the wrong length is InvalidRequest', async () => {
  const r = await signedFetch(fg, 'PUT', '/sums/badlen', { body: 'x', headers: { 'x-amz-checksum-crc32': 'AAAA' } });
  assert.equal(r.status, 400);
  assert.deepEqual([errorFields(r.text).Code, errorFields(r.text).Message], ['InvalidRequest', 'Value for x-amz-checksum-crc32 header is invalid.']);
});

test('two checksum headers on one PutObject are InvalidRequest', async () => {
  const body = Buffer.from('x');
  const r = await signedFetch(fg, 'PUT', '/sums/two', {
    body,
    headers: { 'x-amz-checksum-crc32': await checksumBase64('CRC32', body), 'x-amz-checksum-sha1': await checksumBase64('SHA1', body) },
  });
  assert.equal(r.status, 400);
  assert.deepEqual([errorFields(r.text).Code, errorFields(r.text).Message], ['InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.']);
});

test('a wrong Content-MD5 is BadDigest, a malformed one InvalidDigest', async () => {
  let r = await signedFetch(fg, 'PUT', '/sums/md5', { body: 'abc', headers: { 'content-md5': Buffer.alloc(16).toString('base64') } });
  assert.deepEqual([r.status, errorFields(r.text).Code], [400, 'BadDigest']);
  r = await signedFetch(fg, 'PUT', '/sums/md5', { body: 'abc', headers: { 'content-md5': 'nope' } });
  assert.deepEqual([r.status, errorFields(r.text).Code], [400, 'InvalidDigest']);
});

async function multipart(key: string, alg: ChecksumAlgorithm, type: 'FULL_OBJECT' | 'COMPOSITE', parts: Buffer[]) {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'sums', Key: key, ChecksumAlgorithm: alg, ChecksumType: type }));
  const done = [];
  for (let i = 0; i < parts.length; i++) {
    const r = await s3.send(new UploadPartCommand({ Bucket: 'sums', Key: key, UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm: alg }));
    assert.equal(r[FIELD[alg as keyof typeof FIELD]], await checksumBase64(alg as (typeof ALGS)[number], parts[i]), 'part checksum');
    done.push({ PartNumber: i + 1, ETag: r.ETag, [FIELD[alg as keyof typeof FIELD]]: r[FIELD[alg as keyof typeof FIELD]] });
  }
  return { UploadId: UploadId!, done };
}

for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
  test(`FULL_OBJECT multipart with ${alg}: the object's checksum is the ${alg} of all its bytes, without "-N"`, async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(1234)];
    const key = `full/${alg}`;
    const { UploadId, done } = await multipart(key, alg, 'FULL_OBJECT', parts);
    const whole = await checksumBase64(alg, Buffer.concat(parts));
    const c = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'sums', Key: key, UploadId, MultipartUpload: { Parts: done } }));
    assert.equal(c[FIELD[alg]], whole);
    assert.equal(c.ChecksumType, 'FULL_OBJECT');
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'sums', Key: key, ChecksumMode: 'ENABLED' }));
    assert.deepEqual([head[FIELD[alg]], head.ChecksumType], [whole, 'FULL_OBJECT']);
    // A full-object value has no "-N", so the SDK really validates the whole body against it.
    const get = await s3.send(new GetObjectCommand({ Bucket: 'sums', Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal((await get.Body!.transformToByteArray()).length, 5 * MiB + 1234);
  });
}

test('CompleteMultipartUpload with a wrong full-object checksum is BadDigest; the right one completes', async () => {
  const parts = [randomBytes(5 * MiB), randomBytes(10)];
  const { UploadId, done } = await multipart('full/claimed', 'CRC32', 'FULL_OBJECT', parts);
  const bad = await s3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'sums', Key: 'full/claimed', UploadId, ChecksumCRC32: 'AAAAAA==', ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: done } })));
  assert.deepEqual([bad.code, bad.status, bad.message], ['BadDigest', 400, 'The crc32 you specified did not match the calculated checksum.']);
  const mode = await s3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'sums', Key: 'full/claimed', UploadId, ChecksumType: 'COMPOSITE', MultipartUpload: { Parts: done } })));
  assert.deepEqual([mode.code, mode.status], ['BadDigest', 400]);
  const whole = await checksumBase64('CRC32', Buffer.concat(parts));
  const ok = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'sums', Key: 'full/claimed', UploadId, ChecksumCRC32: whole, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: done } }));
  assert.equal(ok.ChecksumCRC32, whole);
});

test('COMPOSITE multipart with SHA256: "-N" value on the object, each part\'s own value with partNumber', async () => {
  const parts = [randomBytes(5 * MiB), randomBytes(777)];
  const { UploadId, done } = await multipart('comp/sha', 'SHA256', 'COMPOSITE', parts);
  const c = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'sums', Key: 'comp/sha', UploadId, MultipartUpload: { Parts: done } }));
  const partSums = await Promise.all(parts.map((p) => checksumBase64('SHA256', p)));
  const composite = `${await checksumBase64('SHA256', Buffer.concat(partSums.map((s) => Buffer.from(s, 'base64'))))}-2`;
  assert.deepEqual([c.ChecksumSHA256, c.ChecksumType], [composite, 'COMPOSITE']);
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'sums', Key: 'comp/sha', ChecksumMode: 'ENABLED' }));
  assert.deepEqual([head.ChecksumSHA256, head.ChecksumType], [composite, 'COMPOSITE']);
  for (const n of [1, 2]) {
    const part = await s3.send(new HeadObjectCommand({ Bucket: 'sums', Key: 'comp/sha', PartNumber: n, ChecksumMode: 'ENABLED' }));
    assert.equal(part.ChecksumSHA256, partSums[n - 1], `part ${n}`);
    // GET of a part: the SDK validates the part's bytes against the part checksum.
    const get = await s3.send(new GetObjectCommand({ Bucket: 'sums', Key: 'comp/sha', PartNumber: n, ChecksumMode: 'ENABLED' }));
    assert.equal(get.ChecksumSHA256, partSums[n - 1]);
    assert.deepEqual(Buffer.from(await get.Body!.transformToByteArray()), parts[n - 1]);
  }
  const ranged = await signedFetch(fg, 'GET', '/sums/comp/sha', { headers: { range: 'bytes=0-9', 'x-amz-checksum-mode': 'ENABLED' } });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers.get('x-amz-checksum-sha256'), null, 'a Range read carries no checksum');
});

test('CreateMultipartUpload refuses checksum type / algorithm pairs S3 refuses', async () => {
  const cases: [Record<string, string>, string][] = [
    [{ 'x-amz-checksum-algorithm': 'SHA1', 'x-amz-checksum-type': 'FULL_OBJECT' }, 'The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm.'],
    [{ 'x-amz-checksum-algorithm': 'SHA256', 'x-amz-checksum-type': 'FULL_OBJECT' }, 'The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm.'],
    [{ 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'COMPOSITE' }, 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.'],
    [{ 'x-amz-checksum-type': 'FULL_OBJECT' }, 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.'],
  ];
  for (const [headers, message] of cases) {
    const r = await signedFetch(fg, 'POST', '/sums/pairs?uploads', { headers });
    assert.equal(r.status, 400, JSON.stringify(headers));
    assert.deepEqual([errorFields(r.text).Code, errorFields(r.text).Message], ['InvalidRequest', message]);
  }
});

test('CreateMultipartUpload with CRC64NVME defaults to FULL_OBJECT, with CRC32 to COMPOSITE', async () => {
  const a = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'sums', Key: 'defaults/a', ChecksumAlgorithm: 'CRC64NVME' }));
  assert.deepEqual([a.ChecksumAlgorithm, a.ChecksumType], ['CRC64NVME', 'FULL_OBJECT']);
  const b = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'sums', Key: 'defaults/b', ChecksumAlgorithm: 'CRC32' }));
  assert.deepEqual([b.ChecksumAlgorithm, b.ChecksumType], ['CRC32', 'COMPOSITE']);
});
