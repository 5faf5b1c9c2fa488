// The PostgreSQL MetadataStore against a real server: tenants, keys, backends,
// buckets, chunks and blobs, and the changelog that records every change.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { beginChunk, changelogCount, garbageIds, META, putObject, sealed, setup, type Fixture } from './metadata-fixtures.ts';

let f: Fixture;
before(async () => {
  f = await setup();
});
after(async () => {
  await f.close();
});

describe('tenants and access keys', () => {
  test('createTenant rejects a duplicate name with TenantExists', async () => {
    await assert.rejects(f.store.createTenant('acme'), { name: 'MetadataError', code: 'TenantExists' });
  });

  test('getTenantByName and listTenants return tenants sorted by name', async () => {
    const zeta = await f.store.createTenant('zeta');
    assert.deepEqual(await f.store.getTenantByName('zeta'), zeta);
    assert.equal(await f.store.getTenantByName('nobody'), null);
    const names = (await f.store.listTenants()).map((t) => t.name);
    assert.deepEqual(names, [...names].sort());
    assert.ok(names.includes('acme') && names.includes('zeta'));
  });

  test('addAccessKey stores the sealed secret with the tenant name and refuses a duplicate id with AccessKeyExists', async () => {
    const key = await f.store.addAccessKey(f.tenant.id, 'AKIAFIRST', 'v1:sealed-secret');
    assert.equal(key.accessKeyId, 'AKIAFIRST');
    assert.equal(key.tenantId, f.tenant.id);
    assert.equal(key.tenantName, 'acme');
    assert.equal(key.secretSealed, 'v1:sealed-secret');
    assert.equal(key.status, 'active');
    assert.deepEqual(await f.store.getAccessKey('AKIAFIRST'), key);
    assert.equal(await f.store.getAccessKey('AKIANONE'), null);
    await assert.rejects(f.store.addAccessKey(f.tenant.id, 'AKIAFIRST', 'other'), { code: 'AccessKeyExists' });
    await f.store.addAccessKey(f.tenant.id, 'AKIASECOND', 'v1:another');
    assert.deepEqual(
      (await f.store.listAccessKeys(f.tenant.id)).map((k) => k.accessKeyId),
      ['AKIAFIRST', 'AKIASECOND'],
    );
  });

  test('addAccessKey for an unknown tenant fails with NotFound', async () => {
    await assert.rejects(f.store.addAccessKey('00000000-0000-4000-8000-000000000000', 'AKIAORPHAN', 's'), { code: 'NotFound' });
    await assert.rejects(f.store.addAccessKey('not-a-uuid', 'AKIAORPHAN', 's'), { code: 'NotFound' });
  });

  test('the changelog records a new access key without its secret', async () => {
    const r = await f.pool.query("SELECT data FROM changelog WHERE entity = 'access_key' AND data->>'accessKeyId' = 'AKIAFIRST'");
    assert.equal(r.rows.length, 1);
    assert.deepEqual(r.rows[0].data, { accessKeyId: 'AKIAFIRST', tenantId: f.tenant.id });
  });
});

describe('backends', () => {
  test('createBackend rejects a duplicate name with BackendExists', async () => {
    await assert.rejects(f.store.createBackend({ ...f.backends[0], name: 'b1' }), { code: 'BackendExists' });
  });

  test('listBackends and getBackendByName return the stored rows', async () => {
    const b1 = await f.store.getBackendByName('b1');
    assert.equal(b1?.id, f.backends[0].id);
    assert.equal(b1?.credentialsSealed, 'sealed-creds');
    assert.equal(b1?.state, 'active');
    assert.equal(b1?.healthy, true);
    assert.deepEqual(
      (await f.store.listBackends()).map((b) => b.name),
      ['b1', 'b2', 'b3'],
    );
    assert.equal(await f.store.getBackendByName('nope'), null);
  });

  test('recordBackendHealth updates the row and logs only changes of the healthy flag', async () => {
    const id = f.backends[2].id;
    const logged = async () => (await f.pool.query("SELECT action FROM changelog WHERE entity = 'backend' AND data->>'id' = $1 ORDER BY id", [id])).rows.map((r) => r.action);
    await f.store.recordBackendHealth(id, { healthy: true, rttMs: 12.6, error: null });
    await f.store.recordBackendHealth(id, { healthy: false, rttMs: null, error: 'connect ECONNREFUSED' });
    await f.store.recordBackendHealth(id, { healthy: false, rttMs: null, error: 'connect ECONNREFUSED' });
    let row = (await f.store.getBackendByName('b3'))!;
    assert.equal(row.healthy, false);
    assert.equal(row.lastError, 'connect ECONNREFUSED');
    assert.equal(row.lastRttMs, null);
    assert.ok(row.lastCheckedAt instanceof Date);
    await f.store.recordBackendHealth(id, { healthy: true, rttMs: 7, error: null });
    row = (await f.store.getBackendByName('b3'))!;
    assert.equal(row.healthy, true);
    assert.equal(row.lastRttMs, 7);
    assert.deepEqual(await logged(), ['create', 'unhealthy', 'healthy']);
    await assert.rejects(f.store.recordBackendHealth('00000000-0000-4000-8000-000000000000', { healthy: true, rttMs: 1, error: null }), { code: 'NotFound' });
  });
});

