// Prometheus counters of the zero-trust checks (docs/ARCHITECTURE.md, "Reads"): what reads and
// the scrubber found wrong with the providers, and what the repairs did. Process-wide (the data
// plane and the workers of a process share them); the admin listener's /metrics merges this
// registry into its own.
import { Counter, Registry } from 'prom-client';

export const integrityRegistry = new Registry();

const badReplicas = new Counter({
  name: 'fedgate_replicas_bad_total',
  help: 'Replicas found with other bytes than were written (corrupt) or gone from their provider (missing), by who found them',
  labelNames: ['state', 'found_by', 'backend'],
  registers: [integrityRegistry],
});
const scrubbed = new Counter({
  name: 'fedgate_scrub_replicas_total',
  help: 'Replicas the scrubber read back, by outcome (ok, corrupt, missing, unreachable)',
  labelNames: ['outcome'],
  registers: [integrityRegistry],
});
const scrubbedBytes = new Counter({ name: 'fedgate_scrub_bytes_total', help: 'Bytes the scrubber read back', registers: [integrityRegistry] });
const repairs = new Counter({
  name: 'fedgate_repairs_total',
  help: 'Replication / repair jobs, by outcome (completed, failed: retried later)',
  labelNames: ['outcome'],
  registers: [integrityRegistry],
});
const readsResumed = new Counter({
  name: 'fedgate_reads_resumed_total',
  help: 'Reads whose replica broke off mid-body and that carried on from another replica, by the backend that broke off',
  labelNames: ['backend'],
  registers: [integrityRegistry],
});

export type FoundBy = 'read' | 'scrub';

export const integrity = {
  badReplica(state: 'corrupt' | 'missing', foundBy: FoundBy, backend: string): void {
    badReplicas.inc({ state, found_by: foundBy, backend });
  },
  scrubbed(outcome: 'ok' | 'corrupt' | 'missing' | 'unreachable', bytes: number): void {
    scrubbed.inc({ outcome });
    if (outcome !== 'unreachable') scrubbedBytes.inc(bytes);
  },
  repair(outcome: 'completed' | 'failed'): void {
    repairs.inc({ outcome });
  },
  readResumed(backend: string): void {
    readsResumed.inc({ backend });
  },
};
