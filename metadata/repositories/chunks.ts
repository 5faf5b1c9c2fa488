// Chunks and their blobs as the write path, the healer and the GC see them.
import type pg from 'pg';
import { prepared, retrying, withTransaction, type Queryable } from '../db.ts';
import { MetadataError, type BlobState, type ChunkRow, type DoomedBlob, type ScrubCandidate } from '../types.ts';
import { appendChange } from './changelog.ts';
import { lockChunks, recountBlobs } from './chunk-refs.ts';
import { asMetadataError, isForeignKeyViolation, isUniqueViolation } from './pg-errors.ts';
import { CHUNK_COLUMNS, loadBlobs, loadChunks, toChunk, type ChunkDbRow } from './rows.ts';

const BEGIN_CHUNK = prepared(
  'fedgate_begin_chunk',
  `WITH chunk AS (INSERT INTO chunks (id, bucket_id) VALUES ($1, $2) RETURNING id),
            blob AS (INSERT INTO blobs (chunk_id, backend_id, physical_bucket, physical_key, state)
                     SELECT chunk.id, t.backend_id, t.physical_bucket, t.physical_key, 'writing'
                       FROM chunk, unnest($3::uuid[], $4::text[], $5::text[]) AS t(backend_id, physical_bucket, physical_key))
       INSERT INTO changelog (entity, action, data) VALUES ('chunk', 'begin', $6)`,
);

export async function beginChunk(
  pool: pg.Pool,
  input: { chunkId: string; bucketId: string; blobs: { backendId: string; physicalBucket: string; physicalKey: string }[] },
): Promise<void> {
  try {
    // One statement, so atomic without a transaction of its own. unreferenced_since defaults
    // to now(): an interrupted write leaves a chunk the GC collects once its grace period is over.
    await pool.query(
      BEGIN_CHUNK,
      [
        input.chunkId,
        input.bucketId,
        input.blobs.map((b) => b.backendId),
        input.blobs.map((b) => b.physicalBucket),
        input.blobs.map((b) => b.physicalKey),
        JSON.stringify({ id: input.chunkId, bucketId: input.bucketId, backends: input.blobs.map((b) => b.backendId) }),
      ],
    );
  } catch (err) {
    if (isUniqueViolation(err)) throw new MetadataError('ConditionalRequestConflict', `chunk ${input.chunkId} already exists`);
    if (isForeignKeyViolation(err)) throw new MetadataError('NotFound', 'a target backend does not exist');
    throw err;
  }
}

export async function setBlobState(pool: pg.Pool, chunkId: string, backendId: string, state: BlobState): Promise<void> {
  await retrying(async () => {
    try {
      await pool.query(prepared('fedgate_set_blob_state', 'SELECT fedgate_set_blob_state($1, $2, $3)'), [chunkId, backendId, state]);
    } catch (err) {
      throw asMetadataError(err) ?? err;
    }
  });
}

export async function upsertBlob(
  pool: pg.Pool,
  blob: { chunkId: string; backendId: string; physicalBucket: string; physicalKey: string; state: BlobState },
): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const found = await lockChunks(tx, [blob.chunkId]);
    if (!found.has(blob.chunkId)) throw new MetadataError('NotFound', `chunk ${blob.chunkId} does not exist`);
    try {
      await tx.query(
        `INSERT INTO blobs (chunk_id, backend_id, physical_bucket, physical_key, state) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (chunk_id, backend_id) DO UPDATE
           SET physical_bucket = EXCLUDED.physical_bucket, physical_key = EXCLUDED.physical_key, state = EXCLUDED.state, updated_at = now()`,
        [blob.chunkId, blob.backendId, blob.physicalBucket, blob.physicalKey, blob.state],
      );
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new MetadataError('NotFound', `backend ${blob.backendId} does not exist`);
      throw err;
    }
    await recountBlobs(tx, [blob.chunkId]);
    await appendChange(tx, 'blob', 'upsert', { chunkId: blob.chunkId, backendId: blob.backendId, state: blob.state });
  });
}

export async function getChunk(q: Queryable, chunkId: string): Promise<ChunkRow | null> {
  const [chunk] = await loadChunks(q, [chunkId]);
  return chunk ?? null;
}

/**
 * Decide to remove a chunk, for good (migrations/011): under its row lock, and only if no version
 * and no upload part references it (and, with `graceMs`, none did and it was not created within
 * that long), its blob rows move to doomed_blobs and its rows are deleted, in one transaction.
 * Returns the blobs now to be deleted from the backends (`[]` when the chunk was already gone),
 * or null when the chunk stays. A reference attempted afterwards fails on the missing chunk row,
 * so deleting the blobs can never take bytes from under a committed object.
 */
export async function doomChunk(q: Queryable, chunkId: string, graceMs: number | null): Promise<DoomedBlob[] | null> {
  const r = await q.query<{ r: DoomedBlob[] | null }>(prepared('fedgate_doom_chunk', 'SELECT fedgate_doom_chunk($1, $2) AS r'), [
    chunkId,
    graceMs === null ? null : Math.max(0, Math.floor(graceMs)),
  ]);
  return r.rows[0].r;
}

