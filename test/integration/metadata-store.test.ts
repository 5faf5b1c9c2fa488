// The PostgreSQL MetadataStore against a real server: tenants, keys, backends,
// buckets, chunks and blobs, and the changelog that records every change.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { beginChunk, changelogCount, garbageIds, putObject, sealed, setup, type Fixture } from './metadata-fixtures.ts';

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

  test('an interrupted write is garbage once older than the grace period, and deleteChunk removes it', async () => {
    const id = await beginChunk(f.store, f.bucket.id, f.backends);
    assert.ok((await garbageIds(f.store)).has(id));
    const recent = await f.store.listGarbageChunks(1000, 60_000);
    assert.ok(!recent.some((c) => c.id === id));
    await f.store.deleteChunk(id);
    assert.equal(await f.store.getChunk(id), null);
    await f.store.deleteChunk(id);
  });

  test('deleteChunk refuses a chunk that a version references', async () => {
    const v = await putObject(f, 'referenced');
    await assert.rejects(f.store.deleteChunk(v.parts[0].chunk.id), { code: 'ConditionalRequestConflict' });
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
