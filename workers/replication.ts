// Replication: finish the copies of a chunk that missed the synchronous quorum, or
// replace a corrupt or missing one (PRODUCT.md §3). Idempotent: a replica that is
// already 'ok' is left alone; the bytes copied are checked against the chunk's record
// (DataPlane.openChunk) before the copy is marked 'ok'.
import { MetadataError, type MetadataStore } from '../metadata/types.ts';
import type { DataPlane } from '../shared/dataplane/index.ts';
import type { Logger } from '../shared/observability/logger.ts';

/** A blob still 'writing' this long after its last update belongs to a writer that died. */
export const STALE_WRITING_MS = 10 * 60 * 1000;

export async function replicateChunk(deps: { store: MetadataStore; data: DataPlane; log: Logger; timeoutMs: number }, chunkId: string): Promise<{ repaired: number }> {
  const chunk = await deps.store.getChunk(chunkId);
  if (!chunk) return { repaired: 0 }; // collected meanwhile: nothing to do
  // Garbage (its object was deleted or overwritten since the job was queued): no copy is owed,
  // and one made now would only be the GC's to delete. A chunk referenced again (a CopyObject
  // within the GC's grace period) is found by the healer's next round.
  if (chunk.unreferencedSince) return { repaired: 0 };
  const now = Date.now();
  const todo = chunk.blobs.filter(
    (b) => b.state === 'missing' || b.state === 'corrupt' || (b.state === 'writing' && now - b.updatedAt.getTime() > STALE_WRITING_MS),
  );
  if (todo.length === 0) return { repaired: 0 };
  if (!chunk.blobs.some((b) => b.state === 'ok')) throw new Error(`chunk ${chunkId} has no healthy replica to copy from yet`);
  const failures: string[] = [];
  let repaired = 0;
  for (const b of todo) {
    const target = deps.data.backends.get(b.backendId);
    if (!target) continue; // backend removed; placement checking re-homes the copy
    try {
      await target.driver.ensureBucket(b.physicalBucket, AbortSignal.timeout(deps.timeoutMs));
      // openChunk checks the whole chunk against its recorded CRC-32C (or MD5) as it streams:
      // a source replica with other bytes fails the put (and is marked corrupt) before the
      // copy could be taken for a good one.
      const source = await deps.data.openChunk(chunk);
      const loc = { bucket: b.physicalBucket, key: b.physicalKey };
      await target.driver.put(loc, source, chunk.size);
      try {
        await deps.store.setBlobState(chunkId, b.backendId, 'ok');
      } catch (e) {
        // Removed while we copied (the GC doomed it: its doomed list may have been worked
        // through before this copy landed): take the copy back, or no row would lead to it.
        if (e instanceof MetadataError && e.code === 'NotFound') {
          await target.driver.delete(loc, AbortSignal.timeout(deps.timeoutMs)).catch(() => {});
          return { repaired };
        }
        throw e;
      }
      repaired++;
    } catch (e) {
      failures.push(`${target.row.name}: ${(e as Error).message}`);
    }
  }
  if (failures.length > 0) {
    deps.log.info({ chunkId, failures }, 'replication incomplete; will retry');
    throw new Error(`replication of chunk ${chunkId} incomplete: ${failures.join('; ')}`);
  }
  deps.log.info({ chunkId, repaired }, 'chunk replicas repaired');
  return { repaired };
}
