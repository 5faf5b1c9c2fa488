// The live view of the backends: registry rows from the metadata authority, one
// driver each, and the health the pinger last saw (PRODUCT.md §3 "Health pinger").
import type { BackendRow, MetadataStore } from '../../metadata/types.ts';
import type { StorageBackend } from '../storage/types.ts';
import type { Logger } from '../observability/logger.ts';

export interface LiveBackend {
  row: BackendRow;
  driver: StorageBackend;
  healthy: boolean;
  rttMs: number | null;
  lastError: string | null;
  /** Checks in a row that ran out of time (see checkHealth). */
  timeoutsInARow: number;
  /** When the last health check of it ended (performance.now()); 0 before the first. */
  checkedAtMs: number;
}

/**
 * A check that fails outright (connection refused, an error answer) marks a backend unhealthy at
 * once; one that only runs out of time must do so this many times in a row. A busy provider (or a
 * busy machine) answers a ping late now and then while it keeps storing what it is sent, and an
 * unhealthy mark is not free: with fewer than W healthy targets every write is refused with 503.
 * A backend that really hangs is cut loose by the data path's own timeouts in the meantime.
 */
export const UNHEALTHY_AFTER_TIMEOUTS = 2;

export type DriverFactory = (row: BackendRow) => StorageBackend;

export class BackendSet {
  private readonly live = new Map<string, LiveBackend>();
  private readonly store: MetadataStore;
  private readonly makeDriver: DriverFactory;
  private readonly log: Logger;

  constructor(store: MetadataStore, makeDriver: DriverFactory, log: Logger) {
    this.store = store;
    this.makeDriver = makeDriver;
    this.log = log;
  }

  /** Reload the registry; new rows get a driver, removed rows lose theirs. */
  async refresh(): Promise<void> {
    const rows = await this.store.listBackends();
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.id);
      const cur = this.live.get(row.id);
      if (cur) {
        cur.row = row;
      } else {
        this.live.set(row.id, { row, driver: this.makeDriver(row), healthy: row.healthy, rttMs: row.lastRttMs, lastError: row.lastError, timeoutsInARow: 0, checkedAtMs: 0 });
      }
    }
    for (const [id, b] of this.live) {
      if (!seen.has(id)) {
        this.live.delete(id);
        await b.driver.close?.().catch(() => {});
      }
    }
  }

  get(id: string): LiveBackend | undefined {
    return this.live.get(id);
  }

  all(): LiveBackend[] {
    return [...this.live.values()];
  }

  /**
   * Ping the backends in parallel, each within `timeoutMs`, and record what was seen
   * (UNHEALTHY_AFTER_TIMEOUTS). Without `healthyEveryMs` every backend is pinged; with it, one
   * counted healthy only when its last check is at least that old, and one counted unhealthy at
   * every call: the pinger calls this more often than it checks healthy
   * ones, so that a backend that is back is counted in again within a short tick, not a whole
   * health interval (with fewer than W healthy targets every write is refused with 503).
   */
  async checkHealth(timeoutMs: number, opts: { healthyEveryMs?: number } = {}): Promise<void> {
    const now = performance.now();
    const due = this.all().filter((b) => opts.healthyEveryMs === undefined || !b.healthy || now - b.checkedAtMs >= opts.healthyEveryMs);
    await Promise.all(
      due.map(async (b) => {
        const deadline = AbortSignal.timeout(timeoutMs);
        const h = await b.driver.health(deadline).catch((e: Error) => ({ ok: false, rttMs: timeoutMs, error: e.message }));
        b.checkedAtMs = performance.now();
        b.timeoutsInARow = !h.ok && deadline.aborted ? b.timeoutsInARow + 1 : 0;
        const healthy = h.ok || (b.healthy && b.timeoutsInARow > 0 && b.timeoutsInARow < UNHEALTHY_AFTER_TIMEOUTS);
        if (b.healthy !== healthy) this.log.warn({ backend: b.row.name, healthy, error: h.error }, 'backend health changed');
        else if (!h.ok && healthy) this.log.info({ backend: b.row.name, error: h.error, timeoutsInARow: b.timeoutsInARow }, 'backend health check timed out; still counted healthy');
        b.healthy = healthy;
        b.rttMs = h.ok ? h.rttMs : healthy ? b.rttMs : null;
        b.lastError = h.error ?? null;
        await this.store.recordBackendHealth(b.row.id, { healthy, rttMs: b.rttMs, error: b.lastError }).catch(() => {});
      }),
    );
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all().map((b) => b.driver.close?.().catch(() => {})));
    this.live.clear();
  }
}
