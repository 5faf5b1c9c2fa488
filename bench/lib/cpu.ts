// Where the CPU goes while a case runs: seconds of CPU (user + system) per GiB moved, or
// milliseconds per small operation, for each kind of process taking part — the client (this
// process), the backends (the s3rvers), the process in the middle (the gateway or the bare
// proxy), the PostgreSQL backends serving the gateway's database — and how busy the machine
// was as a whole. On 2 cores these cases are CPU-bound, so the throughput ratio of two sides
// follows the ratio of their total CPU per unit (bench/README.md, "Reading the numbers"). CPU
// per unit drifts less than throughput from run to run, but it does drift: a slower transfer
// costs more per byte (smaller reads, more wake-ups).
import { readdirSync, readFileSync } from 'node:fs';
import { procCpuSeconds } from './child.ts';
import { GiB, median } from './workload.ts';

/** Seconds of CPU, per group, since some fixed point (a sample) or per GiB moved (a cost). */
export interface CpuGroups {
  client: number;
  backends: number;
  /** The gateway or the bare proxy, with every process it started; 0 for the direct side. */
  middle: number;
  /**
   * The PostgreSQL backends connected to the gateway's database (pg_stat_activity), when they
   * run on this machine; 0 for the other sides. An embedded PostgreSQL is the gateway's child,
   * so its CPU is in `middle` instead.
   */
  metadata: number;
  /** Every CPU of the machine, busy (not idle or waiting for I/O). */
  machineBusy: number;
  /** Every CPU of the machine, elapsed. */
  machineElapsed: number;
}

/** A sample: the groups since some fixed point, and each watched PostgreSQL backend's own total. */
export interface CpuSample extends CpuGroups {
  metadataByPid: Map<number, number>;
}

export type CpuProbe = () => Promise<CpuSample>;

const CLOCK_TICKS = 100; // USER_HZ

function machineTicks(): { busy: number; elapsed: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const elapsed = f.reduce((a, b) => a + b, 0);
  return { busy: elapsed - f[3] - f[4], elapsed }; // idle, iowait
}

/** The roots and every process below them, from one pass over the process table. */
function processTrees(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
    } catch {
      // Gone since readdir.
    }
  }
  const out = [...roots];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

function cpuSecondsOf(pids: number[]): number {
  let s = 0;
  for (const pid of pids) {
    try {
      s += procCpuSeconds(pid);
    } catch {
      // Exited between the listing and the read: its time is lost to both samples alike.
    }
  }
  return s;
}

/**
 * A probe over the backends' process trees, the middle process's tree and, when given, the
 * PostgreSQL backends `metadataPids` lists. The trees are listed once, here: a sample then reads
 * only their /proc/<pid>/stat files, so the probe costs the client (whose CPU it measures) next
 * to nothing. The PostgreSQL backends are listed at every sample (the gateway's pool opens and
 * closes connections); a pid that is not on this machine counts nothing.
 */
export function cpuProbe(backendRoots: number[], middleRoot: number | null, metadataPids?: () => Promise<number[]>): CpuProbe {
  const backends = processTrees(backendRoots);
  const middle = middleRoot === null ? [] : processTrees([middleRoot]);
  return async () => {
    const metadataByPid = new Map<number, number>();
    for (const pid of (await metadataPids?.()) ?? []) metadataByPid.set(pid, cpuSecondsOf([pid]));
    const own = process.cpuUsage();
    const m = machineTicks();
    return {
      client: (own.user + own.system) / 1e6,
      backends: cpuSecondsOf(backends),
      middle: cpuSecondsOf(middle),
      metadata: 0,
      metadataByPid,
      machineBusy: m.busy / CLOCK_TICKS,
      machineElapsed: m.elapsed / CLOCK_TICKS,
    };
  };
}

const KEYS = ['client', 'backends', 'middle', 'metadata', 'machineBusy', 'machineElapsed'] as const;

/**
 * What happened between two samples, divided by `units` (GiB moved, or thousands of operations
 * for milliseconds per operation). A PostgreSQL backend that appeared in between counts all its
 * CPU (it started inside the window); one that ended in between is lost to the count.
 */
export function cpuCost(before: CpuSample, after: CpuSample, units: number): CpuGroups {
  const cost = Object.fromEntries(KEYS.map((k) => [k, (after[k] - before[k]) / units])) as unknown as CpuGroups;
  let metadata = 0;
  for (const [pid, s] of after.metadataByPid) metadata += s - (before.metadataByPid.get(pid) ?? 0);
  cost.metadata = metadata / units;
  return cost;
}

/** What happened between two samples, per GiB of `bytes` moved. */
export const costPerGiB = (before: CpuSample, after: CpuSample, bytes: number): CpuGroups => cpuCost(before, after, bytes / GiB);

/** What happened between two samples, in milliseconds per operation. */
export const costPerOp = (before: CpuSample, after: CpuSample, ops: number): CpuGroups => cpuCost(before, after, ops / 1000);

/** Field by field median of several costs. */
export function medianCost(costs: CpuGroups[]): CpuGroups {
  return Object.fromEntries(KEYS.map((k) => [k, median(costs.map((c) => c[k]))])) as unknown as CpuGroups;
}

/** CPU of every process taking part, per unit. */
export const allSeconds = (c: CpuGroups) => c.client + c.backends + c.middle + c.metadata;

/** How many CPUs were busy on average (machine busy / elapsed × CPUs). */
export const busyCpus = (c: CpuGroups, cpus: number) => (c.machineElapsed > 0 ? (c.machineBusy / c.machineElapsed) * cpus : 0);
