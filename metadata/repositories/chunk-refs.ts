// Bookkeeping on chunk rows that every writer shares: row locks, sealing, blob
// states, the blob counters and the "unreferenced since" flag (migrations/001). The
// counting and flagging rules are defined once, as SQL functions in
// migrations/007_write_paths.sql, which the one-round-trip commit uses too.
//
// Protocol: a transaction that adds or drops references to chunks, or changes their
// blobs, first locks the chunk rows (lockChunks, in id order so two writers cannot
// deadlock), and only then recomputes flags / counters in a *later* statement. Under
// READ COMMITTED each statement takes a fresh snapshot, so that later statement sees
// whatever another writer committed before the lock was granted; a single
// UPDATE ... SET x = (subquery) would not (its subquery keeps the older snapshot).
import type { Queryable } from '../db.ts';
import type { SealedChunk } from '../types.ts';
import { callFunction } from './pg-errors.ts';

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
  await q.query('SELECT fedgate_recount_blobs($1::text[])', [[...new Set(ids)]]);
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
  await q.query('SELECT fedgate_flag_unreferenced($1::text[])', [[...new Set(ids)]]);
}

/**
 * Seal freshly written chunks: size, MD5, checksums and the final blob states the
 * writer reported. The chunks must have been begun (beginChunk) and be locked;
 * NotFound otherwise.
 */
export async function sealChunks(q: Queryable, chunks: SealedChunk[]): Promise<void> {
  if (chunks.length === 0) return;
  await callFunction(q, 'fedgate_seal_chunks', chunks);
}