describe('buckets', () => {
  test('createBucket refuses a second bucket of the same name for the same tenant with BucketAlreadyOwnedByYou', async () => {
    await assert.rejects(f.store.createBucket({ tenantId: f.tenant.id, name: 'photos', region: 'eu-west', physical: [] }), {
      code: 'BucketAlreadyOwnedByYou',
    });
  });

  test('two tenants each own a bucket called photos and see only their own objects', async () => {
    const other = await f.store.createTenant('globex');
    const theirs = await f.store.createBucket({ tenantId: other.id, name: 'photos', region: 'us-east', physical: [] });
    assert.notEqual(theirs.id, f.bucket.id);
    assert.equal((await f.store.getBucket(other.id, 'photos'))?.id, theirs.id);
    assert.equal((await f.store.getBucket(f.tenant.id, 'photos'))?.id, f.bucket.id);
    await putObject(f, 'mine.jpg');
    await putObject(f, 'theirs.jpg', { bucketId: theirs.id });
    const mine = await f.store.listObjects(f.bucket.id, { maxKeys: 100 });
    const their = await f.store.listObjects(theirs.id, { maxKeys: 100 });
    assert.ok(mine.contents.some((o) => o.key === 'mine.jpg'));
    assert.ok(!mine.contents.some((o) => o.key === 'theirs.jpg'));
    assert.deepEqual(
      their.contents.map((o) => o.key),
      ['theirs.jpg'],
    );
    assert.equal(await f.store.getObject(theirs.id, 'mine.jpg'), null);
    assert.deepEqual(
      (await f.store.listBuckets(other.id)).map((b) => b.name),
      ['photos'],
    );
  });

  test('getBucketBackends lists the physical buckets and addBucketBackend is idempotent', async () => {
    const b = await f.store.createBucket({ tenantId: f.tenant.id, name: 'docs', region: 'eu-west', physical: [{ backendId: f.backends[0].id, physicalName: 's3gw-docs-p1' }] });
    await f.store.addBucketBackend(b.id, f.backends[1].id, 's3gw-docs-p2');
    const before = await changelogCount(f.pool);
    await f.store.addBucketBackend(b.id, f.backends[1].id, 's3gw-docs-p2');
    assert.equal(await changelogCount(f.pool), before);
    const rows = await f.store.getBucketBackends(b.id);
    assert.deepEqual(
      rows.map((r) => [r.backendId, r.physicalName]).sort(),
      [
        [f.backends[0].id, 's3gw-docs-p1'],
        [f.backends[1].id, 's3gw-docs-p2'],
      ].sort(),
    );
  });

  test('deleteBucket refuses with BucketNotEmpty while an object exists, then returns the physical buckets', async () => {
    const b = await f.store.createBucket({ tenantId: f.tenant.id, name: 'temp', region: 'eu-west', physical: [{ backendId: f.backends[0].id, physicalName: 's3gw-temp-p1' }] });
    await putObject(f, 'x', { bucketId: b.id });
    await assert.rejects(f.store.deleteBucket(b.id), { code: 'BucketNotEmpty' });
    await f.store.deleteObject(b.id, 'x');
    const physical = await f.store.deleteBucket(b.id);
    assert.deepEqual(physical, [{ bucketId: b.id, backendId: f.backends[0].id, physicalName: 's3gw-temp-p1' }]);
    assert.equal(await f.store.getBucket(f.tenant.id, 'temp'), null);
    await assert.rejects(f.store.deleteBucket(b.id), { code: 'NoSuchBucket' });
  });

  test('writes to a deleted or unknown bucket fail with NoSuchBucket', async () => {
    await assert.rejects(putObject(f, 'x', { bucketId: '00000000-0000-4000-8000-000000000000' }), { code: 'NoSuchBucket' });
    await assert.rejects(f.store.deleteObject('nope', 'x'), { code: 'NoSuchBucket' });
  });
});

