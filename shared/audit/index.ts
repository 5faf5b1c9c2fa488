// The audit log (PRODUCT.md §5.3): append-only and hash-chained in PostgreSQL.
// Two ways in:
//   * record(): for the data path (object reads/writes, AI-proxy requests). The event
//     is redacted and queued in memory, and a background flush appends the queue in
//     batches (every flushMs, or at once when maxBatch events wait). It never blocks
//     and never throws; if PostgreSQL is away the queue keeps at most maxQueue events
//     and drops the oldest, counting them in `dropped`.
//   * recordInTransaction(): for metadata changes, appended in the caller's
//     transaction so the change and its audit entry commit (or roll back) together.
//     It takes the chain head's row lock until the caller commits, and every other
//     appender waits for it: call it last, just before COMMIT.
// Delivery from record() is at-least-once: a batch whose COMMIT outcome is unknown
// (connection lost during COMMIT) is retried and may then appear twice, each time as
// a valid link of the chain.
// Secrets: every event's details go through the redact step (redact.ts) first.
import type pg from 'pg';
import { checkOut, isDatabaseUnreachable } from '../../metadata/db.ts';
import { appendEntries, prepareEntry, verifyChain, type AuditEvent, type PreparedEntry, type VerifyResult } from './chain.ts';

export type { AuditEvent, VerifyResult } from './chain.ts';
export type { Plane } from './canonical.ts';
export { GENESIS_HASH, canonicalJson, entryHash } from './canonical.ts';
export { REDACTED, isSecretName, isSecretValue, redactDetails } from './redact.ts';

export interface AuditLog {
  /** Asynchronous, batched: never blocks the data path; events are flushed every `flushMs` or `maxBatch` events. */
  record(e: AuditEvent): void;
  /** Synchronous with a caller's transaction (pg client inside BEGIN…COMMIT): appended in that transaction. */
  recordInTransaction(client: pg.PoolClient, e: AuditEvent): Promise<void>;
  /** Append everything queued so far; rejects if PostgreSQL refuses (the events stay queued for a retry). */
  flush(): Promise<void>;
  /** Walk the chain (optionally from id), recompute each hash; report the first broken link. */
  verify(opts?: { fromId?: number; limit?: number }): Promise<VerifyResult>;
  /** Stops the timer and flushes; rejects if that last flush fails (the events are then lost). */
  close(): Promise<void>;
  /** Events lost: dropped oldest-first when the queue overflowed maxQueue, or refused (bad plane, data error). */
  readonly dropped: number;
  /** Events waiting in memory. */
  readonly pending: number;
}

export interface AuditLogOptions {
  /** Flush period in ms (default 200). */
  flushMs?: number;
  /** Events per append transaction; reaching it triggers a flush (default 500). */
  maxBatch?: number;
  /** Queue bound while PostgreSQL is slow or away (default 100 000). */
  maxQueue?: number;
  /** Background flush failures and refused events; the default ignores them (watch `dropped`). */
  onError?: (e: Error) => void;
}

export function createAuditLog(pool: pg.Pool, opts: AuditLogOptions = {}): AuditLog {
  const flushMs = positive(opts.flushMs, 200);
  const maxBatch = positive(opts.maxBatch, 500);
  const maxQueue = Math.max(positive(opts.maxQueue, 100_000), maxBatch);
  const onError = opts.onError ?? (() => {});
  const report = (err: unknown) => {
    try {
      onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A throwing error handler must not break the flusher or the caller of record().
    }
  };

  let queue: PreparedEntry[] = [];
  let dropped = 0;
  let closed = false;
  // One append at a time per instance keeps this instance's events in record() order.
  let tail: Promise<void> = Promise.resolve();
  let autoFlushQueued = false;

  const timer = setInterval(() => {
    if (queue.length > 0) scheduleFlush();
  }, flushMs);
  // The owner calls close(); a pending timer alone must not keep a process alive.
  timer.unref();

  function trim(): void {
    const over = queue.length - maxQueue;
    if (over > 0) {
      queue.splice(0, over);
      dropped += over;
    }
  }

  function exclusive(fn: () => Promise<void>): Promise<void> {
    const run = tail.then(fn);
    tail = run.catch(() => {});
    return run;
  }

  /** Append up to `count` queued events (those present when the flush was asked for). */
  async function drain(count: number): Promise<void> {
    let left = Math.min(count, queue.length);
    while (left > 0 && queue.length > 0) {
      const batch = queue.splice(0, Math.min(maxBatch, left));
      try {
        await appendBatch(batch);
      } catch (err) {
        if (isDataError(err)) {
          // The batch itself is unstorable: retrying it would stall the log forever.
          dropped += batch.length;
          report(err);
          left -= batch.length;
          continue;
        }
        queue = batch.concat(queue);
        trim();
        throw err;
      }
      left -= batch.length;
    }
  }

  async function appendBatch(batch: PreparedEntry[]): Promise<void> {
    const { client, lost, release } = await checkOut(pool);
    let broken = false;
    try {
      await client.query('BEGIN');
      await appendEntries(client, batch);
      await client.query('COMMIT');
    } catch (err) {
      if (lost() || isDatabaseUnreachable(err)) broken = true;
      else
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
      throw err;
    } finally {
      release(broken);
    }
  }

  function scheduleFlush(): void {
    if (autoFlushQueued) return;
    autoFlushQueued = true;
    exclusive(() => {
      autoFlushQueued = false;
      return drain(queue.length);
    }).catch(report);
  }

  return {
    record(e: AuditEvent): void {
      let entry: PreparedEntry;
      try {
        entry = prepareEntry(e);
      } catch (err) {
        dropped += 1;
        report(err);
        return;
      }
      if (closed) {
        dropped += 1;
        report(new Error('audit log is closed; event dropped'));
        return;
      }
      queue.push(entry);
      trim();
      if (queue.length >= maxBatch) scheduleFlush();
    },

    async recordInTransaction(client: pg.PoolClient, e: AuditEvent): Promise<void> {
      await appendEntries(client, [prepareEntry(e)]);
    },

    flush(): Promise<void> {
      return exclusive(() => drain(queue.length));
    },

    verify(o?: { fromId?: number; limit?: number }): Promise<VerifyResult> {
      return verifyChain(pool, o);
    },

    async close(): Promise<void> {
      closed = true;
      clearInterval(timer);
      await exclusive(() => drain(queue.length));
    },

    get dropped() {
      return dropped;
    },
    get pending() {
      return queue.length;
    },
  };
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}

/** SQLSTATE class 22 (data exception): the values are at fault, not the connection (PostgreSQL Appendix A). */
function isDataError(err: unknown): boolean {
  const code = err && typeof err === 'object' && 'code' in err ? (err as { code: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('22');
}
