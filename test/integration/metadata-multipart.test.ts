// Multipart uploads in the PostgreSQL MetadataStore: parts, Complete (with its
// InvalidPart / condition checks and garbage for unlisted parts), Abort, listings.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { UploadRow } from '../../metadata/index.ts';
import { compareUtf8 } from '../../metadata/repositories/key-order.ts';
import { beginChunk, garbageIds, META, putObject, sealed, setup, withoutParts, type Fixture } from './metadata-fixtures.ts';

let f: Fixture;
before(async () => {
  f = await setup();
});
after(async () => {
  await f.close();
});

async function createUpload(key: string, bucketId = f.bucket.id): Promise<UploadRow> {
  return f.store.createUpload({
    uploadId: randomUUID(),
    bucketId,
    key,
    contentType: 'video/mp4',
    headers: { 'content-disposition': 'inline' },
    userMetadata: { camera: 'x100' },
    storageClass: 'STANDARD',
    checksum: null,
    checksumAlgorithm: 'CRC32',
    checksumType: 'COMPOSITE',
  });
}

async function putPart(uploadId: string, partNumber: number, size: number, etag: string): Promise<string> {
  const chunkId = await beginChunk(f.store, f.bucket.id, f.backends);
  const part = await f.store.putUploadPart(f.bucket.id, uploadId, partNumber, sealed(chunkId, f.backends, size), etag, { CRC32: `crc-${partNumber}` });
  assert.equal(part.partNumber, partNumber);
  assert.equal(part.chunk.id, chunkId);
  return chunkId;
}

describe('upload parts', () => {
  test('createUpload stores the object metadata for Complete; getUpload returns it', async () => {
    const u = await createUpload('movies/a.mp4');
    assert.ok(u.initiated instanceof Date);
    assert.deepEqual(await f.store.getUpload(f.bucket.id, u.uploadId), u);
    assert.equal(u.contentType, 'video/mp4');
    assert.deepEqual(u.userMetadata, { camera: 'x100' });
    assert.equal(u.checksumAlgorithm, 'CRC32');
    assert.equal(u.checksumType, 'COMPOSITE');
    assert.equal(await f.store.getUpload(f.bucket.id, 'no-such-upload'), null);
    await assert.rejects(createUpload('x', '00000000-0000-4000-8000-000000000000'), { code: 'NoSuchBucket' });
  });

  test('putUploadPart replacing a part makes the previous chunk garbage; listUploadParts pages by part number', async () => {
    const u = await createUpload('movies/b.mp4');
    await putPart(u.uploadId, 1, 5, 'e1');
    const replaced = await putPart(u.uploadId, 2, 5, 'e2-old');
    await putPart(u.uploadId, 3, 2, 'e3');
    const replacement = await putPart(u.uploadId, 2, 5, 'e2');
    const garbage = await garbageIds(f.store);
    assert.ok(garbage.has(replaced));
    assert.ok(!garbage.has(replacement));

    const page1 = await f.store.listUploadParts(f.bucket.id, u.uploadId, { partNumberMarker: 0, maxParts: 2 });
    assert.deepEqual(
      page1.parts.map((p) => [p.partNumber, p.etag, p.size]),
      [
        [1, 'e1', 5],
        [2, 'e2', 5],
      ],
    );
    assert.equal(page1.isTruncated, true);
    assert.equal(page1.nextPartNumberMarker, 2);
    assert.deepEqual(page1.parts[0].checksums, { CRC32: 'crc-1' });
    const page2 = await f.store.listUploadParts(f.bucket.id, u.uploadId, { partNumberMarker: 2, maxParts: 2 });
    assert.deepEqual(
      page2.parts.map((p) => p.partNumber),
      [3],
    );
    assert.equal(page2.isTruncated, false);
    const all = await f.store.getUploadParts(f.bucket.id, u.uploadId);
    assert.deepEqual(
      all.map((p) => p.partNumber),
      [1, 2, 3],
    );
    assert.equal(all[1].chunk.id, replacement);
    assert.equal(all[1].etag, 'e2');
  });

  test('parts of an unknown upload fail with NoSuchUpload', async () => {
    const chunkId = await beginChunk(f.store, f.bucket.id, f.backends);
    await assert.rejects(f.store.putUploadPart(f.bucket.id, 'nope', 1, sealed(chunkId, f.backends, 1), 'e', {}), { code: 'NoSuchUpload' });
    await assert.rejects(f.store.listUploadParts(f.bucket.id, 'nope', { partNumberMarker: 0, maxParts: 10 }), { code: 'NoSuchUpload' });
    await assert.rejects(f.store.getUploadParts(f.bucket.id, 'nope'), { code: 'NoSuchUpload' });
    await assert.rejects(f.store.abortUpload(f.bucket.id, 'nope'), { code: 'NoSuchUpload' });
    await assert.rejects(f.store.completeUpload({ bucketId: f.bucket.id, uploadId: 'nope', parts: [{ partNumber: 1, etag: 'e' }], etag: 'x-1', size: 1, checksum: null }), {
      code: 'NoSuchUpload',
    });
  });
});

