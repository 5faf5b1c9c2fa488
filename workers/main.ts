// Composition root of the workers: the pg-boss replication consumer plus the
// periodic healer, scrubber, garbage collector and health pinger (PRODUCT.md §3). `fedgate
// serve` runs them in-process, `fedgate worker` alone; everything arrives as arguments.
import type http from 'node:http';
import type { JobResult, PgBoss } from 'pg-boss';
import { DEFAULT_GC_GRACE_MS } from '../shared/config/index.ts';
import { sendJson } from '../shared/http/json.ts';
import { integrity } from '../shared/observability/integrity-metrics.ts';
import type { MetadataStore } from '../metadata/types.ts';
import type { DataPlane } from '../shared/dataplane/index.ts';
import type { Logger } from '../shared/observability/logger.ts';
import { QUEUES, enqueueReplication, type ReplicatePayload } from '../shared/queue/index.ts';
import { replicateChunk } from './replication.ts';
import { scrubRound, type ScrubOptions, type ScrubReport } from './scrub.ts';

const REPAIR_BATCH = 16;
const REPAIR_PARALLEL = 4;

/** fn over items, at most `limit` at a time, results in item order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

export interface WorkerOptions {
  /** How often a backend counted healthy is checked. */
  healthIntervalMs: number;
  /** How often a backend counted unhealthy is checked again (at most healthIntervalMs). */
  unhealthyRecheckMs: number;
  healIntervalMs: number;
  gcIntervalMs: number;
  /** Unreferenced chunks younger than this are left alone (an upload may still be writing them). */
  gcGraceMs: number;
  timeoutMs: number;
  /** Pause between scrub rounds; 0 turns scrubbing off. */
  scrubIntervalMs: number;
  scrub: ScrubOptions;
}

export const DEFAULT_WORKER_OPTIONS: WorkerOptions = {
  healthIntervalMs: 5_000,
  unhealthyRecheckMs: 1_000,
  healIntervalMs: 30_000,
  gcIntervalMs: 60_000,
  gcGraceMs: DEFAULT_GC_GRACE_MS,
  timeoutMs: 10_000,
  // About 1 MiB/s of read-back on average (~84 GiB of replicas a day; FEDGATE_SCRUB_* in the README).
  scrubIntervalMs: 60_000,
  scrub: { maxBlobs: 1000, maxBytes: 64 * 1024 * 1024 },
};

/** The worker options `fedgate serve` runs with, from its configuration. */
export function workerOptionsFromConfig(config: { backendTimeoutMs: number; gcGraceMs: number; scrubIntervalMs: number; scrubMiBPerRound: number }): WorkerOptions {
  return {
    ...DEFAULT_WORKER_OPTIONS,
    timeoutMs: config.backendTimeoutMs,
    gcGraceMs: config.gcGraceMs,
    scrubIntervalMs: config.scrubIntervalMs,
    scrub: { ...DEFAULT_WORKER_OPTIONS.scrub, maxBytes: Math.max(1, config.scrubMiBPerRound) * 1024 * 1024 },
  };
}

export interface Workers {
  /** Run one round of healing and GC now (tests, admin). */
  healNow(): Promise<number>;
  gcNow(): Promise<number>;
  /** One scrub round now; `budget` overrides the configured per-round limits for this round. */
  scrubNow(budget?: Partial<ScrubOptions>): Promise<ScrubReport>;
  stop(): Promise<void>;
}

