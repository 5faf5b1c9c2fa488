// Composition root of the workers: the pg-boss replication consumer plus the
// periodic healer, garbage collector and health pinger (PRODUCT.md §3). `fedgate
// serve` runs them in-process; everything arrives as arguments.
import type { PgBoss } from 'pg-boss';
import type { MetadataStore } from '../metadata/types.ts';
import type { DataPlane } from '../shared/dataplane/index.ts';
import type { Logger } from '../shared/observability/logger.ts';
import { QUEUES, enqueueReplication, type ReplicatePayload } from '../shared/queue/index.ts';
import { replicateChunk } from './replication.ts';

export interface WorkerOptions {
  healthIntervalMs: number;
  healIntervalMs: number;
  gcIntervalMs: number;
  /** Unreferenced chunks younger than this are left alone (an upload may still be writing them). */
  gcGraceMs: number;
  timeoutMs: number;
}

export const DEFAULT_WORKER_OPTIONS: WorkerOptions = {
  healthIntervalMs: 5_000,
  healIntervalMs: 30_000,
  gcIntervalMs: 60_000,
  gcGraceMs: 60 * 60 * 1000,
  timeoutMs: 10_000,
};

export interface Workers {
  /** Run one round of healing and GC now (tests, admin). */
  healNow(): Promise<number>;
  gcNow(): Promise<number>;
  stop(): Promise<void>;
}

export async function startWorkers(deps: { store: MetadataStore; data: DataPlane; boss: PgBoss; log: Logger }, opts: WorkerOptions = DEFAULT_WORKER_OPTIONS): Promise<Workers> {
  const { store, data, boss, log } = deps;
  await boss.work<ReplicatePayload>(QUEUES.replicate, { batchSize: 1, pollingIntervalSeconds: 1 }, async ([job]) => {
    await replicateChunk({ store, data, log, timeoutMs: opts.timeoutMs }, job.data.chunkId);
  });

  const healNow = async () => {
    const chunks = await store.listUnderReplicatedChunks(500);
    for (const c of chunks) await enqueueReplication(boss, c.id);
    return chunks.length;
  };
  const gcNow = async () => {
    const chunks = await store.listGarbageChunks(500, opts.gcGraceMs);
    let removed = 0;
    for (const c of chunks) {
      try {
        await data.removeChunk(c.id);
        removed++;
      } catch (e) {
        log.debug({ chunkId: c.id, err: (e as Error).message }, 'gc: chunk not removable yet');
      }
    }
    if (removed > 0) log.info({ removed }, 'gc: removed unreferenced chunks');
    return removed;
  };

  const timers: NodeJS.Timeout[] = [];
  let stopping = false;
  const every = (ms: number, name: string, fn: () => Promise<unknown>) => {
    let running = false;
    const t = setInterval(() => {
      if (running || stopping) return;
      running = true;
      fn()
        .catch((e) => log.warn({ task: name, err: (e as Error).message }, 'background task failed'))
        .finally(() => (running = false));
    }, ms);
    t.unref();
    timers.push(t);
  };
  every(opts.healthIntervalMs, 'health', async () => {
    await data.backends.refresh();
    await data.backends.checkHealth(Math.min(opts.timeoutMs, opts.healthIntervalMs));
  });
  every(opts.healIntervalMs, 'heal', healNow);
  every(opts.gcIntervalMs, 'gc', gcNow);

  return {
    healNow,
    gcNow,
    async stop() {
      stopping = true;
      for (const t of timers) clearInterval(t);
      await boss.offWork(QUEUES.replicate).catch(() => {});
    },
  };
}