describe('completeUpload', () => {
  test('Complete builds the version from the listed parts with cumulative offsets; unlisted parts become garbage', async () => {
    const u = await createUpload('movies/c.mp4');
    const c1 = await putPart(u.uploadId, 1, 8, 'e1');
    const c2 = await putPart(u.uploadId, 2, 8, 'e2');
    const c3 = await putPart(u.uploadId, 3, 3, 'e3');
    const v = await f.store.completeUpload({
      bucketId: f.bucket.id,
      uploadId: u.uploadId,
      parts: [
        { partNumber: 1, etag: '"e1"' },
        { partNumber: 3, etag: 'e3' },
      ],
      etag: 'abc123-2',
      size: 11,
      checksum: { algorithm: 'CRC32', value: 'xyz=-2', type: 'COMPOSITE' },
    });
    assert.equal(v.key, 'movies/c.mp4');
    assert.equal(v.etag, 'abc123-2');
    assert.equal(v.size, 11);
    assert.equal(v.multipartParts, 2);
    assert.equal(v.contentType, 'video/mp4');
    assert.deepEqual(v.userMetadata, { camera: 'x100' });
    assert.deepEqual(v.headers, { 'content-disposition': 'inline' });
    assert.deepEqual(v.checksum, { algorithm: 'CRC32', value: 'xyz=-2', type: 'COMPOSITE' });
    const got = (await f.store.getObject(f.bucket.id, 'movies/c.mp4'))!;
    assert.deepEqual(
      got.parts.map((p) => [p.partNumber, p.offset, p.size, p.chunk.id]),
      [
        [1, 0, 8, c1],
        [3, 8, 3, c3],
      ],
    );
    assert.deepEqual(withoutParts(got), v);
    assert.equal(await f.store.getUpload(f.bucket.id, u.uploadId), null);
    const garbage = await garbageIds(f.store);
    assert.ok(garbage.has(c2));
    assert.ok(!garbage.has(c1) && !garbage.has(c3));
    await assert.rejects(f.store.completeUpload({ bucketId: f.bucket.id, uploadId: u.uploadId, parts: [{ partNumber: 1, etag: 'e1' }], etag: 'x', size: 8, checksum: null }), {
      code: 'NoSuchUpload',
    });
  });

  test('Complete refuses a missing part or a wrong ETag with InvalidPart and leaves the upload intact', async () => {
    const u = await createUpload('movies/d.mp4');
    await putPart(u.uploadId, 1, 4, 'e1');
    await putPart(u.uploadId, 2, 4, 'e2');
    const attempt = (parts: { partNumber: number; etag: string }[]) =>
      f.store.completeUpload({ bucketId: f.bucket.id, uploadId: u.uploadId, parts, etag: 'x-2', size: 8, checksum: null });
    await assert.rejects(
      attempt([
        { partNumber: 1, etag: 'e1' },
        { partNumber: 4, etag: 'e4' },
      ]),
      { code: 'InvalidPart' },
    );
    await assert.rejects(
      attempt([
        { partNumber: 1, etag: 'e1' },
        { partNumber: 2, etag: 'wrong' },
      ]),
      { code: 'InvalidPart' },
    );
    assert.equal((await f.store.getUploadParts(f.bucket.id, u.uploadId)).length, 2);
    assert.equal(await f.store.getObject(f.bucket.id, 'movies/d.mp4'), null);
  });

  test('Complete honours If-None-Match * and If-Match against the current object', async () => {
    await putObject(f, 'movies/e.mp4', { etag: 'existing' });
    const u = await createUpload('movies/e.mp4');
    await putPart(u.uploadId, 1, 4, 'e1');
    const complete = (condition: { ifNoneMatch?: '*'; ifMatch?: string }) =>
      f.store.completeUpload({ bucketId: f.bucket.id, uploadId: u.uploadId, parts: [{ partNumber: 1, etag: 'e1' }], etag: 'new-1', size: 4, checksum: null, condition });
    await assert.rejects(complete({ ifNoneMatch: '*' }), { code: 'PreconditionFailed' });
    await assert.rejects(complete({ ifMatch: 'other' }), { code: 'PreconditionFailed' });
    assert.equal((await f.store.getObject(f.bucket.id, 'movies/e.mp4'))!.etag, 'existing');
    assert.notEqual(await f.store.getUpload(f.bucket.id, u.uploadId), null);
    const v = await complete({ ifMatch: 'existing' });
    assert.equal(v.etag, 'new-1');
  });

  test('abortUpload drops the upload and turns its parts into garbage; the bucket is then deletable', async () => {
    const b = await f.store.createBucket({ tenantId: f.tenant.id, name: 'uploads-only', region: 'eu-west', physical: [] });
    const u = await createUpload('k', b.id);
    const chunkId = await beginChunk(f.store, b.id, f.backends);
    await f.store.putUploadPart(b.id, u.uploadId, 1, sealed(chunkId, f.backends, 3), 'e1', {});
    assert.ok(!(await garbageIds(f.store)).has(chunkId));
    await assert.rejects(f.store.deleteBucket(b.id), { code: 'BucketNotEmpty' });
    await f.store.abortUpload(b.id, u.uploadId);
    assert.equal(await f.store.getUpload(b.id, u.uploadId), null);
    assert.ok((await garbageIds(f.store)).has(chunkId));
    await assert.rejects(f.store.abortUpload(b.id, u.uploadId), { code: 'NoSuchUpload' });
    await f.store.deleteBucket(b.id);
  });

  test('a completed multipart object copies zero-copy and keeps its part count', async () => {
    const u = await createUpload('movies/f.mp4');
    await putPart(u.uploadId, 1, 4, 'e1');
    await f.store.completeUpload({ bucketId: f.bucket.id, uploadId: u.uploadId, parts: [{ partNumber: 1, etag: 'e1' }], etag: 'z-1', size: 4, checksum: null });
    const v = (await f.store.getObject(f.bucket.id, 'movies/f.mp4'))!;
    const committed = await f.store.commitObject({
      ...META,
      bucketId: f.bucket.id,
      key: 'movies/f-copy.mp4',
      size: v.size,
      etag: v.etag,
      multipartParts: v.multipartParts,
      parts: v.parts.map((p) => ({ partNumber: p.partNumber, size: p.size, etag: p.etag, checksums: p.checksums, chunk: { existingChunkId: p.chunk.id } })),
    });
    assert.equal(committed.multipartParts, 1);
    const copy = (await f.store.getObject(f.bucket.id, 'movies/f-copy.mp4'))!;
    assert.equal(copy.multipartParts, 1);
    assert.equal(copy.parts[0].chunk.id, v.parts[0].chunk.id);
  });
});

