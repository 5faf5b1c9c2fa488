// Objects in the PostgreSQL MetadataStore: the commit point, conditional writes under
// concurrency, overwrites and deletes that turn chunks into garbage, zero-copy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPgMetadataStore, MetadataError } from '../../metadata/index.ts';
import { beginChunk, garbageIds, META, putObject, sealed, setup, withoutParts, type Fixture } from './metadata-fixtures.ts';

let f: Fixture;
before(async () => {
  f = await setup();
});
after(async () => {
  await f.close();
});

describe('commitObject and getObject', () => {
  test('a committed object reads back with its metadata, parts, chunk and blobs', async () => {
    const chunkId = await beginChunk(f.store, f.bucket.id, f.backends);
    const committed = await f.store.commitObject({
      bucketId: f.bucket.id,
      key: 'docs/readme.txt',
      size: 11,
      etag: '5eb63bbbe01eeed093cb22bb8f5acdc3',
      multipartParts: null,
      contentType: 'text/plain',
      headers: { 'cache-control': 'no-cache' },
      userMetadata: { author: 'ada' },
      storageClass: 'STANDARD',
      checksum: { algorithm: 'CRC32', value: 'DUoRhQ==', type: 'FULL_OBJECT' },
      parts: [
        {
          partNumber: 1,
          size: 11,
          etag: '5eb63bbbe01eeed093cb22bb8f5acdc3',
          checksums: { CRC32: 'DUoRhQ==' },
          chunk: { chunkId, size: 11, md5: '5eb63bbbe01eeed093cb22bb8f5acdc3', checksums: { CRC32: 'DUoRhQ==' }, blobStates: f.backends.map((b, i) => ({ backendId: b.id, state: i === 2 ? 'writing' : 'ok' })) },
        },
      ],
    });
    const got = await f.store.getObject(f.bucket.id, 'docs/readme.txt');
    assert.deepEqual(withoutParts(got!), committed);
    assert.equal(got!.versionId, 'null');
    assert.equal(got!.isLatest, true);
    assert.equal(got!.deleteMarker, false);
    assert.equal(got!.size, 11);
    assert.equal(got!.contentType, 'text/plain');
    assert.deepEqual(got!.headers, { 'cache-control': 'no-cache' });
    assert.deepEqual(got!.userMetadata, { author: 'ada' });
    assert.deepEqual(got!.checksum, { algorithm: 'CRC32', value: 'DUoRhQ==', type: 'FULL_OBJECT' });
    assert.equal(got!.multipartParts, null);
    assert.equal(got!.parts.length, 1);
    const part = got!.parts[0];
    assert.deepEqual([part.partNumber, part.offset, part.size, part.etag], [1, 0, 11, '5eb63bbbe01eeed093cb22bb8f5acdc3']);
    assert.deepEqual(part.checksums, { CRC32: 'DUoRhQ==' });
    assert.equal(part.chunk.id, chunkId);
    assert.equal(part.chunk.size, 11);
    assert.equal(part.chunk.md5, '5eb63bbbe01eeed093cb22bb8f5acdc3');
    assert.deepEqual(part.chunk.checksums, { CRC32: 'DUoRhQ==' });
    const states = new Map(part.chunk.blobs.map((b) => [b.backendId, b.state]));
    assert.deepEqual(
      f.backends.map((b) => states.get(b.id)),
      ['ok', 'ok', 'writing'],
    );
    assert.equal(await f.store.getObject(f.bucket.id, 'docs/missing.txt'), null);
  });

  test('a multi-part commit stores parts in order with cumulative offsets', async () => {
    const sizes = [5, 7, 3];
    const parts = [];
    for (const [i, size] of sizes.entries()) {
      const id = await beginChunk(f.store, f.bucket.id, f.backends);
      parts.push({ partNumber: i + 1, size, etag: `p${i + 1}`, checksums: {}, chunk: sealed(id, f.backends, size) });
    }
    await f.store.commitObject({ ...META, bucketId: f.bucket.id, key: 'multi', size: 15, etag: 'abc-3', multipartParts: 3, parts });
    const got = (await f.store.getObject(f.bucket.id, 'multi'))!;
    assert.deepEqual(
      got.parts.map((p) => [p.partNumber, p.offset, p.size]),
      [
        [1, 0, 5],
        [2, 5, 7],
        [3, 12, 3],
      ],
    );
    assert.equal(got.multipartParts, 3);
  });

  test('committing a chunk that was never begun fails with NotFound and stores nothing', async () => {
    await assert.rejects(
      f.store.commitObject({ ...META, bucketId: f.bucket.id, key: 'ghost', size: 1, etag: 'e', multipartParts: null, parts: [{ partNumber: 1, size: 1, etag: 'e', checksums: {}, chunk: sealed('never-begun', f.backends, 1) }] }),
      { code: 'NotFound' },
    );
    assert.equal(await f.store.getObject(f.bucket.id, 'ghost'), null);
  });

  test('a commit that runs later after its chunk was begun than the store allows is refused with ServiceUnavailable and stores nothing (migrations/010)', async () => {
    const late = createPgMetadataStore(f.pool, { lateCommitAfterMs: 50 });
    const commit = (key: string, chunkId: string, begunAtMs: number) =>
      late.commitObject({ ...META, bucketId: f.bucket.id, key, size: 1, etag: 'e', multipartParts: null, parts: [{ partNumber: 1, size: 1, etag: 'e', checksums: {}, chunk: { ...sealed(chunkId, f.backends, 1), begunAtMs } }] });
    // Begun, then the commit "sent" right away but reaching the server 300 ms after the begin.
    const chunkId = await beginChunk(f.store, f.bucket.id, f.backends);
    const begunAt = performance.now();
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(commit('too-late', chunkId, performance.now()), { code: 'ServiceUnavailable' });
    assert.equal(await f.store.getObject(f.bucket.id, 'too-late'), null);
    // Rolled back whole, the seal included: the chunk is as the begin left it.
    const row = (await f.pool.query('SELECT sealed_at, unreferenced_since FROM chunks WHERE id = $1', [chunkId])).rows[0];
    assert.equal(row.sealed_at, null);
    assert.notEqual(row.unreferenced_since, null);
    // The same chunk committed with the time since its begin counted: in time.
    const v = await commit('in-time', chunkId, begunAt);
    assert.equal((await f.store.getObject(f.bucket.id, 'in-time'))?.versionId, v.versionId);
  });
});