export async function startWorkers(deps: { store: MetadataStore; data: DataPlane; boss: PgBoss; log: Logger }, opts: WorkerOptions = DEFAULT_WORKER_OPTIONS): Promise<Workers> {
  const { store, data, boss, log } = deps;
  // Batches of REPAIR_BATCH jobs, fetched back to back while they come full (burst), each
  // batch repaired REPAIR_PARALLEL at a time, each job settled on its own (a chunk that cannot
  // be repaired yet retries alone). One job per poll would heal one chunk per second: hours
  // for the backlog of a provider that was away.
  await boss.work<ReplicatePayload>(
    QUEUES.replicate,
    { batchSize: REPAIR_BATCH, burstWhenBatchFull: true, perJobResults: true, pollingIntervalSeconds: 1 },
    async (jobs) =>
      mapLimit(jobs, REPAIR_PARALLEL, async (job): Promise<JobResult> => {
        try {
          await replicateChunk({ store, data, log, timeoutMs: opts.timeoutMs }, job.data.chunkId);
          integrity.repair('completed');
          return { id: job.id, status: 'completed' };
        } catch (e) {
          integrity.repair('failed');
          return { id: job.id, status: 'failed', output: { message: (e as Error).message } };
        }
      }),
  );

  const healNow = async () => {
    const chunks = await store.listUnderReplicatedChunks(500);
    for (const c of chunks) await enqueueReplication(boss, c.id);
    return chunks.length;
  };
  // A round: blobs doomed earlier and not yet deleted (their backend was away, or a remover
  // stopped half-way), then the chunks unreferenced for the grace period, each re-checked under
  // its row lock as it is doomed (a CopyObject may have referenced it since the listing).
  const gcNow = async () => {
    const leftover = await data.deleteDoomed(await store.listDoomedBlobs(500));
    const chunks = await store.listGarbageChunks(500, opts.gcGraceMs);
    let removed = 0;
    for (const c of chunks) {
      try {
        if (await data.removeChunk(c.id, opts.gcGraceMs)) removed++;
      } catch (e) {
        log.debug({ chunkId: c.id, err: (e as Error).message }, 'gc: chunk not removable yet');
      }
    }
    if (removed > 0 || leftover > 0) log.info({ removed, leftoverBlobsDeleted: leftover }, 'gc: removed unreferenced chunks');
    return removed;
  };

  const scrubNow = (budget?: Partial<ScrubOptions>) => scrubRound({ store, data, log }, { ...opts.scrub, ...budget });

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
  // The pinger ticks at the re-check interval: backends counted unhealthy are checked at every
  // tick, so one that is back counts again within about a second (until then, with fewer than W
  // healthy targets, writes are refused); healthy ones and the registry once per health interval.
  const tickMs = Math.min(opts.unhealthyRecheckMs, opts.healthIntervalMs);
  // Half a tick early, so that the health interval is kept, not rounded up to the next tick.
  const fullRoundMs = opts.healthIntervalMs - tickMs / 2;
  let refreshedAt = -Infinity;
  every(tickMs, 'health', async () => {
    if (performance.now() - refreshedAt >= fullRoundMs) {
      refreshedAt = performance.now();
      await data.backends.refresh();
    }
    await data.backends.checkHealth(Math.min(opts.timeoutMs, opts.healthIntervalMs), { healthyEveryMs: fullRoundMs });
  });
  every(opts.healIntervalMs, 'heal', healNow);
  every(opts.gcIntervalMs, 'gc', gcNow);
  if (opts.scrubIntervalMs > 0) every(opts.scrubIntervalMs, 'scrub', scrubNow);

  return {
    healNow,
    gcNow,
    scrubNow,
    async stop() {
      stopping = true;
      for (const t of timers) clearInterval(t);
      await boss.offWork(QUEUES.replicate).catch(() => {});
    },
  };
}

/**
 * `POST /admin/scrub` on the admin listener: one scrub round now, answered with its report
 * (what `mc admin heal` is to MinIO, for one round). Mounted by `fedgate serve`.
 */
export function workersAdminRoute(workers: Workers): (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean> {
  return async (req, res, url) => {
    if (url.pathname.replace(/\/+$/, '') !== '/admin/scrub' || req.method !== 'POST') return false;
    sendJson(res, 200, await workers.scrubNow());
    return true;
  };
}
