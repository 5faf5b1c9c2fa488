// Scrubbing (PRODUCT.md §3, "Healing / scrubbing"): providers are not trusted to keep what
// they acknowledged. Each round reads back the 'ok' replicas verified longest ago (never
// first), within a byte budget, and compares each with its chunk's recorded size and MD5.
// A replica with other bytes is marked 'corrupt', one the provider no longer has 'missing';
// either way its chunk goes to the repair queue, and reads stop using it at once.
import type { MetadataStore } from '../metadata/types.ts';
import type { DataPlane } from '../shared/dataplane/index.ts';
import type { Logger } from '../shared/observability/logger.ts';
import { integrity } from '../shared/observability/integrity-metrics.ts';

export interface ScrubOptions {
  /** Replicas looked at per round, at most. */
  maxBlobs: number;
  /** Bytes read per round, at most (one replica larger than this is still read, alone). */
  maxBytes: number;
}

export interface ScrubReport {
  checked: number;
  ok: number;
  corrupt: number;
  missing: number;
  /** The backend did not answer; the replica is taken again in a later round. */
  unreachable: number;
  bytes: number;
}

export async function scrubRound(deps: { store: MetadataStore; data: DataPlane; log: Logger }, opts: ScrubOptions): Promise<ScrubReport> {
  const report: ScrubReport = { checked: 0, ok: 0, corrupt: 0, missing: 0, unreachable: 0, bytes: 0 };
  // Backends the health pinger counts out are not read (their replicas wait, first in line, for
  // a round after they return); one that fails a read is left alone for the rest of the round,
  // so a hung provider costs one timeout per round, not one per replica.
  const away = new Set(deps.data.backends.all().filter((b) => !b.healthy).map((b) => b.row.id));
  for (const c of await deps.store.listBlobsToScrub(opts.maxBlobs, [...away])) {
    if (away.has(c.backendId)) continue;
    if (report.checked > 0 && report.bytes + c.size > opts.maxBytes) break;
    report.checked++;
    report.bytes += c.size;
    const outcome = await deps.data.verifyReplica(c);
    report[outcome]++;
    integrity.scrubbed(outcome, c.size);
    if (outcome === 'ok') await deps.store.markBlobVerified(c.chunkId, c.backendId);
    if (outcome === 'unreachable') away.add(c.backendId);
  }
  if (report.corrupt + report.missing > 0) deps.log.warn({ ...report }, 'scrub found bad replicas; repair queued');
  else if (report.checked > 0) deps.log.debug({ ...report }, 'scrub round');
  return report;
}
