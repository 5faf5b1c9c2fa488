// Overlap resolution for the contract's rule: "non-overlapping findings sorted by start
// (on overlap the stronger action, then the longer match, wins)"; equal action and
// length fall back to rule priority (a specific key format beats the generic one).
import type { Hit } from './rule.ts';
import type { Action } from './types.ts';

export interface Candidate {
  hit: Hit;
  action: Action;
}

const STRENGTH: Readonly<Record<Action, number>> = { BLOCK: 5, REDACT: 4, MASK: 3, WARN: 2, ALLOW: 1 };

function better(a: Candidate, b: Candidate): number {
  return (
    STRENGTH[b.action] - STRENGTH[a.action] ||
    b.hit.end - b.hit.start - (a.hit.end - a.hit.start) ||
    a.hit.rule.priority - b.hit.rule.priority ||
    a.hit.start - b.hit.start
  );
}

/**
 * Candidates are split into clusters of transitively overlapping spans (one sort, one
 * sweep); only inside a cluster — almost always of size one — is the greedy pick run,
 * so text with many findings stays O(n log n).
 */
export function resolveOverlaps(candidates: Candidate[]): Candidate[] {
  candidates.sort((a, b) => a.hit.start - b.hit.start || b.hit.end - a.hit.end);
  const out: Candidate[] = [];
  let cluster: Candidate[] = [];
  let clusterEnd = -1;
  const flush = () => {
    if (cluster.length === 1) out.push(cluster[0]);
    else if (cluster.length > 1) {
      const kept: Candidate[] = [];
      for (const c of cluster.sort(better)) {
        if (kept.every((k) => c.hit.end <= k.hit.start || c.hit.start >= k.hit.end)) kept.push(c);
      }
      kept.sort((a, b) => a.hit.start - b.hit.start);
      out.push(...kept);
    }
    cluster = [];
  };
  for (const c of candidates) {
    if (c.hit.start >= clusterEnd) {
      flush();
      clusterEnd = c.hit.end;
    } else if (c.hit.end > clusterEnd) {
      clusterEnd = c.hit.end;
    }
    cluster.push(c);
  }
  flush();
  return out;
}
