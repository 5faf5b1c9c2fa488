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
}

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
        this.live.set(row.id, { row, driver: this.makeDriver(row), healthy: row.healthy, rttMs: row.lastRttMs, lastError: row.lastError });
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

  /** Ping every backend once, in parallel; record what was seen. */
  async checkHealth(timeoutMs: number): Promise<void> {
    await Promise.all(
      this.all().map(async (b) => {
        const h = await b.driver.health(AbortSignal.timeout(timeoutMs)).catch((e: Error) => ({ ok: false, rttMs: timeoutMs, error: e.message }));
        if (b.healthy !== h.ok) this.log.warn({ backend: b.row.name, healthy: h.ok, error: h.error }, 'backend health changed');
        b.healthy = h.ok;
        b.rttMs = h.ok ? h.rttMs : null;
        b.lastError = h.error ?? null;
        await this.store.recordBackendHealth(b.row.id, { healthy: h.ok, rttMs: b.rttMs, error: b.lastError }).catch(() => {});
      }),
    );
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all().map((b) => b.driver.close?.().catch(() => {})));
    this.live.clear();
  }
}