describe('chunks and blobs', () => {
  test('beginChunk records blob rows in state writing; setBlobState and upsertBlob change them', async () => {
    const id = await beginChunk(f.store, f.bucket.id, f.backends.slice(0, 2));
    let chunk = (await f.store.getChunk(id))!;
    assert.equal(chunk.size, 0);
    assert.deepEqual(chunk.blobs.map((b) => b.state), ['writing', 'writing']);
    await f.store.setBlobState(id, f.backends[0].id, 'ok');
    await f.store.upsertBlob({ chunkId: id, backendId: f.backends[2].id, physicalBucket: 'pb3', physicalKey: 'pk3', state: 'writing' });
    chunk = (await f.store.getChunk(id))!;
    const byBackend = new Map(chunk.blobs.map((b) => [b.backendId, b]));
    assert.equal(byBackend.get(f.backends[0].id)?.state, 'ok');
    assert.equal(byBackend.get(f.backends[1].id)?.state, 'writing');
    assert.deepEqual([byBackend.get(f.backends[2].id)?.physicalBucket, byBackend.get(f.backends[2].id)?.physicalKey], ['pb3', 'pk3']);
    await assert.rejects(f.store.setBlobState('no-such-chunk', f.backends[0].id, 'ok'), { code: 'NotFound' });
    await assert.rejects(f.store.upsertBlob({ chunkId: 'no-such-chunk', backendId: f.backends[0].id, physicalBucket: 'p', physicalKey: 'k', state: 'ok' }), {
      code: 'NotFound',
    });
    assert.equal(await f.store.getChunk('no-such-chunk'), null);
  });

  test('an interrupted write is garbage once older than the grace period; doomChunk removes its rows for good and lists its blobs', async () => {
    const id = await beginChunk(f.store, f.bucket.id, f.backends);
    assert.ok((await garbageIds(f.store)).has(id));
    const recent = await f.store.listGarbageChunks(1000, 60_000);
    assert.ok(!recent.some((c) => c.id === id));
    assert.equal(await f.store.doomChunk(id, 60_000), null, 'created within the grace period: kept');
    assert.ok(await f.store.getChunk(id));
    const doomed = await f.store.doomChunk(id, 0);
    assert.deepEqual(
      doomed?.map((b) => [b.chunkId, b.backendId, b.physicalBucket, b.physicalKey]).sort(),
      f.backends.map((b) => [id, b.id, `s3gw-abc-${b.provider}`, `k/${id}`]).sort(),
    );
    assert.equal(await f.store.getChunk(id), null);
    assert.equal(await f.store.renewChunk(id), false, 'a writer still streaming learns that its chunk is gone');
    assert.deepEqual(await f.store.doomChunk(id, 0), [], 'already gone');
    const listed = (await f.store.listDoomedBlobs(1000)).filter((b) => b.chunkId === id);
    assert.equal(listed.length, 3);
    for (const b of listed) await f.store.settleDoomedBlob(b, true);
    assert.equal((await f.store.listDoomedBlobs(1000)).filter((b) => b.chunkId === id).length, 0);
  });

  test('a doomed blob whose delete failed goes to the back of the list, behind blobs doomed after it', async () => {
    const first = await beginChunk(f.store, f.bucket.id, f.backends);
    const second = await beginChunk(f.store, f.bucket.id, f.backends);
    const firstBlobs = (await f.store.doomChunk(first, 0))!;
    await f.store.doomChunk(second, 0);
    const order = async () => [...new Set((await f.store.listDoomedBlobs(1000)).map((b) => b.chunkId).filter((c) => c === first || c === second))];
    assert.deepEqual(await order(), [first, second]);
    for (const b of firstBlobs) await f.store.settleDoomedBlob(b, false);
    assert.deepEqual(await order(), [second, first], 'a backend that stays away cannot hold up the rest of the list');
    for (const b of await f.store.listDoomedBlobs(1000)) if (b.chunkId === first || b.chunkId === second) await f.store.settleDoomedBlob(b, true);
  });

  test('doomChunk keeps a referenced chunk, and a renewed one for another grace period', async () => {
    const v = await putObject(f, 'referenced');
    assert.equal(await f.store.doomChunk(v.parts[0].chunk.id, 0), null);
    assert.equal(await f.store.doomChunk(v.parts[0].chunk.id, null), null);
    assert.ok(await f.store.getChunk(v.parts[0].chunk.id));
    const writing = await beginChunk(f.store, f.bucket.id, f.backends);
    await f.pool.query(`UPDATE chunks SET created_at = now() - interval '2 hours', unreferenced_since = now() - interval '2 hours' WHERE id = $1`, [writing]);
    assert.ok((await f.store.listGarbageChunks(1000, 3_600_000)).some((c) => c.id === writing));
    assert.equal(await f.store.renewChunk(writing), true);
    assert.ok(!(await f.store.listGarbageChunks(1000, 3_600_000)).some((c) => c.id === writing));
    assert.equal(await f.store.doomChunk(writing, 3_600_000), null, 'renewed: within the grace period again');
  });

  test('a reference committed while doomChunk waits for the chunk row keeps the chunk; one after it fails with NotFound', async () => {
    const v = await putObject(f, 'doomed-source');
    const chunkId = v.parts[0].chunk.id;
    await f.store.deleteObject(f.bucket.id, 'doomed-source');
    assert.ok((await garbageIds(f.store)).has(chunkId));
    // A CopyObject's commit in flight: its transaction holds the chunk row (the commit locks
    // every chunk it will reference) and has inserted the reference, not yet committed.
    const tx = await f.pool.connect();
    try {
      await tx.query('BEGIN');
      await tx.query('SELECT id FROM chunks WHERE id = $1 FOR UPDATE', [chunkId]);
      await tx.query(`INSERT INTO objects (bucket_id, key) VALUES ($1, 'the-copy')`, [f.bucket.id]);
      const ver = await tx.query<{ id: string }>(
        `INSERT INTO object_versions (bucket_id, key, version_id, is_latest, delete_marker, size, etag, content_type, storage_class, meta)
         VALUES ($1, 'the-copy', 'null', true, false, 10, 'e', 'application/octet-stream', 'STANDARD', '{}') RETURNING id`,
        [f.bucket.id],
      );
      await tx.query(`INSERT INTO version_parts (version_id, part_number, start_offset, size, etag, checksums, chunk_id) VALUES ($1, 1, 0, 10, 'e', '{}', $2)`, [
        ver.rows[0].id,
        chunkId,
      ]);
      let settled = false;
      const doom = f.store.doomChunk(chunkId, 0).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(settled, false, 'doomChunk waits for the row lock');
      await tx.query('COMMIT');
      assert.equal(await doom, null, 'the reference it waited for keeps the chunk');
    } finally {
      tx.release();
    }
    assert.ok(await f.store.getChunk(chunkId));

    // The other order: doomed first, then a copy of a version read before the source was deleted.
    const w = await putObject(f, 'doomed-first');
    await f.store.deleteObject(f.bucket.id, 'doomed-first');
    assert.ok(await f.store.doomChunk(w.parts[0].chunk.id, 0));
    await assert.rejects(
      f.store.commitObject({ ...META, bucketId: f.bucket.id, key: 'late-copy', size: 10, etag: w.etag, multipartParts: null, parts: [{ partNumber: 1, size: 10, etag: w.etag, checksums: {}, chunk: { existingChunkId: w.parts[0].chunk.id } }] }),
      { code: 'NotFound' },
    );
    assert.equal(await f.store.getObject(f.bucket.id, 'late-copy'), null);
  });

  test('listUnderReplicatedChunks returns referenced chunks with fewer than 3 ok blobs or a missing / corrupt one', async () => {
    const healthy = await putObject(f, 'healthy');
    const twoCopies = await putObject(f, 'two-copies', { backends: f.backends.slice(0, 2) });
    const corrupt = await putObject(f, 'corrupt');
    await f.store.setBlobState(corrupt.parts[0].chunk.id, f.backends[1].id, 'corrupt');
    const begun = await beginChunk(f.store, f.bucket.id, f.backends.slice(0, 1));
    const ids = new Set((await f.store.listUnderReplicatedChunks(1000)).map((c) => c.id));
    assert.ok(!ids.has(healthy.parts[0].chunk.id));
    assert.ok(ids.has(twoCopies.parts[0].chunk.id));
    assert.ok(ids.has(corrupt.parts[0].chunk.id));
    assert.ok(!ids.has(begun), 'an unreferenced chunk is garbage, not a repair job');
    // Repair: the healer adds the third copy and marks it ok.
    const chunkId = twoCopies.parts[0].chunk.id;
    await f.store.upsertBlob({ chunkId, backendId: f.backends[2].id, physicalBucket: 'pb', physicalKey: 'pk', state: 'ok' });
    assert.ok(!(await f.store.listUnderReplicatedChunks(1000)).some((c) => c.id === chunkId));
  });
});

