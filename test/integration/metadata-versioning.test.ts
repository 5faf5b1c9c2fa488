// Bucket versioning in the PostgreSQL MetadataStore: Enabled / Suspended states,
// version ids, delete markers, ListObjectVersions order and pagination, and that
// chunks of non-current versions are never garbage.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isWellFormedVersionId, MetadataError, type BucketRow, type ListVersionsResult } from '../../metadata/index.ts';
import { changelogCount, garbageIds, META, putObject, setup, type Fixture } from './metadata-fixtures.ts';

let f: Fixture;
let n = 0;
before(async () => {
  f = await setup();
});
after(async () => {
  await f.close();
});

async function bucket(status: 'Enabled' | 'Suspended' | null): Promise<BucketRow> {
  const b = await f.store.createBucket({ tenantId: f.tenant.id, name: `ver-${++n}`, region: 'eu-west', physical: [] });
  if (status) await f.store.setBucketVersioning(b.id, status);
  return (await f.store.getBucket(f.tenant.id, b.name))!;
}

const entries = (r: ListVersionsResult) => r.versions.map((v) => `${v.key}:${v.deleteMarker ? 'DM' : v.size}:${v.isLatest ? 'L' : '-'}`);

describe('setBucketVersioning', () => {
  test('switches between Enabled and Suspended, logs each change once, and rejects an unknown bucket', async () => {
    const b = await bucket(null);
    assert.equal(b.versioning, 'Unversioned');
    const before0 = await changelogCount(f.pool);
    await f.store.setBucketVersioning(b.id, 'Enabled');
    await f.store.setBucketVersioning(b.id, 'Enabled');
    assert.equal((await f.store.getBucket(f.tenant.id, b.name))!.versioning, 'Enabled');
    await f.store.setBucketVersioning(b.id, 'Suspended');
    assert.equal((await f.store.getBucket(f.tenant.id, b.name))!.versioning, 'Suspended');
    assert.equal((await changelogCount(f.pool)) - before0, 2);
    await assert.rejects(f.store.setBucketVersioning('00000000-0000-4000-8000-000000000000', 'Enabled'), (e: MetadataError) => e.code === 'NoSuchBucket');
  });
});

describe('version ids', () => {
  test('are 32 lower-case hex digits, unique, and ordered by creation time', async () => {
    const b = await bucket('Enabled');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await putObject(f, 'k', { bucketId: b.id })).versionId);
      await new Promise((r) => setTimeout(r, 2));
    }
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(new Set(ids).size, 5);
    assert.deepEqual([...ids].sort(), ids);
    assert.ok(ids.every(isWellFormedVersionId));
    assert.equal(isWellFormedVersionId('null'), true);
    assert.equal(isWellFormedVersionId('not-a-version'), false);
    assert.equal(isWellFormedVersionId(''), false);
  });
});