describe('overwrite, delete and garbage', () => {
  test('overwriting a key in an unversioned bucket replaces the null version and makes the old chunk garbage', async () => {
    const first = await putObject(f, 'over', { etag: 'one' });
    const second = await putObject(f, 'over', { etag: 'two' });
    assert.equal(second.versionId, 'null');
    const got = (await f.store.getObject(f.bucket.id, 'over'))!;
    assert.equal(got.etag, 'two');
    const r = await f.pool.query("SELECT count(*)::int AS n FROM object_versions WHERE bucket_id = $1 AND key = 'over'", [f.bucket.id]);
    assert.equal(r.rows[0].n, 1);
    const garbage = await garbageIds(f.store);
    assert.ok(garbage.has(first.parts[0].chunk.id));
    assert.ok(!garbage.has(second.parts[0].chunk.id));
  });

  test('deleteObject removes the current version, reports it, and a second delete finds nothing', async () => {
    const v = await putObject(f, 'doomed');
    assert.deepEqual(await f.store.deleteObject(f.bucket.id, 'doomed'), { deleted: true, versionId: null, deleteMarker: false });
    assert.equal(await f.store.getObject(f.bucket.id, 'doomed'), null);
    assert.ok((await garbageIds(f.store)).has(v.parts[0].chunk.id));
    assert.deepEqual(await f.store.deleteObject(f.bucket.id, 'doomed'), { deleted: false, versionId: null, deleteMarker: false });
    const head = await f.pool.query("SELECT 1 FROM objects WHERE bucket_id = $1 AND key = 'doomed'", [f.bucket.id]);
    assert.equal(head.rows.length, 0);
  });

  test('a zero-copy commit references the source chunk, which stays alive when the source is deleted', async () => {
    const src = await putObject(f, 'src', { etag: 'srcetag', size: 10 });
    const chunkId = src.parts[0].chunk.id;
    await f.store.commitObject({
      ...META,
      userMetadata: { rotated: 'yes' },
      bucketId: f.bucket.id,
      key: 'copy',
      size: 10,
      etag: 'srcetag',
      multipartParts: null,
      parts: [{ partNumber: 1, size: 10, etag: 'srcetag', checksums: {}, chunk: { existingChunkId: chunkId } }],
    });
    const copy = (await f.store.getObject(f.bucket.id, 'copy'))!;
    assert.equal(copy.parts[0].chunk.id, chunkId);
    assert.equal(copy.parts[0].chunk.size, 10);
    await f.store.deleteObject(f.bucket.id, 'src');
    assert.ok(!(await garbageIds(f.store)).has(chunkId));
    await f.store.deleteObject(f.bucket.id, 'copy');
    assert.ok((await garbageIds(f.store)).has(chunkId));
  });

  test('CopyObject onto itself (metadata REPLACE) keeps the shared chunk referenced', async () => {
    const v = await putObject(f, 'self');
    const chunkId = v.parts[0].chunk.id;
    await f.store.commitObject({
      ...META,
      userMetadata: { 'x-amz-key-v2': 'rewrapped' },
      bucketId: f.bucket.id,
      key: 'self',
      size: v.size,
      etag: v.etag,
      multipartParts: null,
      parts: [{ partNumber: 1, size: v.size, etag: v.etag, checksums: {}, chunk: { existingChunkId: chunkId } }],
    });
    assert.deepEqual((await f.store.getObject(f.bucket.id, 'self'))!.userMetadata, { 'x-amz-key-v2': 'rewrapped' });
    assert.ok(!(await garbageIds(f.store)).has(chunkId));
  });

  test('a zero-copy commit of a chunk that no longer exists fails with NotFound', async () => {
    await assert.rejects(
      f.store.commitObject({ ...META, bucketId: f.bucket.id, key: 'c2', size: 1, etag: 'e', multipartParts: null, parts: [{ partNumber: 1, size: 1, etag: 'e', checksums: {}, chunk: { existingChunkId: 'gone' } }] }),
      { code: 'NotFound' },
    );
  });

  test('getReplicaStatus lists each part with its blob rows, and null for a missing key', async () => {
    const v = await putObject(f, 'replicas', { backends: f.backends.slice(0, 2) });
    const status = await f.store.getReplicaStatus(f.bucket.id, 'replicas');
    assert.equal(status?.length, 1);
    assert.equal(status![0].partNumber, 1);
    assert.equal(status![0].chunkId, v.parts[0].chunk.id);
    assert.deepEqual(status![0].blobs.map((b) => b.state), ['ok', 'ok']);
    assert.equal(await f.store.getReplicaStatus(f.bucket.id, 'nothing-here'), null);
  });
});

