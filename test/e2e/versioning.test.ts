// Bucket versioning end to end through @aws-sdk/client-s3 against a whole Fedgate:
// Put/GetBucketVersioning, version ids on writes, GET / HEAD / DELETE by versionId,
// delete markers, ListObjectVersions, DeleteObjects with versions, CopyObject from a
// version, and suspended buckets (S3 User Guide, "Using versioning in S3 buckets").
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
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
});
after(async () => {
  await fg?.stop();
});


const text = async (bucket: string, key: string, versionId?: string) =>
  (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).Body!.transformToString();

test('GetBucketVersioning answers no Status until PutBucketVersioning sets Enabled, then Suspended', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'vstate' }));
  assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'vstate' }))).Status, undefined);
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'vstate', VersioningConfiguration: { Status: 'Enabled' } }));
  assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'vstate' }))).Status, 'Enabled');
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'vstate', VersioningConfiguration: { Status: 'Suspended' } }));
  assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'vstate' }))).Status, 'Suspended');
  assert.deepEqual(
    await s3Error(s3.send(new PutBucketVersioningCommand({ Bucket: 'no-such-bucket', VersioningConfiguration: { Status: 'Enabled' } }))),
    { name: 'NoSuchBucket', status: 404 },
  );
});

test('versions, delete markers and reads by versionId behave as in S3', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'ver' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'ver', VersioningConfiguration: { Status: 'Enabled' } }));
  const v1 = await s3.send(new PutObjectCommand({ Bucket: 'ver', Key: 'doc.txt', Body: 'one' }));
  const v2 = await s3.send(new PutObjectCommand({ Bucket: 'ver', Key: 'doc.txt', Body: 'two' }));
  assert.match(v1.VersionId!, /^[0-9a-f]{32}$/);
  assert.notEqual(v1.VersionId, v2.VersionId);
  assert.equal(await text('ver', 'doc.txt'), 'two');
  assert.equal(await text('ver', 'doc.txt', v1.VersionId), 'one');
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'ver', Key: 'doc.txt' }))).VersionId, v2.VersionId);
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: v1.VersionId }))).VersionId, v1.VersionId);

  const del = await s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'doc.txt' }));
  assert.equal(del.DeleteMarker, true);
  assert.match(del.VersionId!, /^[0-9a-f]{32}$/);
  // Latest is a delete marker: 404 NoSuchKey with x-amz-delete-marker; by its id: 405.
  assert.deepEqual(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt' }))), {
    name: 'NoSuchKey',
    status: 404,
    deleteMarker: 'true',
    versionId: del.VersionId,
  });
  assert.deepEqual(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: del.VersionId }))), {
    name: 'MethodNotAllowed',
    status: 405,
    deleteMarker: 'true',
    versionId: del.VersionId,
  });
  assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: del.VersionId })))).status, 405);
  assert.deepEqual(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: 'ffffffffffffffffffffffffffffffff' }))), { name: 'NoSuchVersion', status: 404 });
  assert.deepEqual(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: 'not a version' }))), { name: 'InvalidArgument', status: 400 });
  assert.deepEqual(await s3Error(s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: 'bogus' }))), { name: 'InvalidArgument', status: 400 });
  // ListObjectsV2 shows only latest non-delete-marker versions.
  assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'ver' }))).KeyCount, 0);

  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: 'ver' }));
  assert.deepEqual(
    listed.Versions!.map((v) => [v.Key, v.VersionId, v.IsLatest, v.Size]),
    [
      ['doc.txt', v2.VersionId, false, 3],
      ['doc.txt', v1.VersionId, false, 3],
    ],
  );
  assert.deepEqual(
    listed.DeleteMarkers!.map((d) => [d.Key, d.VersionId, d.IsLatest]),
    [['doc.txt', del.VersionId, true]],
  );

  // Deleting the marker by id brings v2 back; deleting v2 by id leaves v1.
  const undo = await s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: del.VersionId }));
  assert.deepEqual([undo.DeleteMarker, undo.VersionId], [true, del.VersionId]);
  assert.equal(await text('ver', 'doc.txt'), 'two');
  const gone = await s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: v2.VersionId }));
  assert.deepEqual([gone.DeleteMarker, gone.VersionId], [undefined, v2.VersionId]);
  assert.equal(await text('ver', 'doc.txt'), 'one');
  assert.deepEqual(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: v2.VersionId }))), { name: 'NoSuchVersion', status: 404 });
});

test('DeleteObjects reports delete markers created and version ids removed', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'vbatch' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'vbatch', VersioningConfiguration: { Status: 'Enabled' } }));
  const a = await s3.send(new PutObjectCommand({ Bucket: 'vbatch', Key: 'a', Body: 'a' }));
  await s3.send(new PutObjectCommand({ Bucket: 'vbatch', Key: 'b', Body: 'b' }));
  const r1 = await s3.send(new DeleteObjectsCommand({ Bucket: 'vbatch', Delete: { Objects: [{ Key: 'b' }, { Key: 'a', VersionId: a.VersionId }] } }));
  const byKey = new Map(r1.Deleted!.map((d) => [d.Key, d]));
  assert.equal(byKey.get('b')!.DeleteMarker, true);
  assert.match(byKey.get('b')!.DeleteMarkerVersionId!, /^[0-9a-f]{32}$/);
  assert.equal(byKey.get('a')!.VersionId, a.VersionId);
  assert.equal(byKey.get('a')!.DeleteMarker, undefined);
  const marker = byKey.get('b')!.DeleteMarkerVersionId!;
  const r2 = await s3.send(new DeleteObjectsCommand({ Bucket: 'vbatch', Delete: { Objects: [{ Key: 'b', VersionId: marker }, { Key: 'b', VersionId: 'abc' }] } }));
  assert.deepEqual(
    r2.Deleted!.map((d) => [d.Key, d.VersionId, d.DeleteMarker, d.DeleteMarkerVersionId]),
    [['b', marker, true, marker]],
  );
  assert.deepEqual(
    r2.Errors!.map((e) => [e.Key, e.VersionId, e.Code]),
    [['b', 'abc', 'NoSuchVersion']],
  );
  assert.equal(await text('vbatch', 'b'), 'b');
});