describe('delete markers and version deletes', () => {
  test('getVersion returns the latest delete marker while getObject hides it; deleting the marker restores the object', async () => {
    const b = await bucket('Enabled');
    const v1 = await putObject(f, 'doc', { bucketId: b.id, etag: 'e1' });
    const dm = await f.store.deleteObject(b.id, 'doc');
    assert.equal(dm.deleteMarker, true);
    assert.ok(dm.versionId && isWellFormedVersionId(dm.versionId) && dm.versionId !== 'null');
    assert.equal(await f.store.getObject(b.id, 'doc'), null);
    const latest = await f.store.getVersion(b.id, 'doc');
    assert.equal(latest!.deleteMarker, true);
    assert.equal(latest!.versionId, dm.versionId);
    assert.equal((await f.store.getVersion(b.id, 'doc', v1.versionId))!.etag, 'e1');
    assert.equal(await f.store.getVersion(b.id, 'doc', 'ffffffffffffffffffffffffffffffff'), null);
    assert.deepEqual(await f.store.deleteObject(b.id, 'doc', dm.versionId!), { deleted: true, versionId: dm.versionId, deleteMarker: true });
    assert.equal((await f.store.getObject(b.id, 'doc'))!.versionId, v1.versionId);
    assert.deepEqual(await f.store.deleteObject(b.id, 'doc', 'ffffffffffffffffffffffffffffffff'), { deleted: false, versionId: 'ffffffffffffffffffffffffffffffff', deleteMarker: false });
  });

  test('Suspended: writes get version "null" and replace the previous null version, while an older real version stays', async () => {
    const b = await bucket('Enabled');
    const real = await putObject(f, 'k', { bucketId: b.id, etag: 'real' });
    await f.store.setBucketVersioning(b.id, 'Suspended');
    const n1 = await putObject(f, 'k', { bucketId: b.id, etag: 'n1' });
    const n2 = await putObject(f, 'k', { bucketId: b.id, etag: 'n2' });
    assert.equal(n1.versionId, 'null');
    assert.equal(n2.versionId, 'null');
    const listed = await f.store.listObjectVersions(b.id, { maxKeys: 100 });
    assert.deepEqual(
      listed.versions.map((v) => [v.versionId, v.etag, v.isLatest]),
      [
        ['null', 'n2', true],
        [real.versionId, 'real', false],
      ],
    );
    // The replaced null version's chunk lost its only reference; the real version's did not.
    const garbage = await garbageIds(f.store);
    assert.ok(garbage.has(n1.parts[0].chunk.id));
    assert.ok(!garbage.has(real.parts[0].chunk.id));
    // A delete in a suspended bucket: a delete marker with id "null" replaces the null version.
    const dm = await f.store.deleteObject(b.id, 'k');
    assert.deepEqual(dm, { deleted: true, versionId: 'null', deleteMarker: true });
    const after1 = await f.store.listObjectVersions(b.id, { maxKeys: 100 });
    assert.deepEqual(entries(after1), ['k:DM:L', 'k:10:-']);
    assert.ok((await garbageIds(f.store)).has(n2.parts[0].chunk.id));
  });

  test('chunks of non-current versions are never garbage; a chunk shared with a copy survives deleting one version', async () => {
    const b = await bucket('Enabled');
    const v1 = await putObject(f, 'a', { bucketId: b.id });
    await putObject(f, 'a', { bucketId: b.id });
    await f.store.deleteObject(b.id, 'a');
    assert.ok(!(await garbageIds(f.store)).has(v1.parts[0].chunk.id));
    const chunkId = v1.parts[0].chunk.id;
    await f.store.commitObject({ ...META, bucketId: b.id, key: 'copy', size: 10, etag: v1.etag, multipartParts: null, parts: [{ partNumber: 1, size: 10, etag: v1.etag, checksums: {}, chunk: { existingChunkId: chunkId } }] });
    await f.store.deleteObject(b.id, 'a', v1.versionId);
    assert.ok(!(await garbageIds(f.store)).has(chunkId));
    const copy = await f.store.getVersion(b.id, 'copy');
    await f.store.deleteObject(b.id, 'copy', copy!.versionId);
    assert.ok((await garbageIds(f.store)).has(chunkId));
  });
});

describe('listObjectVersions', () => {
  let b: BucketRow;
  before(async () => {
    b = await bucket('Enabled');
    // a: 3 versions; b/x: 2 versions then a delete marker; b/y: 1; c: 1; d/e/f: 1
    for (let i = 0; i < 3; i++) await putObject(f, 'a', { bucketId: b.id, size: i });
    await putObject(f, 'b/x', { bucketId: b.id, size: 10 });
    await putObject(f, 'b/x', { bucketId: b.id, size: 11 });
    await f.store.deleteObject(b.id, 'b/x');
    await putObject(f, 'b/y', { bucketId: b.id, size: 20 });
    await putObject(f, 'c', { bucketId: b.id, size: 30 });
    await putObject(f, 'd/e/f', { bucketId: b.id, size: 40 });
  });

  test('interleaves versions and delete markers by key ascending, newest first', async () => {
    const r = await f.store.listObjectVersions(b.id, { maxKeys: 1000 });
    assert.deepEqual(entries(r), ['a:2:L', 'a:1:-', 'a:0:-', 'b/x:DM:L', 'b/x:11:-', 'b/x:10:-', 'b/y:20:L', 'c:30:L', 'd/e/f:40:L']);
    assert.equal(r.isTruncated, false);
    assert.equal(r.nextKeyMarker, null);
    // ListObjects keeps showing only the latest non-delete-marker versions.
    assert.deepEqual((await f.store.listObjects(b.id, { maxKeys: 1000 })).contents.map((c) => c.key), ['a', 'b/y', 'c', 'd/e/f']);
  });

  test('paging with key / version-id markers at every page size yields exactly the full listing', async () => {
    const full = entries(await f.store.listObjectVersions(b.id, { maxKeys: 1000 }));
    for (const size of [1, 2, 3, 4]) {
      const got: string[] = [];
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      for (let page = 0; page < 20; page++) {
        const r = await f.store.listObjectVersions(b.id, { maxKeys: size, keyMarker, versionIdMarker });
        assert.ok(r.versions.length <= size);
        got.push(...entries(r));
        if (!r.isTruncated) break;
        assert.equal(r.nextKeyMarker, r.versions.at(-1)!.key);
        assert.equal(r.nextVersionIdMarker, r.versions.at(-1)!.versionId);
        keyMarker = r.nextKeyMarker!;
        versionIdMarker = r.nextVersionIdMarker!;
      }
      assert.deepEqual(got, full, `page size ${size}`);
    }
  });

  test('a key-marker alone skips every version of that key', async () => {
    const r = await f.store.listObjectVersions(b.id, { maxKeys: 1000, keyMarker: 'a' });
    assert.deepEqual(entries(r)[0], 'b/x:DM:L');
  });

  test('a delimiter rolls keys up into common prefixes that count toward max-keys', async () => {
    const r = await f.store.listObjectVersions(b.id, { maxKeys: 1000, delimiter: '/' });
    assert.deepEqual(entries(r), ['a:2:L', 'a:1:-', 'a:0:-', 'c:30:L']);
    assert.deepEqual(r.commonPrefixes, ['b/', 'd/']);
    const p1 = await f.store.listObjectVersions(b.id, { maxKeys: 4, delimiter: '/' });
    assert.deepEqual(entries(p1), ['a:2:L', 'a:1:-', 'a:0:-']);
    assert.deepEqual(p1.commonPrefixes, ['b/']);
    assert.equal(p1.isTruncated, true);
    assert.equal(p1.nextKeyMarker, 'b/');
    assert.equal(p1.nextVersionIdMarker, null);
    const p2 = await f.store.listObjectVersions(b.id, { maxKeys: 4, delimiter: '/', keyMarker: p1.nextKeyMarker! });
    assert.deepEqual(entries(p2), ['c:30:L']);
    assert.deepEqual(p2.commonPrefixes, ['d/']);
    assert.equal(p2.isTruncated, false);
    const inB = await f.store.listObjectVersions(b.id, { maxKeys: 1000, prefix: 'b/', delimiter: '/' });
    assert.deepEqual(entries(inB), ['b/x:DM:L', 'b/x:11:-', 'b/x:10:-', 'b/y:20:L']);
  });

  test('max-keys 0 answers an empty, untruncated page', async () => {
    const r = await f.store.listObjectVersions(b.id, { maxKeys: 0 });
    assert.deepEqual([r.versions.length, r.commonPrefixes.length, r.isTruncated], [0, 0, false]);
  });
});

