// Conditional writes (S3 User Guide, "How to prevent object overwrites with conditional
// writes"): If-None-Match: * and If-Match on PutObject, CompleteMultipartUpload and
// CopyObject, decided in the metadata commit — through the SDK against a whole Fedgate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { s3Error } from '../helpers/s3-error.ts';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';

let fg: TestFedgate;
let s3: S3Client;
before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'cond' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'cond-versioned' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'cond-versioned', VersioningConfiguration: { Status: 'Enabled' } }));
});
after(async () => {
  await fg?.stop();
});


const PRECONDITION = { name: 'PreconditionFailed', status: 412 };

for (const bucket of ['cond', 'cond-versioned']) {
  test(`20 SDK clients racing to create one key with If-None-Match: * in ${bucket}: exactly one 200, 19 × 412, and the stored bytes are the winner's`, async () => {
    const clients = Array.from({ length: 20 }, () => fg.client());
    const bodies = clients.map((_, i) => `racer ${i} ${'x'.repeat(i * 37)}`);
    const results = await Promise.allSettled(clients.map((c, i) => c.send(new PutObjectCommand({ Bucket: bucket, Key: 'contended', Body: bodies[i], IfNoneMatch: '*' }))));
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    assert.equal(winners.length, 1);
    assert.equal(winners.length + results.filter((r) => r.status === 'rejected').length, 20);
    for (const r of results) {
      if (r.status !== 'rejected') continue;
      const e = r.reason as S3ServiceException;
      assert.deepEqual({ name: e.name, status: e.$metadata.httpStatusCode }, PRECONDITION);
    }
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'contended' }));
    assert.equal(await got.Body!.transformToString(), bodies[winners[0]]);
    assert.equal(got.ETag, (results[winners[0]] as PromiseFulfilledResult<{ ETag?: string }>).value.ETag);
  });
}

test('PutObject If-Match: the current ETag succeeds, another ETag is 412, and a missing key is 404 NoSuchKey', async () => {
  const first = await s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'im', Body: 'one' }));
  assert.deepEqual(await s3Error(s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'im', Body: 'two', IfMatch: '"00000000000000000000000000000000"' }))), PRECONDITION);
  const second = await s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'im', Body: 'two', IfMatch: first.ETag }));
  assert.notEqual(second.ETag, first.ETag);
  // Stale ETag after the overwrite: the optimistic-concurrency loser.
  assert.deepEqual(await s3Error(s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'im', Body: 'three', IfMatch: first.ETag }))), PRECONDITION);
  assert.deepEqual(await s3Error(s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'absent', Body: 'x', IfMatch: first.ETag }))), { name: 'NoSuchKey', status: 404 });
  const got = await s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'im' }));
  assert.equal(await got.Body!.transformToString(), 'two');
});

test('If-None-Match: * succeeds over a delete marker in a versioned bucket', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'cond-versioned', Key: 'gone', Body: 'old' }));
  await s3.send(new DeleteObjectCommand({ Bucket: 'cond-versioned', Key: 'gone' }));
  const r = await s3.send(new PutObjectCommand({ Bucket: 'cond-versioned', Key: 'gone', Body: 'new', IfNoneMatch: '*' }));
  assert.match(r.VersionId!, /^[0-9a-f]{32}$/);
});

async function multipart(key: string, body: string) {
  const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'cond', Key: key }));
  const part = await s3.send(new UploadPartCommand({ Bucket: 'cond', Key: key, UploadId: up.UploadId, PartNumber: 1, Body: body }));
  return { uploadId: up.UploadId!, parts: [{ PartNumber: 1, ETag: part.ETag }] };
}