describe('conditional writes', () => {
  test('20 concurrent creators with If-None-Match * on one key: exactly one wins and its version is stored', async () => {
    const chunks = await Promise.all(Array.from({ length: 20 }, () => beginChunk(f.store, f.bucket.id, f.backends)));
    const results = await Promise.allSettled(
      chunks.map((chunkId, i) =>
        f.store.commitObject({
          ...META,
          bucketId: f.bucket.id,
          key: 'race/lock',
          size: 4,
          etag: `writer-${i}`,
          multipartParts: null,
          parts: [{ partNumber: 1, size: 4, etag: `writer-${i}`, checksums: {}, chunk: sealed(chunkId, f.backends, 4) }],
          condition: { ifNoneMatch: '*' },
        }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 19);
    for (const r of lost) {
      assert.ok(r.reason instanceof MetadataError);
      assert.equal(r.reason.code, 'PreconditionFailed');
    }
    const winner = (won[0] as PromiseFulfilledResult<{ etag: string }>).value;
    const stored = (await f.store.getObject(f.bucket.id, 'race/lock'))!;
    assert.equal(stored.etag, winner.etag);
    const versions = await f.pool.query("SELECT count(*)::int AS n FROM object_versions WHERE bucket_id = $1 AND key = 'race/lock'", [f.bucket.id]);
    assert.equal(versions.rows[0].n, 1);
    // The losers' chunks were never referenced: they are garbage.
    const garbage = await garbageIds(f.store);
    const winnerChunk = stored.parts[0].chunk.id;
    assert.equal(chunks.filter((c) => c !== winnerChunk && garbage.has(c)).length, 19);
  });

  test('If-None-Match * succeeds on a new key and fails with PreconditionFailed on an existing one', async () => {
    await putObject(f, 'inm', { condition: { ifNoneMatch: '*' }, etag: 'first' });
    await assert.rejects(putObject(f, 'inm', { condition: { ifNoneMatch: '*' } }), { code: 'PreconditionFailed' });
    assert.equal((await f.store.getObject(f.bucket.id, 'inm'))!.etag, 'first');
  });

  test('If-Match with the wrong ETag fails with PreconditionFailed; with the right one the write replaces the object', async () => {
    await putObject(f, 'im', { etag: 'aaaa' });
    await assert.rejects(putObject(f, 'im', { condition: { ifMatch: 'bbbb' }, etag: 'cccc' }), { code: 'PreconditionFailed' });
    assert.equal((await f.store.getObject(f.bucket.id, 'im'))!.etag, 'aaaa');
    await putObject(f, 'im', { condition: { ifMatch: '"aaaa"' }, etag: 'dddd' });
    assert.equal((await f.store.getObject(f.bucket.id, 'im'))!.etag, 'dddd');
  });

  test('If-Match on a key that does not exist fails with NotFound (S3 answers 404 NoSuchKey)', async () => {
    await assert.rejects(putObject(f, 'im-missing', { condition: { ifMatch: 'aaaa' } }), { code: 'NotFound' });
  });

  test('racing puts and deletes of one key all succeed and leave a consistent head', async () => {
    for (let round = 0; round < 5; round++) {
      const ops = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? putObject(f, 'churn', { etag: `r${round}-${i}` }) : f.store.deleteObject(f.bucket.id, 'churn')));
      const results = await Promise.allSettled(ops);
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.deepEqual(
        failed.map((r) => String(r.reason)),
        [],
      );
      const versions = await f.pool.query("SELECT count(*)::int AS n FROM object_versions WHERE bucket_id = $1 AND key = 'churn'", [f.bucket.id]);
      const head = await f.pool.query("SELECT count(*)::int AS n FROM objects WHERE bucket_id = $1 AND key = 'churn'", [f.bucket.id]);
      assert.ok(versions.rows[0].n <= 1);
      assert.equal(head.rows[0].n, versions.rows[0].n, 'the head row exists exactly while a version does');
    }
  });

  test('concurrent If-Match updates from the same ETag: exactly one wins', async () => {
    await putObject(f, 'cas', { etag: 'v0' });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => putObject(f, 'cas', { condition: { ifMatch: 'v0' }, etag: `v1-${i}` })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal(results.filter((r) => r.status === 'rejected' && (r.reason as MetadataError).code === 'PreconditionFailed').length, 7);
  });
});