describe('deleteBackend', () => {
  test('refuses with BackendHoldsSoleCopies while a referenced chunk has its only ok blob there', async () => {
    const extra = await f.store.createBackend({ ...f.backends[0], name: 'lonely', provider: 'p9' });
    const v = await putObject(f, 'sole', { backends: [extra, f.backends[0]] });
    const chunkId = v.parts[0].chunk.id;
    await f.store.setBlobState(chunkId, f.backends[0].id, 'missing');
    await assert.rejects(f.store.deleteBackend(extra.id), { code: 'BackendHoldsSoleCopies' });
    await f.store.setBlobState(chunkId, f.backends[0].id, 'ok');
    await f.store.deleteBackend(extra.id);
    assert.equal(await f.store.getBackendByName('lonely'), null);
    const chunk = (await f.store.getChunk(chunkId))!;
    assert.deepEqual(
      chunk.blobs.map((b) => b.backendId),
      [f.backends[0].id],
    );
    assert.ok((await f.store.listUnderReplicatedChunks(1000)).some((c) => c.id === chunkId));
    await assert.rejects(f.store.deleteBackend(extra.id), { code: 'NotFound' });
  });

  test('a replica marked bad while the delete runs is seen: the delete waits for it and refuses, instead of dropping the last good copy', async () => {
    const gone = await f.store.createBackend({ ...f.backends[0], name: 'leaving', provider: 'p8' });
    const v = await putObject(f, 'race', { backends: [gone, f.backends[1]] });
    const chunkId = v.parts[0].chunk.id;
    // The scrubber (or a failed read) marks the other copy corrupt in a transaction that is still
    // open when the delete starts.
    const scrub = await f.pool.connect();
    try {
      await scrub.query('BEGIN');
      await scrub.query('SELECT fedgate_set_blob_state($1, $2, $3)', [chunkId, f.backends[1].id, 'corrupt']);
      const deleting = f.store.deleteBackend(gone.id).then(
        () => 'deleted',
        (e: { code?: string }) => e.code,
      );
      await new Promise((r) => setTimeout(r, 300));
      await scrub.query('COMMIT');
      assert.equal(await deleting, 'BackendHoldsSoleCopies');
    } finally {
      scrub.release();
    }
    assert.ok(await f.store.getBackendByName('leaving'));
    assert.equal((await f.store.getChunk(chunkId))!.blobs.find((b) => b.backendId === gone.id)?.state, 'ok');
  });
});

