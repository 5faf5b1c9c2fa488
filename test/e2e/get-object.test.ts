// The rest of GetObject / HeadObject against a whole Fedgate: Range forms, 416, partNumber
// (GET and HEAD of a part), response-* overrides, conditional reads, and HEAD errors without a
// body. AWS behaviour: GetObject and HeadObject API references, RFC 9110 §14 (ranges).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { errorFields, signedFetch } from '../helpers/signed-fetch.ts';

const MiB = 1024 * 1024;
let fg: TestFedgate;
let s3: S3Client;
const small = Buffer.from('0123456789abcdefghij'); // 20 bytes
const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1000)];
let mpEtag = '';

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'reads' }));
  await s3.send(new PutObjectCommand({ Bucket: 'reads', Key: 'small.txt', Body: small, ContentType: 'text/plain', CacheControl: 'no-cache' }));
  await s3.send(new PutObjectCommand({ Bucket: 'reads', Key: 'empty', Body: Buffer.alloc(0) }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'reads', Key: 'multi.bin' }));
  const done = [];
  for (let i = 0; i < parts.length; i++) {
    const r = await s3.send(new UploadPartCommand({ Bucket: 'reads', Key: 'multi.bin', UploadId, PartNumber: i + 1, Body: parts[i] }));
    done.push({ PartNumber: i + 1, ETag: r.ETag });
  }
  mpEtag = (await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'reads', Key: 'multi.bin', UploadId, MultipartUpload: { Parts: done } }))).ETag!;
});

after(async () => {
  await fg?.stop();
});

const get = (key: string, headers: Record<string, string> = {}, query = '') => signedFetch(fg, 'GET', `/reads/${key}${query}`, { headers });
const head = (key: string, headers: Record<string, string> = {}, query = '') => signedFetch(fg, 'HEAD', `/reads/${key}${query}`, { headers });

test('Range forms: closed, open-ended, suffix, end past the size', async () => {
  const cases: [string, string, string][] = [
    ['bytes=2-5', '2345', 'bytes 2-5/20'],
    ['bytes=15-', 'fghij', 'bytes 15-19/20'],
    ['bytes=-3', 'hij', 'bytes 17-19/20'],
    ['bytes=18-100', 'ij', 'bytes 18-19/20'],
    ['bytes=-100', small.toString(), 'bytes 0-19/20'],
  ];
  for (const [range, body, contentRange] of cases) {
    const r = await get('small.txt', { range });
    assert.equal(r.status, 206, range);
    assert.equal(r.text, body, range);
    assert.equal(r.headers.get('content-range'), contentRange, range);
    assert.equal(r.headers.get('content-length'), String(body.length), range);
  }
});

test('a Range S3 ignores (multiple ranges, last < first, not bytes) returns the whole object with 200', async () => {
  for (const range of ['bytes=0-1,4-5', 'bytes=5-2', 'items=0-1']) {
    const r = await get('small.txt', { range });
    assert.equal(r.status, 200, range);
    assert.equal(r.text, small.toString(), range);
  }
});

test('an unsatisfiable Range is 416 InvalidRange with the size, on a full and an empty object', async () => {
  for (const [key, size, range] of [['small.txt', 20, 'bytes=20-30'], ['small.txt', 20, 'bytes=-0'], ['empty', 0, 'bytes=0-10']] as const) {
    const r = await get(key, { range });
    assert.equal(r.status, 416, `${key} ${range}`);
    assert.equal(r.headers.get('content-range'), `bytes */${size}`);
    const f = errorFields(r.text);
    assert.deepEqual([f.Code, f.Message, f.RangeRequested, f.ActualObjectSize], ['InvalidRange', 'The requested range is not satisfiable', range, String(size)]);
    assert.equal(f.Resource, `/reads/${key}`);
    assert.equal(f.RequestId, r.headers.get('x-amz-request-id'));
  }
});

test('GET with partNumber returns that part with 206, Content-Range and the parts count', async () => {
  const offsets = [0, 5 * MiB, 10 * MiB];
  for (let n = 1; n <= 3; n++) {
    const r = await signedFetch(fg, 'GET', `/reads/multi.bin?partNumber=${n}`);
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('x-amz-mp-parts-count'), '3');
    const size = parts[n - 1].length;
    assert.equal(r.headers.get('content-range'), `bytes ${offsets[n - 1]}-${offsets[n - 1] + size - 1}/${10 * MiB + 1000}`);
    assert.equal(r.headers.get('etag'), mpEtag, 'the ETag is the whole object\'s');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'reads', Key: 'multi.bin', PartNumber: n }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    assert.equal(createHash('md5').update(bytes).digest('hex'), createHash('md5').update(parts[n - 1]).digest('hex'), `part ${n}`);
  }
});

