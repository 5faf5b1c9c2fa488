// Detection on the way in (issue #4 contract defaults, decided by the detector's
// per-finding action): BLOCK stops the request before anything leaves, REDACT replaces
// the value, MASK swaps it for a per-conversation placeholder, WARN only counts.
import type { Detector, Finding } from './detection/types.ts';
import type { Slot } from './providers.ts';
import type { MaskSession } from './masking.ts';
import { redactionMark } from './streaming/guard.ts';

export interface RequestScan {
  block?: Finding;
  /** In shadow mode: the BLOCK that was not enforced. */
  shadowBlock?: Finding;
  /** Finding counts per rule id (never values). */
  counts: Record<string, number>;
  masked: number;
  /** Every value the client sent that a rule matched (answers may repeat these unmasked). */
  values: Set<string>;
}

export function countFindings(counts: Record<string, number>, findings: Finding[]): void {
  for (const f of findings) counts[f.ruleId] = (counts[f.ruleId] ?? 0) + 1;
}

/**
 * Scans every slot; rewrites them unless `shadow`. `openMask` is called at most once,
 * and only when there is something to mask, so requests without MASK findings cost no
 * KV round trip.
 */
export async function scanRequest(detector: Detector, slots: Slot[], openMask: () => Promise<MaskSession>, shadow: boolean): Promise<RequestScan & { session?: MaskSession }> {
  const counts: Record<string, number> = {};
  const values = new Set<string>();
  const scanned: Array<{ slot: Slot; findings: Finding[] }> = [];
  let shadowBlock: Finding | undefined;
  for (const slot of slots) {
    const findings = detector.scan(slot.text, 'request');
    if (findings.length === 0) continue;
    countFindings(counts, findings);
    for (const f of findings) values.add(f.value);
    const block = findings.find((f) => f.action === 'BLOCK');
    if (block && !shadow) return { block, counts, masked: 0, values };
    shadowBlock ??= block;
    scanned.push({ slot, findings });
  }
  if (shadow || scanned.length === 0) return { counts, masked: 0, shadowBlock, values };
  let session: MaskSession | undefined;
  let masked = 0;
  for (const { slot, findings } of scanned) {
    let out = '';
    let pos = 0;
    for (const f of findings) {
      if (f.action === 'REDACT') out += slot.text.slice(pos, f.start) + redactionMark(f);
      else if (f.action === 'MASK') {
        session ??= await openMask();
        out += slot.text.slice(pos, f.start) + (await session.mask(f.value, f.type));
        masked++;
      } else continue;
      pos = f.end;
    }
    if (pos > 0) slot.set(out + slot.text.slice(pos));
  }
  return { counts, masked, session, values };
}
