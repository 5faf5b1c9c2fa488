// Queue names and payloads shared by senders (the data plane) and the workers.
// pg-boss on the metadata PostgreSQL (PRODUCT.md §3).
import { PgBoss, type ConstructorOptions } from 'pg-boss';

export const QUEUES = {
  /** Finish the copies of a chunk that missed the synchronous quorum. */
  replicate: 'fedgate-replicate',
} as const;

/** pg-boss's tables live in a schema of their own in the metadata database. */
const SCHEMA = 'fedgate_jobs';

export interface ReplicatePayload {
  chunkId: string;
}

/**
 * `timeoutMs` (FEDGATE_DB_TIMEOUT_MS) bounds each connect and each statement, as on the
 * gateway's own pool: without it a statement on a connection to a database that stopped
 * answering (paused, or cut off by the network) waited until the kernel gave the connection up
 * (~15 min), and the heal, GC and scrub loops waiting on it ran no round in the meantime. A
 * statement that timed out fails (its caller retries on its next round) and pg-pool closes its
 * connection.
 */
export function createBoss(connectionString: string, timeoutMs: number): PgBoss {
  // pg-boss hands its options to pg.Pool as they are; `query_timeout` is pg's, not in pg-boss's types.
  const options: ConstructorOptions & { query_timeout: number } = { connectionString, schema: SCHEMA, max: 4, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs };
  return new PgBoss(options);
}

/**
 * Install or upgrade pg-boss's schema on a connection without FEDGATE_DB_TIMEOUT_MS, as our own
 * migrations run (shared/runtime): a first install takes ~0.2 s, and an upgrade of pg-boss that
 * rewrites a large job table, or one waiting for another starter's schema lock, could take longer
 * than any statement timeout and would then fail every start. A short-lived instance that runs no
 * supervision and no schedules does it; the instance createBoss makes then finds the schema current.
 */
export async function migrateQueueSchema(connectionString: string): Promise<void> {
  const boss = new PgBoss({ connectionString, schema: SCHEMA, max: 1, supervise: false, schedule: false });
  boss.on('error', () => {});
  try {
    await boss.start();
  } finally {
    await boss.stop({ graceful: false }).catch(() => {});
  }
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
