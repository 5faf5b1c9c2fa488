// Replication: finish the copies of a chunk that missed the synchronous quorum
// (PRODUCT.md §3). Idempotent: a replica that is already 'ok' is left alone; the
// copy is verified against the chunk's MD5 before it is marked 'ok'.
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { MetadataStore } from '../metadata/types.ts';
import type { DataPlane } from '../shared/dataplane/index.ts';
import type { Logger } from '../shared/observability/logger.ts';

/** A blob still 'writing' this long after its last update belongs to a writer that died. */
export const STALE_WRITING_MS = 10 * 60 * 1000;

export async function replicateChunk(deps: { store: MetadataStore; data: DataPlane; log: Logger; timeoutMs: number }, chunkId: string): Promise<{ repaired: number }> {
  const chunk = await deps.store.getChunk(chunkId);
  if (!chunk) return { repaired: 0 }; // collected meanwhile: nothing to do
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
      const source = await deps.data.openChunk(chunk);
      const md5 = createHash('md5');
      const tap = new PassThrough();
      tap.on('data', (c: Buffer) => md5.update(c));
      source.on('error', (e) => tap.destroy(e));
      source.pipe(tap);
      await target.driver.put({ bucket: b.physicalBucket, key: b.physicalKey }, tap, chunk.size);
      if (md5.digest('hex') !== chunk.md5) {
        await target.driver.delete({ bucket: b.physicalBucket, key: b.physicalKey }).catch(() => {});
        throw new Error('source replica returned bytes whose MD5 differs from the recorded one');
      }
      await deps.store.setBlobState(chunkId, b.backendId, 'ok');
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