/** Doomed blobs not yet deleted (a backend was away, or the remover stopped), least recently tried first. */
export async function listDoomedBlobs(q: Queryable, limit: number): Promise<DoomedBlob[]> {
  const r = await q.query<{ chunk_id: string; backend_id: string; physical_bucket: string; physical_key: string }>(
    'SELECT chunk_id, backend_id, physical_bucket, physical_key FROM doomed_blobs ORDER BY tried_at, chunk_id, backend_id LIMIT $1',
    [limit],
  );
  return r.rows.map((x) => ({ chunkId: x.chunk_id, backendId: x.backend_id, physicalBucket: x.physical_bucket, physicalKey: x.physical_key }));
}

/** A doomed blob was deleted from its backend (`deleted`), or its delete failed: then it goes to the back of the list. */
export async function settleDoomedBlob(q: Queryable, blob: { chunkId: string; backendId: string }, deleted: boolean): Promise<void> {
  await q.query(
    deleted ? 'DELETE FROM doomed_blobs WHERE chunk_id = $1 AND backend_id = $2' : 'UPDATE doomed_blobs SET tried_at = now() WHERE chunk_id = $1 AND backend_id = $2',
    [blob.chunkId, blob.backendId],
  );
}

/**
 * A writer still streaming into a chunk it began renews its lease: an unreferenced chunk counts
 * as unreferenced from now, so the GC's grace period starts again. False when the chunk is gone
 * (doomed: the write must fail). One row update, serialised with fedgate_doom_chunk by the row lock.
 */
export async function renewChunk(q: Queryable, chunkId: string): Promise<boolean> {
  const r = await q.query(
    prepared(
      'fedgate_renew_chunk',
      'UPDATE chunks SET unreferenced_since = CASE WHEN unreferenced_since IS NULL THEN NULL ELSE now() END WHERE id = $1',
    ),
    [chunkId],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * Chunks no version and no upload part references, created more than `olderThanMs`
 * ago and unreferenced for at least as long: the grace period also protects a chunk
 * that only just lost its last reference while a copy of it is being committed.
 */
export async function listGarbageChunks(q: Queryable, limit: number, olderThanMs: number): Promise<ChunkRow[]> {
  const r = await q.query<ChunkDbRow>(
    `SELECT ${CHUNK_COLUMNS} FROM chunks c
      WHERE c.unreferenced_since IS NOT NULL
        AND c.unreferenced_since <= now() - $2 * interval '1 millisecond'
        AND c.created_at <= now() - $2 * interval '1 millisecond'
        AND NOT EXISTS (SELECT 1 FROM version_parts vp WHERE vp.chunk_id = c.id)
        AND NOT EXISTS (SELECT 1 FROM upload_parts up WHERE up.chunk_id = c.id)
      ORDER BY c.unreferenced_since, c.id
      LIMIT $1`,
    [limit, Math.max(0, olderThanMs)],
  );
  return withBlobs(q, r.rows);
}

/** Wanted full copies per chunk (StandardClass, PRODUCT.md §1.3); a parameter once classes are data. */
export const WANTED_COPIES = 3;

/**
 * Referenced chunks with fewer 'ok' blobs than wanted, or any blob 'missing' /
 * 'corrupt'; fewest good copies first. Served from the maintained counters, so the
 * cost follows the number of unhealthy chunks, not all chunks.
 */
export async function listUnderReplicatedChunks(q: Queryable, limit: number, wanted = WANTED_COPIES): Promise<ChunkRow[]> {
  const r = await q.query<ChunkDbRow>(
    `SELECT ${CHUNK_COLUMNS} FROM chunks c
      WHERE c.unreferenced_since IS NULL AND (c.ok_blobs < $2 OR c.bad_blobs > 0)
      ORDER BY c.ok_blobs, c.created_at, c.id
      LIMIT $1`,
    [limit, wanted],
  );
  return withBlobs(q, r.rows);
}

/**
 * 'ok' replicas of sealed, referenced chunks, the ones verified longest ago (never first),
 * for the scrubber. Chunks without a recorded MD5 cannot be checked and are left out.
 */
export async function listBlobsToScrub(q: Queryable, limit: number, skipBackends: string[] = []): Promise<ScrubCandidate[]> {
  const r = await q.query<{ chunk_id: string; backend_id: string; physical_bucket: string; physical_key: string; size: string; md5: string; crc32c: string }>(
    `SELECT b.chunk_id, b.backend_id, b.physical_bucket, b.physical_key, c.size, c.md5, c.crc32c
       FROM blobs b JOIN chunks c ON c.id = b.chunk_id
      WHERE b.state = 'ok' AND c.sealed_at IS NOT NULL AND c.unreferenced_since IS NULL AND c.md5 <> ''
        AND NOT (b.backend_id = ANY ($2::uuid[]))
      ORDER BY b.verified_at NULLS FIRST, b.chunk_id, b.backend_id
      LIMIT $1`,
    [limit, skipBackends],
  );
  return r.rows.map((x) => ({ chunkId: x.chunk_id, backendId: x.backend_id, physicalBucket: x.physical_bucket, physicalKey: x.physical_key, size: Number(x.size), md5: x.md5, crc32c: x.crc32c }));
}

/** The scrubber read this replica back and its MD5 matched. Not a metadata change: no changelog row. */
export async function markBlobVerified(q: Queryable, chunkId: string, backendId: string): Promise<void> {
  await q.query(`UPDATE blobs SET verified_at = now() WHERE chunk_id = $1 AND backend_id = $2 AND state = 'ok'`, [chunkId, backendId]);
}

async function withBlobs(q: Queryable, rows: ChunkDbRow[]): Promise<ChunkRow[]> {
  const blobs = await loadBlobs(
    q,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toChunk(r, blobs.get(r.id) ?? []));
}
