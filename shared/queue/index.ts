// Queue names and payloads shared by senders (the data plane) and the workers.
// pg-boss on the metadata PostgreSQL (PRODUCT.md §3).
import { PgBoss } from 'pg-boss';

export const QUEUES = {
  /** Finish the copies of a chunk that missed the synchronous quorum. */
  replicate: 'fedgate-replicate',
} as const;

export interface ReplicatePayload {
  chunkId: string;
}

export function createBoss(connectionString: string): PgBoss {
  return new PgBoss({ connectionString, schema: 'fedgate_jobs', max: 4 });
}

export async function ensureQueues(boss: PgBoss): Promise<void> {
  // Replication retries with exponential backoff for as long as a backend may be down (hours).
  await boss.createQueue(QUEUES.replicate, { policy: 'short', retryLimit: 200, retryDelay: 1, retryBackoff: true, retryDelayMax: 60 }).catch((e: Error) => {
    if (!/already exists/i.test(e.message)) throw e;
  });
}

/** One job per chunk at a time: a second request for the same chunk while one is queued is a no-op. */
export function enqueueReplication(boss: PgBoss, chunkId: string): Promise<string | null> {
  return boss.send(QUEUES.replicate, { chunkId } satisfies ReplicatePayload, { singletonKey: chunkId });
}
