// Bookkeeping on chunk rows that every writer shares: row locks, sealing, blob
// states, the blob counters and the "unreferenced since" flag (migrations/001).
//
// Protocol: a transaction that adds or drops references to chunks, or changes their
// blobs, first locks the chunk rows (lockChunks, in id order so two writers cannot
// deadlock), and only then recomputes flags / counters in a *later* statement. Under
// READ COMMITTED each statement takes a fresh snapshot, so that later statement sees
// whatever another writer committed before the lock was granted; a single
// UPDATE ... SET x = (subquery) would not (its subquery keeps the older snapshot).
import type { Queryable } from '../db.ts';
import { MetadataError, type BlobState, type SealedChunk } from '../types.ts';

/** Lock chunk rows in id order; returns the ids that exist. */
export async function lockChunks(q: Queryable, ids: string[]): Promise<Set<string>> {
  const unique = [...new Set(ids)].sort();
  if (unique.length === 0) return new Set();
  const r = await q.query<{ id: string }>('SELECT id FROM chunks WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [unique]);
  return new Set(r.rows.map((row) => row.id));
}

/** Recompute ok_blobs / bad_blobs from the blob rows. Callers hold the row locks. */
export async function recountBlobs(q: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await q.query(
    `UPDATE chunks c SET
       ok_blobs  = (SELECT count(*) FROM blobs b WHERE b.chunk_id = c.id AND b.state = 'ok'),
       bad_blobs = (SELECT count(*) FROM blobs b WHERE b.chunk_id = c.id AND b.state IN ('missing', 'corrupt'))
     WHERE c.id = ANY($1::text[])`,
    [[...new Set(ids)]],
  );
}

/** The chunks now have a reference: not garbage. Callers hold the row locks. */
export async function markReferenced(q: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await q.query('UPDATE chunks SET unreferenced_since = NULL WHERE id = ANY($1::text[]) AND unreferenced_since IS NOT NULL', [[...new Set(ids)]]);
}

/**
 * After references were dropped: flag the chunks no version and no upload part
 * references any more. Callers hold the row locks (see the protocol above).
 */
export async function markIfUnreferenced(q: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await q.query(
    `UPDATE chunks c SET unreferenced_since = now()
      WHERE c.id = ANY($1::text[]) AND c.unreferenced_since IS NULL
        AND NOT EXISTS (SELECT 1 FROM version_parts vp WHERE vp.chunk_id = c.id)
        AND NOT EXISTS (SELECT 1 FROM upload_parts up WHERE up.chunk_id = c.id)`,
    [[...new Set(ids)]],
  );
}

/**
 * Seal freshly written chunks: size, MD5, checksums and the final blob states the
 * writer reported. The chunks must have been begun (beginChunk) and be locked.
 */
export async function sealChunks(q: Queryable, chunks: SealedChunk[]): Promise<void> {
  if (chunks.length === 0) return;
  const sealed = await q.query<{ id: string }>(
    `UPDATE chunks c SET size = s.size, md5 = s.md5, checksums = s.checksums::jsonb, sealed_at = now()
       FROM (SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS t(id, size, md5, checksums)) s
      WHERE c.id = s.id
      RETURNING c.id`,
    [chunks.map((c) => c.chunkId), chunks.map((c) => c.size), chunks.map((c) => c.md5), chunks.map((c) => JSON.stringify(c.checksums ?? {}))],
  );
  if (sealed.rows.length !== new Set(chunks.map((c) => c.chunkId)).size) {
    const found = new Set(sealed.rows.map((r) => r.id));
    const missing = chunks.find((c) => !found.has(c.chunkId));
    throw new MetadataError('NotFound', `chunk ${missing?.chunkId} was never begun (or was already removed)`);
  }
  const states = chunks.flatMap((c) => c.blobStates.map((b) => ({ chunkId: c.chunkId, ...b })));
  await applyBlobStates(q, states);
  await recountBlobs(
    q,
    chunks.map((c) => c.chunkId),
  );
}

/** Set blob states in one statement (PG-only multi-argument unnest; CockroachDB has it too). */
export async function applyBlobStates(q: Queryable, states: { chunkId: string; backendId: string; state: BlobState }[]): Promise<number> {
  if (states.length === 0) return 0;
  const r = await q.query(
    `UPDATE blobs b SET state = s.state, updated_at = now()
       FROM (SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[]) AS t(chunk_id, backend_id, state)) s
      WHERE b.chunk_id = s.chunk_id AND b.backend_id = s.backend_id`,
    [states.map((s) => s.chunkId), states.map((s) => s.backendId), states.map((s) => s.state)],
  );
  return r.rowCount ?? 0;
}