test('HEAD of a part answers its length, Content-Range and parts count without a body', async () => {
  const r = await head('multi.bin', {}, '?partNumber=2');
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-length'), String(5 * MiB));
  assert.equal(r.headers.get('content-range'), `bytes ${5 * MiB}-${10 * MiB - 1}/${10 * MiB + 1000}`);
  assert.equal(r.headers.get('x-amz-mp-parts-count'), '3');
  assert.equal(r.text, '');
  const sdk = await s3.send(new HeadObjectCommand({ Bucket: 'reads', Key: 'multi.bin', PartNumber: 3 }));
  assert.deepEqual([sdk.ContentLength, sdk.PartsCount], [1000, 3]);
});

test('partNumber 1 of a single-part object is the whole object', async () => {
  const r = await get('small.txt', {}, '?partNumber=1');
  assert.equal(r.text, small.toString());
  assert.equal(r.headers.get('content-range'), 'bytes 0-19/20');
  assert.equal(r.headers.get('x-amz-mp-parts-count'), null);
});

test('partNumber errors: beyond the parts is 416 InvalidPartNumber, 0 or junk InvalidArgument, with Range InvalidRequest', async () => {
  let r = await get('multi.bin', {}, '?partNumber=4');
  assert.deepEqual([r.status, errorFields(r.text).Code, errorFields(r.text).Message], [416, 'InvalidPartNumber', 'The requested partnumber is not satisfiable']);
  for (const bad of ['0', '10001', 'x']) {
    r = await get('multi.bin', {}, `?partNumber=${bad}`);
    const f = errorFields(r.text);
    assert.deepEqual([r.status, f.Code, f.ArgumentName, f.ArgumentValue], [400, 'InvalidArgument', 'partNumber', bad], bad);
  }
  r = await get('multi.bin', { range: 'bytes=0-1' }, '?partNumber=1');
  assert.deepEqual([r.status, errorFields(r.text).Code], [400, 'InvalidRequest']);
  r = await head('multi.bin', {}, '?partNumber=9');
  assert.deepEqual([r.status, r.text], [416, ''], 'HEAD errors carry no body');
});

test('response-* overrides replace the stored headers on GET', async () => {
  const q = new URLSearchParams({
    'response-content-type': 'application/x-test',
    'response-content-language': 'de',
    'response-expires': 'Wed, 21 Oct 2099 07:28:00 GMT',
    'response-cache-control': 'max-age=60',
    'response-content-disposition': 'attachment; filename="a b.txt"',
    'response-content-encoding': 'identity',
  });
  const r = await get('small.txt', {}, `?${q.toString().replace(/\+/g, '%20')}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/x-test');
  assert.equal(r.headers.get('content-language'), 'de');
  assert.equal(r.headers.get('expires'), 'Wed, 21 Oct 2099 07:28:00 GMT');
  assert.equal(r.headers.get('cache-control'), 'max-age=60');
  assert.equal(r.headers.get('content-disposition'), 'attachment; filename="a b.txt"');
  assert.equal(r.headers.get('content-encoding'), 'identity');
  const plain = await get('small.txt');
  assert.deepEqual([plain.headers.get('content-type'), plain.headers.get('cache-control')], ['text/plain', 'no-cache']);
  // The SDK's own override parameters, through a presigned URL as a browser would use them.
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'reads', Key: 'small.txt', ResponseContentType: 'image/png', ResponseContentDisposition: 'inline' }), { expiresIn: 60 });
  const viaUrl = await fetch(url);
  assert.deepEqual([viaUrl.status, viaUrl.headers.get('content-type'), viaUrl.headers.get('content-disposition')], [200, 'image/png', 'inline']);
  await viaUrl.arrayBuffer();
});

test('conditional reads: If-None-Match 304, If-Match 412 PreconditionFailed, HEAD 412 without a body', async () => {
  const etag = (await head('small.txt')).headers.get('etag')!;
  let r = await get('small.txt', { 'if-none-match': etag });
  assert.deepEqual([r.status, r.text], [304, '']);
  r = await get('small.txt', { 'if-match': '"0000"' });
  assert.deepEqual([r.status, errorFields(r.text).Code, errorFields(r.text).Condition], [412, 'PreconditionFailed', 'If-Match']);
  r = await head('small.txt', { 'if-match': '"0000"' });
  assert.deepEqual([r.status, r.text], [412, '']);
});

test('HEAD of a missing key or bucket is 404 with no body; GET names the key', async () => {
  let r = await head('nope');
  assert.deepEqual([r.status, r.text], [404, '']);
  r = await signedFetch(fg, 'HEAD', '/no-such-bucket-here/x');
  assert.deepEqual([r.status, r.text], [404, '']);
  r = await get('nope');
  const f = errorFields(r.text);
  assert.deepEqual([r.status, f.Code, f.Message, f.Key, f.Resource], [404, 'NoSuchKey', 'The specified key does not exist.', 'nope', '/reads/nope']);
});
