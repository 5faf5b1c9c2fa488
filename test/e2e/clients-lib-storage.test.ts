// @aws-sdk/lib-storage's Upload with default settings (5 MiB parts, 4 at once, CRC32 per
// part and a COMPOSITE checksum when the client computes checksums) from a Buffer and from
// a stream of unknown length; and a presigned PUT from @aws-sdk/s3-request-presigner.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';

const MiB = 1024 * 1024;
let fg: TestFedgate;
let s3: S3Client;

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'libs' }));
});

after(async () => {
  await fg?.stop();
});

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

async function readBack(key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: 'libs', Key: key, ChecksumMode: 'ENABLED' }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

test('lib-storage Upload of a 12 MiB Buffer with default settings is a 3-part object with a CRC32 composite checksum', async () => {
  const data = randomBytes(12 * MiB);
  const parts: number[] = [];
  const up = new Upload({ client: s3, params: { Bucket: 'libs', Key: 'buf.bin', Body: data, ContentType: 'application/x-test' } });
  up.on('httpUploadProgress', (p) => p.part !== undefined && parts.push(p.part));
  const done = await up.done();
  assert.match(done.ETag ?? '', /^"[0-9a-f]{32}-3"$/);
  assert.deepEqual([...new Set(parts)].sort(), [1, 2, 3]);
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'libs', Key: 'buf.bin', ChecksumMode: 'ENABLED' }));
  assert.equal(head.ContentLength, 12 * MiB);
  assert.equal(head.ContentType, 'application/x-test');
  assert.match(head.ChecksumCRC32 ?? '', /-3$/);
  assert.equal(head.ChecksumType, 'COMPOSITE');
  assert.equal(md5(await readBack('buf.bin')), md5(data));
});

test('lib-storage Upload of a stream of unknown length', async () => {
  const chunks = Array.from({ length: 7 }, () => randomBytes(MiB + 17));
  const done = await new Upload({ client: s3, params: { Bucket: 'libs', Key: 'stream.bin', Body: Readable.from(chunks) } }).done();
  assert.match(done.ETag ?? '', /-2"$/);
  assert.equal(md5(await readBack('stream.bin')), md5(Buffer.concat(chunks)));
});

test('lib-storage Upload of a small body is a single PutObject', async () => {
  const done = await new Upload({ client: s3, params: { Bucket: 'libs', Key: 'small.txt', Body: 'tiny' } }).done();
  assert.equal(done.ETag, `"${md5(Buffer.from('tiny'))}"`);
});

test('a presigned PUT URL uploads with plain fetch, and expires', async () => {
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'libs', Key: 'presigned/put.txt' }), { expiresIn: 60 });
  const res = await fetch(url, { method: 'PUT', body: 'put through a presigned URL' });
  assert.equal(res.status, 200, await res.text());
  assert.equal((await readBack('presigned/put.txt')).toString(), 'put through a presigned URL');
  const expired = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'libs', Key: 'presigned/late.txt' }), { expiresIn: 1, signingDate: new Date(Date.now() - 60_000) });
  const late = await fetch(expired, { method: 'PUT', body: 'late' });
  assert.equal(late.status, 403);
  assert.match(await late.text(), /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
});
