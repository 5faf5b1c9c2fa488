// Chunks and their blobs as the write path, the healer and the GC see them.
import type pg from 'pg';
import { withTransaction, type Queryable } from '../db.ts';
import { MetadataError, type BlobState, type ChunkRow } from '../types.ts';
import { appendChange } from './changelog.ts';
import { lockChunks, recountBlobs } from './chunk-refs.ts';
import { isForeignKeyViolation, isUniqueViolation } from './pg-errors.ts';
import { CHUNK_COLUMNS, loadBlobs, loadChunks, toChunk, type ChunkDbRow } from './rows.ts';

export async function beginChunk(
  pool: pg.Pool,
  input: { chunkId: string; bucketId: string; blobs: { backendId: string; physicalBucket: string; physicalKey: string }[] },
): Promise<void> {
  try {
    await withTransaction(pool, async (tx) => {
      // unreferenced_since defaults to now(): an interrupted write leaves a chunk the GC
      // collects once its grace period is over.
      await tx.query('INSERT INTO chunks (id, bucket_id) VALUES ($1, $2)', [input.chunkId, input.bucketId]);
      if (input.blobs.length > 0) {
        await tx.query(
          `INSERT INTO blobs (chunk_id, backend_id, physical_bucket, physical_key, state)
           SELECT $1, t.backend_id, t.physical_bucket, t.physical_key, 'writing'
             FROM unnest($2::uuid[], $3::text[], $4::text[]) AS t(backend_id, physical_bucket, physical_key)`,
          [input.chunkId, input.blobs.map((b) => b.backendId), input.blobs.map((b) => b.physicalBucket), input.blobs.map((b) => b.physicalKey)],
        );
      }
      await appendChange(tx, 'chunk', 'begin', { id: input.chunkId, bucketId: input.bucketId, backends: input.blobs.map((b) => b.backendId) });
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new MetadataError('ConditionalRequestConflict', `chunk ${input.chunkId} already exists`);
    if (isForeignKeyViolation(err)) throw new MetadataError('NotFound', 'a target backend does not exist');
    throw err;
  }
}

export async function setBlobState(pool: pg.Pool, chunkId: string, backendId: string, state: BlobState): Promise<void> {
  await withTransaction(pool, async (tx) => {
    await lockChunks(tx, [chunkId]);
    const r = await tx.query('UPDATE blobs SET state = $3, updated_at = now() WHERE chunk_id = $1 AND backend_id = $2', [chunkId, backendId, state]);
    if (r.rowCount === 0) throw new MetadataError('NotFound', `no blob of chunk ${chunkId} on backend ${backendId}`);
    await recountBlobs(tx, [chunkId]);
    await appendChange(tx, 'blob', 'state', { chunkId, backendId, state });
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
 * Remove a chunk and its blob rows. Idempotent for a chunk already gone. A chunk that
 * gained a reference since the caller decided to delete it (a zero-copy CopyObject
 * within the grace period) is refused with ConditionalRequestConflict: its blobs are
 * in use again.
 */
export async function deleteChunk(pool: pg.Pool, chunkId: string): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const found = await lockChunks(tx, [chunkId]);
    if (!found.has(chunkId)) return;
    const used = await tx.query(
      `SELECT 1 WHERE EXISTS (SELECT 1 FROM version_parts WHERE chunk_id = $1)
                    OR EXISTS (SELECT 1 FROM upload_parts WHERE chunk_id = $1)`,
      [chunkId],
    );
    if (used.rows.length > 0) throw new MetadataError('ConditionalRequestConflict', `chunk ${chunkId} is referenced and cannot be deleted`);
    await tx.query('DELETE FROM chunks WHERE id = $1', [chunkId]);
    await appendChange(tx, 'chunk', 'delete', { id: chunkId });
  });
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

async function withBlobs(q: Queryable, rows: ChunkDbRow[]): Promise<ChunkRow[]> {
  const blobs = await loadBlobs(
    q,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toChunk(r, blobs.get(r.id) ?? []));
}