test('CompleteMultipartUpload honours If-None-Match: * and If-Match against the key it completes', async () => {
  const a = await multipart('mpu', 'first');
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'cond', Key: 'mpu', UploadId: a.uploadId, MultipartUpload: { Parts: a.parts }, IfNoneMatch: '*' }));
  const current = await s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'mpu' }));
  assert.equal(await current.Body!.transformToString(), 'first');

  const b = await multipart('mpu', 'second');
  assert.deepEqual(
    await s3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'cond', Key: 'mpu', UploadId: b.uploadId, MultipartUpload: { Parts: b.parts }, IfNoneMatch: '*' }))),
    PRECONDITION,
  );
  assert.deepEqual(
    await s3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'cond', Key: 'mpu', UploadId: b.uploadId, MultipartUpload: { Parts: b.parts }, IfMatch: '"ffffffffffffffffffffffffffffffff-1"' }))),
    PRECONDITION,
  );
  // The failed attempts left the upload in place: completing with the right ETag works.
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'cond', Key: 'mpu', UploadId: b.uploadId, MultipartUpload: { Parts: b.parts }, IfMatch: current.ETag }));
  const after2 = await s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'mpu' }));
  assert.equal(await after2.Body!.transformToString(), 'second');
});

test('CopyObject decides If-None-Match: * and If-Match on the destination', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'src', Body: 'source bytes' }));
  const dest = await s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'dst', Body: 'dest bytes' }));
  assert.deepEqual(await s3Error(s3.send(new CopyObjectCommand({ Bucket: 'cond', Key: 'dst', CopySource: 'cond/src', IfNoneMatch: '*' }))), PRECONDITION);
  assert.deepEqual(await s3Error(s3.send(new CopyObjectCommand({ Bucket: 'cond', Key: 'dst', CopySource: 'cond/src', IfMatch: '"0123"' }))), PRECONDITION);
  await s3.send(new CopyObjectCommand({ Bucket: 'cond', Key: 'dst', CopySource: 'cond/src', IfMatch: dest.ETag }));
  const got = await s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'dst' }));
  assert.equal(await got.Body!.transformToString(), 'source bytes');
  await s3.send(new CopyObjectCommand({ Bucket: 'cond', Key: 'fresh-copy', CopySource: 'cond/src', IfNoneMatch: '*' }));
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'fresh-copy' }))).Body!.transformToString(), 'source bytes');
});

const CONFLICT = { name: 'ConditionalRequestConflict', status: 409 };

test('PutObject If-Match whose key is deleted while the body uploads: 409 ConditionalRequestConflict, and nothing is stored', async () => {
  const first = await s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'deleted-mid-upload', Body: 'one' }));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const body = Readable.from(
    (async function* () {
      yield Buffer.alloc(64 * 1024, 1);
      await gate;
      yield Buffer.alloc(64 * 1024, 2);
    })(),
  );
  const upload = s3Error(s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'deleted-mid-upload', Body: body, ContentLength: 128 * 1024, IfMatch: first.ETag })));
  await new Promise((r) => setTimeout(r, 300));
  await s3.send(new DeleteObjectCommand({ Bucket: 'cond', Key: 'deleted-mid-upload' }));
  release();
  assert.deepEqual(await upload, CONFLICT);
  assert.deepEqual(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'deleted-mid-upload' }))), { name: 'NoSuchKey', status: 404 });
  // A retry now gets the verdict on the key as it is: no current object to match.
  assert.deepEqual(await s3Error(s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'deleted-mid-upload', Body: 'two', IfMatch: first.ETag }))), { name: 'NoSuchKey', status: 404 });
});

for (const bucket of ['cond', 'cond-versioned']) {
  test(`CompleteMultipartUpload If-None-Match: * after the key was deleted during the upload in ${bucket}: 409 ConditionalRequestConflict; the upload stays`, async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'mpu-deleted', Body: 'old' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mpu-deleted' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mpu-deleted', UploadId, PartNumber: 1, Body: 'new bytes' }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'mpu-deleted' }));
    const complete = () =>
      s3.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mpu-deleted', UploadId, IfNoneMatch: '*', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
      );
    assert.deepEqual(await s3Error(complete()), CONFLICT);
    const gone = await s3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mpu-deleted' })));
    assert.deepEqual({ name: gone.name, status: gone.status }, { name: 'NoSuchKey', status: 404 });
    // The refused Complete left the upload as it was: the client can abort it (S3: re-initiate).
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mpu-deleted', UploadId }));
  });
}