describe('changelog', () => {
  test('each change writes its row in the same transaction; a refused write leaves none', async () => {
    const before = await changelogCount(f.pool);
    const v = await putObject(f, 'logged.txt', { etag: 'e-logged' });
    const rows = (await f.pool.query('SELECT entity, action, data FROM changelog ORDER BY id DESC LIMIT 2')).rows.reverse();
    assert.deepEqual(
      rows.map((r) => [r.entity, r.action]),
      [
        ['chunk', 'begin'],
        ['object', 'put'],
      ],
    );
    assert.equal(rows[1].data.key, 'logged.txt');
    assert.equal(rows[1].data.etag, 'e-logged');
    assert.equal(rows[1].data.id, v.id);
    assert.equal(await changelogCount(f.pool), before + 2);
    const chunkId = await beginChunk(f.store, f.bucket.id, f.backends);
    const mid = await changelogCount(f.pool);
    await assert.rejects(
      f.store.commitObject({
        contentType: null,
        headers: {},
        userMetadata: {},
        storageClass: 'STANDARD',
        checksum: null,
        bucketId: f.bucket.id,
        key: 'logged.txt',
        size: 1,
        etag: 'x',
        multipartParts: null,
        parts: [{ partNumber: 1, size: 1, etag: 'x', checksums: {}, chunk: sealed(chunkId, f.backends, 1) }],
        condition: { ifNoneMatch: '*' },
      }),
      { code: 'PreconditionFailed' },
    );
    assert.equal(await changelogCount(f.pool), mid);
  });

  test('UPDATE, DELETE and TRUNCATE on the changelog are refused', async () => {
    const n = await changelogCount(f.pool);
    await assert.rejects(f.pool.query("UPDATE changelog SET action = 'forged'"), { code: '42501' });
    await assert.rejects(f.pool.query('DELETE FROM changelog'), { code: '42501' });
    await assert.rejects(f.pool.query('TRUNCATE changelog'), { code: '42501' });
    assert.equal(await changelogCount(f.pool), n);
  });
});