describe('listing cost with many old versions', () => {
  let b: BucketRow;
  before(async () => {
    b = await bucket('Enabled');
    // 'hot' has 5,000 non-current versions and one latest; 'cold' just one version.
    await f.pool.query("INSERT INTO objects (bucket_id, key) VALUES ($1, 'hot'), ($1, 'cold')", [b.id]);
    await f.pool.query(
      `INSERT INTO object_versions (bucket_id, key, version_id, is_latest, size, etag)
       SELECT $1, 'hot', lpad(to_hex(g), 32, '0'), g = 5001, g, 'e' FROM generate_series(1, 5001) g`,
      [b.id],
    );
    await f.pool.query("INSERT INTO object_versions (bucket_id, key, version_id, is_latest, size, etag) VALUES ($1, 'cold', 'null', true, 1, 'e')", [b.id]);
    await f.pool.query('ANALYZE object_versions');
  });

  test('ListObjects seeks the visible-keys index, whatever the number of old versions', async () => {
    const r = await f.pool.query(
      `EXPLAIN (FORMAT JSON) SELECT key FROM object_versions v
        WHERE v.bucket_id = $1 AND v.is_latest AND NOT v.delete_marker AND v.key >= $2 ORDER BY v.key LIMIT 11`,
      [b.id, ''],
    );
    assert.match(JSON.stringify(r.rows[0]['QUERY PLAN']), /object_versions_(listing|latest)_idx/);
    assert.deepEqual((await f.store.listObjects(b.id, { maxKeys: 10 })).contents.map((c) => c.key), ['cold', 'hot']);
  });

  test('ListObjectVersions reads old versions through the non-current index and resumes inside a key', async () => {
    const r = await f.pool.query(
      `EXPLAIN (FORMAT JSON) SELECT key FROM object_versions v
        WHERE v.bucket_id = $1 AND v.key = 'hot' AND NOT v.is_latest AND v.seq < 9000000000 ORDER BY v.seq DESC LIMIT 11`,
      [b.id],
    );
    assert.match(JSON.stringify(r.rows[0]['QUERY PLAN']), /object_versions_noncurrent_idx/);
    const p1 = await f.store.listObjectVersions(b.id, { maxKeys: 1000 });
    assert.equal(p1.versions[0].key, 'cold');
    assert.deepEqual([p1.versions[1].size, p1.versions[1].isLatest, p1.versions[999].size], [5001, true, 4003]);
    const p2 = await f.store.listObjectVersions(b.id, { maxKeys: 1000, keyMarker: p1.nextKeyMarker!, versionIdMarker: p1.nextVersionIdMarker! });
    assert.deepEqual([p2.versions[0].size, p2.versions.length, p2.isTruncated], [4002, 1000, true]);
  });
});