describe('listUploads', () => {
  let bucketId: string;
  const made: { key: string; uploadId: string }[] = [];
  before(async () => {
    const b = await f.store.createBucket({ tenantId: f.tenant.id, name: 'listing-uploads', region: 'eu-west', physical: [] });
    bucketId = b.id;
    const keys = ['a/1', 'a/2', 'a/2', 'b', 'b', 'b', 'c/d/e', 'c/x', 'é/1', '😀', 'z'];
    for (const key of keys) {
      const u = await createUpload(key, bucketId);
      made.push({ key, uploadId: u.uploadId });
      // Distinct initiation times (millisecond precision) for a deterministic order.
      await new Promise((r) => setTimeout(r, 3));
    }
  });

  test('uploads come ordered by key, then by initiation time', async () => {
    const r = await f.store.listUploads(bucketId, { maxUploads: 1000 });
    const expected = [...made].map((m, i) => ({ ...m, i })).sort((x, y) => compareUtf8(x.key, y.key) || x.i - y.i);
    assert.deepEqual(
      r.uploads.map((u) => [u.key, u.uploadId]),
      expected.map((m) => [m.key, m.uploadId]),
    );
    assert.equal(r.isTruncated, false);
    assert.deepEqual(r.commonPrefixes, []);
  });

  test('prefix and delimiter roll keys up into common prefixes', async () => {
    const r = await f.store.listUploads(bucketId, { delimiter: '/', maxUploads: 1000 });
    assert.deepEqual(r.commonPrefixes, ['a/', 'c/', 'é/']);
    assert.deepEqual(
      r.uploads.map((u) => u.key),
      ['b', 'b', 'b', 'z', '😀'],
    );
    const c = await f.store.listUploads(bucketId, { prefix: 'c/', delimiter: '/', maxUploads: 1000 });
    assert.deepEqual(c.commonPrefixes, ['c/d/']);
    assert.deepEqual(
      c.uploads.map((u) => u.key),
      ['c/x'],
    );
  });

  test('paging with nextKeyMarker / nextUploadIdMarker visits every entry once', async () => {
    for (const delimiter of [undefined, '/']) {
      const all = await f.store.listUploads(bucketId, { delimiter, maxUploads: 1000 });
      const expected = [...all.uploads.map((u) => u.uploadId), ...all.commonPrefixes];
      const seen: string[] = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (let i = 0; i < 100; i++) {
        const page = await f.store.listUploads(bucketId, { delimiter, keyMarker, uploadIdMarker, maxUploads: 2 });
        seen.push(...page.uploads.map((u) => u.uploadId), ...page.commonPrefixes);
        assert.ok(page.uploads.length + page.commonPrefixes.length <= 2);
        if (!page.isTruncated) break;
        keyMarker = page.nextKeyMarker!;
        uploadIdMarker = page.nextUploadIdMarker ?? undefined;
      }
      assert.deepEqual([...seen].sort(), [...expected].sort(), String(delimiter));
      assert.equal(seen.length, expected.length);
    }
  });

  test('markers sorting before the prefix still list only keys under the prefix', async () => {
    const aUpload = made.find((m) => m.key === 'a/1')!.uploadId;
    const r = await f.store.listUploads(bucketId, { prefix: 'c/', keyMarker: 'a/1', uploadIdMarker: aUpload, maxUploads: 1000 });
    assert.deepEqual(
      r.uploads.map((u) => u.key),
      ['c/d/e', 'c/x'],
    );
  });

  test('a key marker alone skips that key; maxUploads 0 answers an empty page', async () => {
    const r = await f.store.listUploads(bucketId, { keyMarker: 'b', maxUploads: 1000 });
    assert.equal(r.uploads[0].key, 'c/d/e');
    assert.deepEqual(await f.store.listUploads(bucketId, { maxUploads: 0 }), {
      uploads: [],
      commonPrefixes: [],
      isTruncated: false,
      nextKeyMarker: null,
      nextUploadIdMarker: null,
    });
  });

  test('an upload-id marker that no longer exists resumes after it in upload-id order within the key', async () => {
    const bs = made.filter((m) => m.key === 'b').map((m) => m.uploadId);
    const marker = [...bs].sort()[0];
    const gone = marker.slice(0, -1) + (marker.endsWith('0') ? '1' : '0');
    const r = await f.store.listUploads(bucketId, { keyMarker: 'b', uploadIdMarker: gone, maxUploads: 1000 });
    const expected = bs.filter((id) => id > gone);
    assert.deepEqual(
      r.uploads.filter((u) => u.key === 'b').map((u) => u.uploadId).sort(),
      expected.sort(),
    );
    assert.equal(r.uploads.filter((u) => u.key !== 'b')[0].key, 'c/d/e');
  });
});
