// Replica placement (PRODUCT.md §1.3, "Redundancy classes" and "Placement policy"):
// pick N distinct healthy active backends over at least R regions, lowest RTT first,
// or refuse with the precise reasons. Never a non-compliant fallback: a write the
// class cannot hold is refused, not silently downgraded.

export interface PlacementCandidate {
  id: string;
  region: string;
  healthy: boolean;
  state: 'active' | 'draining';
  rttMs: number | null;
}

export interface ReplicaClass {
  copies: number;
  writeQuorum: number;
  minRegions: number;
}

/** StandardClass: 3 full copies on 3 distinct backends spanning ≥ 2 regions; write quorum 2. */
export const STANDARD_CLASS: Readonly<ReplicaClass> = Object.freeze({ copies: 3, writeQuorum: 2, minRegions: 2 });

export type Placement = { ok: true; targets: string[]; writeQuorum: number } | { ok: false; reasons: string[] };

const rtt = (r: number | null): number => (r === null || !Number.isFinite(r) ? Number.POSITIVE_INFINITY : r);
const regionOf = (c: PlacementCandidate): string => c.region.trim().toLowerCase();

/** Lowest RTT first (unknown RTT last), then id: the same input always gives the same order. */
function byRtt(a: { id: string; rttMs: number | null }, b: { id: string; rttMs: number | null }): number {
  return rtt(a.rttMs) - rtt(b.rttMs) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function placeReplicas(backends: PlacementCandidate[], cls: ReplicaClass): Placement {
  const reasons: string[] = [];
  if (!(cls.copies >= 1 && cls.writeQuorum >= 1 && cls.writeQuorum <= cls.copies && cls.minRegions >= 1 && cls.minRegions <= cls.copies)) {
    return { ok: false, reasons: [`invalid class: ${cls.copies} copies, write quorum ${cls.writeQuorum}, ${cls.minRegions} regions`] };
  }
  const seen = new Set<string>();
  const excluded: string[] = [];
  const usable: PlacementCandidate[] = [];
  for (const b of backends) {
    if (seen.has(b.id)) continue;
    seen.add(b.id);
    if (b.state !== 'active') excluded.push(`${b.id} is ${b.state}`);
    else if (!b.healthy) excluded.push(`${b.id} is unhealthy`);
    else usable.push(b);
  }
  usable.sort(byRtt);
  const regions = new Set(usable.map(regionOf));
  if (usable.length < cls.copies) {
    reasons.push(`needs ${cls.copies} distinct healthy active backends, only ${usable.length} available`);
  }
  if (regions.size < cls.minRegions) {
    const list = [...regions].sort().join(', ') || 'none';
    reasons.push(`needs backends in at least ${cls.minRegions} regions, healthy active backends span ${regions.size} (${list})`);
  }
  if (reasons.length > 0) {
    if (excluded.length > 0) reasons.push(`excluded: ${excluded.join('; ')}`);
    return { ok: false, reasons };
  }

  // Start from the fastest `copies`; while too few regions are covered, swap the
  // slowest member whose region is represented twice for the fastest backend of a
  // region not yet covered. Each swap adds one region and costs the least RTT
  // available for it.
  const chosen = usable.slice(0, cls.copies);
  const countRegions = () => new Set(chosen.map(regionOf)).size;
  while (countRegions() < cls.minRegions) {
    const inSet = new Set(chosen.map(regionOf));
    const incoming = usable.find((b) => !inSet.has(regionOf(b)));
    const perRegion = new Map<string, number>();
    for (const c of chosen) perRegion.set(regionOf(c), (perRegion.get(regionOf(c)) ?? 0) + 1);
    let out = -1;
    for (let i = chosen.length - 1; i >= 0; i--) {
      if ((perRegion.get(regionOf(chosen[i])) ?? 0) > 1) {
        out = i;
        break;
      }
    }
    // Unreachable given the checks above (enough regions, copies ≥ minRegions), but
    // a placement engine must not loop or place non-compliantly on a logic slip.
    if (!incoming || out < 0) return { ok: false, reasons: ['could not find a compliant set of backends'] };
    chosen[out] = incoming;
    chosen.sort(byRtt);
  }
  return { ok: true, targets: chosen.map((c) => c.id), writeQuorum: cls.writeQuorum };
}

export function placeStandard(backends: PlacementCandidate[]): Placement {
  return placeReplicas(backends, STANDARD_CLASS);
}

export interface ReplicaHealth {
  healthy: boolean;
  rttMs: number | null;
}

/**
 * Replicas in the order a reader should try them: healthy backends first, lowest RTT
 * first, then backend id. Blobs that carry a `state` other than 'ok' cannot serve a
 * read and are left out; a backend with no known health counts as unhealthy.
 */
export function placeForRead<T extends { backendId: string; state?: string }>(
  blobs: readonly T[],
  health: ReadonlyMap<string, ReplicaHealth> | Readonly<Record<string, ReplicaHealth>>,
): T[] {
  const lookup = (id: string): ReplicaHealth | undefined =>
    health instanceof Map ? health.get(id) : Object.hasOwn(health, id) ? (health as Record<string, ReplicaHealth>)[id] : undefined;
  return blobs
    .filter((b) => b.state === undefined || b.state === 'ok')
    .map((b) => ({ b, h: lookup(b.backendId) }))
    .sort((x, y) => {
      const hx = x.h?.healthy ? 0 : 1;
      const hy = y.h?.healthy ? 0 : 1;
      return hx - hy || byRtt({ id: x.b.backendId, rttMs: x.h?.rttMs ?? null }, { id: y.b.backendId, rttMs: y.h?.rttMs ?? null });
    })
    .map((x) => x.b);
}
