// The write paths' cost must not grow with the number of chunks stored. A commit touches
// its own chunk and blob rows by primary key; a plan that scans chunks (or walks a whole
// index of blobs) makes every PutObject cost PostgreSQL CPU in proportion to the bucket
// store's size (migrations/009_keyed_chunk_updates.sql). Measured in buffer pages read
// (pg_stat_get_xact_blocks_fetched), before and after the first ANALYZE, since the
// planner's choices differ between the two.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { Queryable } from '../../metadata/db.ts';
import { commitVersion } from '../../metadata/repositories/versions.ts';
import { beginChunk, META, sealed, setup, type Fixture } from './metadata-fixtures.ts';

const STORED_CHUNKS = 30_000;
/** A commit's own rows and index paths: a few dozen pages; one scan of chunks is ~10x this. */
const MAX_PAGES = 120;

let f: Fixture;
let chunkPages = 0;
before(async () => {
  f = await setup();
  // Chunks of other objects, sealed, referenced-looking (unreferenced_since NULL), three ok blobs each.
  await f.pool.query(
    `INSERT INTO chunks (id, bucket_id, size, md5, sealed_at, unreferenced_since, ok_blobs)
     SELECT 'bulk-' || g, $1, 10, 'md5', now(), NULL, 3 FROM generate_series(1, $2::int) g`,
    [f.bucket.id, STORED_CHUNKS],
  );
  await f.pool.query(
    `INSERT INTO blobs (chunk_id, backend_id, physical_bucket, physical_key, state)
     SELECT 'bulk-' || g, b.id, 's3gw-abc', 'k/bulk-' || g, 'ok' FROM generate_series(1, $1::int) g, unnest($2::uuid[]) AS b(id)`,
    [STORED_CHUNKS, f.backends.map((b) => b.id)],
  );
  chunkPages = (await f.pool.query<{ n: number }>(`SELECT (pg_relation_size('chunks') / 8192)::int AS n`)).rows[0].n;
});
after(async () => {
  await f.close();
});

const PAGES_READ = `SELECT sum(pg_stat_get_xact_blocks_fetched(oid))::int AS n FROM pg_class
  WHERE oid IN ('chunks'::regclass, 'blobs'::regclass)
     OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN ('chunks'::regclass, 'blobs'::regclass))`;

/**
 * Buffer pages of chunks, blobs and all their indexes that `fn` read. The counters are the
 * backend's pending statistics, which may still hold earlier transactions' reads; inside a
 * transaction block they are not flushed, so the difference across `fn` is its own.
 */
async function pagesRead(fn: (q: pg.PoolClient) => Promise<unknown>): Promise<number> {
  const c = await f.pool.connect();
  try {
    await c.query('BEGIN');
    const before = (await c.query<{ n: number }>(PAGES_READ)).rows[0].n;
    await fn(c);
    const after = (await c.query<{ n: number }>(PAGES_READ)).rows[0].n;
    await c.query('COMMIT');
    return after - before;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

async function put(q: Queryable, key: string): Promise<string> {
  const chunkId = await beginChunk(f.store, f.bucket.id, f.backends);
  await commitVersion(q, {
    ...META,
    bucketId: f.bucket.id,
    key,
    deleteMarker: false,
    size: 10,
    etag: 'etag',
    multipartParts: null,
    parts: [{ partNumber: 1, size: 10, etag: 'etag', checksums: {}, chunkId }],
    fresh: [sealed(chunkId, f.backends, 10)],
    action: 'put',
  });
  return chunkId;
}

for (const analyzed of [false, true]) {
  test(`PutObject, overwrite and a blob state change read a bounded number of pages among ${STORED_CHUNKS} stored chunks (${analyzed ? 'after' : 'before'} ANALYZE)`, async () => {
    if (analyzed) await f.pool.query('ANALYZE chunks; ANALYZE blobs');
    assert.ok(chunkPages > 3 * MAX_PAGES, `the test needs chunks larger than the bound (${chunkPages} pages)`);
    const key = `k-${analyzed}`;
    const first = await pagesRead((q) => put(q, key));
    // An overwrite in an unversioned bucket releases the replaced chunk (fedgate_flag_unreferenced).
    const overwrite = await pagesRead((q) => put(q, key));
    // A replica found missing: fedgate_set_blob_state recounts the chunk's blobs.
    const chunkId = await put(f.pool, `${key}-state`);
    const stateChange = await pagesRead((q) => q.query('SELECT fedgate_set_blob_state($1, $2, $3)', [chunkId, f.backends[0].id, 'missing']));
    for (const [what, pages] of Object.entries({ first, overwrite, stateChange })) {
      assert.ok(pages <= MAX_PAGES, `${what}: ${pages} pages read of chunks / blobs and their indexes (chunks alone: ${chunkPages} pages)`);
    }
  });
}