describe('versioned buckets', () => {
  test('with versioning Enabled, writes keep old versions and a delete adds a delete marker', async () => {
    const b = await f.store.createBucket({ tenantId: f.tenant.id, name: 'versioned', region: 'eu-west', physical: [] });
    await f.pool.query("UPDATE buckets SET versioning = 'Enabled' WHERE id = $1", [b.id]);
    const v1 = await putObject(f, 'k', { bucketId: b.id, etag: 'one' });
    const v2 = await putObject(f, 'k', { bucketId: b.id, etag: 'two' });
    assert.notEqual(v1.versionId, 'null');
    assert.notEqual(v1.versionId, v2.versionId);
    assert.equal((await f.store.getObject(b.id, 'k'))!.etag, 'two');
    assert.equal((await f.store.getObject(b.id, 'k', v1.versionId))!.etag, 'one');
    assert.equal((await f.store.getObject(b.id, 'k', v1.versionId))!.isLatest, false);
    assert.ok(!(await garbageIds(f.store)).has(v1.parts[0].chunk.id));
    const del = await f.store.deleteObject(b.id, 'k');
    assert.equal(del.deleted, true);
    assert.equal(del.deleteMarker, true);
    assert.equal(await f.store.getObject(b.id, 'k'), null);
    assert.equal((await f.store.listObjects(b.id, { maxKeys: 10 })).contents.length, 0);
    // Removing the delete marker by version id brings back the newest version.
    assert.deepEqual(await f.store.deleteObject(b.id, 'k', del.versionId!), { deleted: true, versionId: del.versionId, deleteMarker: true });
    assert.equal((await f.store.getObject(b.id, 'k'))!.etag, 'two');
    await f.store.deleteObject(b.id, 'k', v2.versionId);
    assert.equal((await f.store.getObject(b.id, 'k'))!.etag, 'one');
    assert.ok((await garbageIds(f.store)).has(v2.parts[0].chunk.id));
  });
});
