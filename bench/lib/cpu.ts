// Where the CPU goes while a large case runs: seconds of CPU (user + system) per GiB moved,
// for each kind of process taking part — the client (this process), the backends (the
// s3rvers), the process in the middle (the gateway or the bare proxy) — and how busy the
// machine was as a whole. On 2 cores these transfers are CPU-bound, so the throughput
// ratio of two sides follows the ratio of their total CPU per GiB (bench/README.md,
// "Reading the numbers"). CPU per GiB drifts less than MiB/s from run to run, but it does
// drift: a slower transfer costs more per byte (smaller reads, more wake-ups).
import { readdirSync, readFileSync } from 'node:fs';
import { procCpuSeconds } from './child.ts';
import { GiB, median } from './workload.ts';

/** Seconds of CPU, per group, since some fixed point (a sample) or per GiB moved (a cost). */
export interface CpuGroups {
  client: number;
  backends: number;
  /** The gateway or the bare proxy, with every process it started; 0 for the direct side. */
  middle: number;
  /** Every CPU of the machine, busy (not idle or waiting for I/O). */
  machineBusy: number;
  /** Every CPU of the machine, elapsed. */
  machineElapsed: number;
}

export type CpuProbe = () => CpuGroups;

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
 * A probe over the backends' process trees and, when given, the middle process's tree. The
 * trees are listed once, here: a sample then reads only their /proc/<pid>/stat files, so the
 * probe costs the client (whose CPU it measures) next to nothing.
 */
export function cpuProbe(backendRoots: number[], middleRoot: number | null): CpuProbe {
  const backends = processTrees(backendRoots);
  const middle = middleRoot === null ? [] : processTrees([middleRoot]);
  return () => {
    const own = process.cpuUsage();
    const m = machineTicks();
    return {
      client: (own.user + own.system) / 1e6,
      backends: cpuSecondsOf(backends),
      middle: cpuSecondsOf(middle),
      machineBusy: m.busy / CLOCK_TICKS,
      machineElapsed: m.elapsed / CLOCK_TICKS,
    };
  };
}

const KEYS = ['client', 'backends', 'middle', 'machineBusy', 'machineElapsed'] as const;

/** What happened between two samples, per GiB of `bytes` moved. */
export function costPerGiB(before: CpuGroups, after: CpuGroups, bytes: number): CpuGroups {
  const gib = bytes / GiB;
  return Object.fromEntries(KEYS.map((k) => [k, (after[k] - before[k]) / gib])) as unknown as CpuGroups;
}

/** Field by field median of several costs. */
export function medianCost(costs: CpuGroups[]): CpuGroups {
  return Object.fromEntries(KEYS.map((k) => [k, median(costs.map((c) => c[k]))])) as unknown as CpuGroups;
}

/** CPU of every process taking part, per GiB. */
export const allSeconds = (c: CpuGroups) => c.client + c.backends + c.middle;

/** How many CPUs were busy on average (machine busy / elapsed × CPUs). */
export const busyCpus = (c: CpuGroups, cpus: number) => (c.machineElapsed > 0 ? (c.machineBusy / c.machineElapsed) * cpus : 0);