test('CopyObject from a source version answers x-amz-copy-source-version-id and the new version id', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'vcopy' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'vcopy', VersioningConfiguration: { Status: 'Enabled' } }));
  const old = await s3.send(new PutObjectCommand({ Bucket: 'vcopy', Key: 'src', Body: 'old bytes' }));
  await s3.send(new PutObjectCommand({ Bucket: 'vcopy', Key: 'src', Body: 'new bytes' }));
  const c = await s3.send(new CopyObjectCommand({ Bucket: 'vcopy', Key: 'dst', CopySource: `vcopy/src?versionId=${old.VersionId}` }));
  assert.equal(c.CopySourceVersionId, old.VersionId);
  assert.match(c.VersionId!, /^[0-9a-f]{32}$/);
  assert.equal(await text('vcopy', 'dst'), 'old bytes');
  const dm = await s3.send(new DeleteObjectCommand({ Bucket: 'vcopy', Key: 'src' }));
  assert.deepEqual(await s3Error(s3.send(new CopyObjectCommand({ Bucket: 'vcopy', Key: 'x', CopySource: 'vcopy/src' }))), { name: 'NoSuchKey', status: 404 });
  assert.deepEqual(await s3Error(s3.send(new CopyObjectCommand({ Bucket: 'vcopy', Key: 'x', CopySource: `vcopy/src?versionId=${dm.VersionId}` }))), { name: 'InvalidRequest', status: 400 });
});

test('a suspended bucket answers version id "null" on writes and deletes, replacing the null version only', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'vsusp' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'vsusp', VersioningConfiguration: { Status: 'Enabled' } }));
  const kept = await s3.send(new PutObjectCommand({ Bucket: 'vsusp', Key: 'k', Body: 'kept' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'vsusp', VersioningConfiguration: { Status: 'Suspended' } }));
  assert.equal((await s3.send(new PutObjectCommand({ Bucket: 'vsusp', Key: 'k', Body: 'n1' }))).VersionId, 'null');
  assert.equal((await s3.send(new PutObjectCommand({ Bucket: 'vsusp', Key: 'k', Body: 'n2' }))).VersionId, 'null');
  const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'vsusp', Key: 'm' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: 'vsusp', Key: 'm', UploadId: up.UploadId, PartNumber: 1, Body: 'mp' }));
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'vsusp', Key: 'm', UploadId: up.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  assert.equal(done.VersionId, 'null');
  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: 'vsusp', Prefix: 'k' }));
  assert.deepEqual(
    listed.Versions!.map((v) => [v.VersionId, v.IsLatest]),
    [
      ['null', true],
      [kept.VersionId, false],
    ],
  );
  assert.equal(await text('vsusp', 'k', 'null'), 'n2');
  const del = await s3.send(new DeleteObjectCommand({ Bucket: 'vsusp', Key: 'k' }));
  assert.deepEqual([del.DeleteMarker, del.VersionId], [true, 'null']);
  assert.equal(await text('vsusp', 'k', kept.VersionId), 'kept');
});

test('ListObjectVersions paginates with NextKeyMarker / NextVersionIdMarker and rolls up common prefixes', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'vlist' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'vlist', VersioningConfiguration: { Status: 'Enabled' } }));
  const keys = ['a', 'a', 'b/1', 'b/2', 'c', 'c', 'c'];
  for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: 'vlist', Key: k, Body: k }));
  await s3.send(new DeleteObjectCommand({ Bucket: 'vlist', Key: 'a' }));
  const full = await s3.send(new ListObjectVersionsCommand({ Bucket: 'vlist' }));
  const all = [...(full.Versions ?? []), ...(full.DeleteMarkers ?? [])].map((v) => `${v.Key}@${v.VersionId}`).sort();
  assert.equal(all.length, 8);
  const seen: string[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (let i = 0; i < 10; i++) {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: 'vlist', MaxKeys: 3, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
    seen.push(...[...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => `${v.Key}@${v.VersionId}`));
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
  assert.deepEqual(seen.sort(), all);
  const rolled = await s3.send(new ListObjectVersionsCommand({ Bucket: 'vlist', Delimiter: '/' }));
  assert.deepEqual(rolled.CommonPrefixes!.map((p) => p.Prefix), ['b/']);
  assert.deepEqual([...new Set(rolled.Versions!.map((v) => v.Key))], ['a', 'c']);
  assert.deepEqual(
    await s3Error(s3.send(new ListObjectVersionsCommand({ Bucket: 'vlist', VersionIdMarker: 'null' }))),
    { name: 'InvalidArgument', status: 400 },
  );
});
