// The measurement loops. Both sides of a comparison run the same loop with the same
// keys and bytes, interleaved rep by rep (order alternating) so that drift in the
// machine (page cache, CPU frequency, a background vacuum) hits both alike.
import { performance } from 'node:perf_hooks';
import type { S3Client } from '@aws-sdk/client-s3';
import type { GatewayChild } from './gateway-child.ts';
import { getObjectBody, putObject, type Side } from './s3-targets.ts';
import { costPerGiB, costPerOp, medianCost, type CpuGroups, type CpuProbe } from './cpu.ts';
import { assertBytes, crcOf, drainBuffer, drainCrc, median, MiB, patternCrc, patternStream, percentile, runPool, splitRounds, timeIt } from './workload.ts';

export interface Measurement {
  unit: 'MiB/s' | 'ops/s';
  direct: number;
  fedgate: number;
  samples: { direct: number[]; fedgate: number[] };
  /** Small-object cases: per-op latency percentiles, ms. */
  latencyMs?: { direct: { p50: number; p99: number }; fedgate: { p50: number; p99: number } };
  /** Large cases with CPU probes: CPU seconds per GiB moved, median over the timed reps (cpu.ts). */
  cpuPerGiB?: { direct: CpuGroups; fedgate: CpuGroups };
  /** Small cases with CPU probes: CPU milliseconds per operation, median over the rounds. */
  cpuPerOp?: { direct: CpuGroups; fedgate: CpuGroups };
}

export type Log = (msg: string) => void;

function ordered<T>(rep: number, a: T, b: T): [T, T] {
  return rep % 2 === 0 ? [a, b] : [b, a];
}

/** Bodies fail while streaming too (after the labelled call returned): say whose. */
async function drainLabelled<T>(side: Side, key: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${side.name} GET ${key} (body): ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
  }
}

async function getAndVerify(side: Side, key: string, i: number, want: { bytes: number; crc: number }): Promise<void> {
  const body = await side.get(key, i);
  const got = await drainLabelled(side, key, () => drainCrc(body));
  assertBytes(`${side.name} GET ${key}`, got, want);
}

export interface LargeOptions {
  /** Runs untimed right after each timed fedgate PUT. */
  afterFedgatePut?: (key: string) => Promise<void>;
  /** Sample CPU around every timed rep, per side (cpu.ts). */
  cpu?: { direct: CpuProbe; fedgate: CpuProbe };
}

/** Time `fn` (seconds) and, with a probe, push the CPU it cost per GiB of `bytes` onto `costs`. */
async function timedWithCpu(probe: CpuProbe | undefined, costs: CpuGroups[], bytes: number, fn: () => Promise<unknown>): Promise<number> {
  const before = await probe?.();
  const t = await timeIt(fn);
  if (probe && before) costs.push(costPerGiB(before, await probe(), bytes));
  return t;
}

/**
 * GETs only, of large objects the direct side already holds (`keys`, one per timed rep, each
 * `want`): for a middle that reaches the same backends, the way the direct side does.
 */
export async function largeGetCases(direct: Side, middle: Side, keys: string[], want: { bytes: number; crc: number }, log: Log, cpu?: { direct: CpuProbe; fedgate: CpuProbe }): Promise<Measurement> {
  const mib = want.bytes / MiB;
  const rates = { direct: [] as number[], fedgate: [] as number[] };
  const costs = { direct: [] as CpuGroups[], fedgate: [] as CpuGroups[] };
  for (const s of [direct, middle]) await getAndVerify(s, keys[0], 0, want);
  for (const [r, key] of keys.entries()) {
    for (const s of ordered(r, direct, middle)) {
      const side = s === direct ? 'direct' : 'fedgate';
      const t = await timedWithCpu(cpu?.[side], costs[side], want.bytes, () => getAndVerify(s, key, r, want));
      rates[side].push(mib / t);
      log(`  large GET ${s.name} rep ${r + 1}: ${(mib / t).toFixed(1)} MiB/s`);
    }
  }
  return {
    unit: 'MiB/s',
    direct: median(rates.direct),
    fedgate: median(rates.fedgate),
    samples: rates,
    ...(cpu ? { cpuPerGiB: { direct: medianCost(costs.direct), fedgate: medianCost(costs.fedgate) } } : {}),
  };
}

/** PUT then GET of one large object, `reps` timed repetitions after one warm-up each. */
export async function largeCases(direct: Side, fedgate: Side, data: Buffer, reps: number, prefix: string, log: Log, opts: LargeOptions = {}): Promise<{ put: Measurement; get: Measurement }> {
  const want = { bytes: data.length, crc: crcOf(data) };
  const mib = data.length / MiB;
  const put = { direct: [] as number[], fedgate: [] as number[] };
  const get = { direct: [] as number[], fedgate: [] as number[] };
  const cpu = { put: { direct: [] as CpuGroups[], fedgate: [] as CpuGroups[] }, get: { direct: [] as CpuGroups[], fedgate: [] as CpuGroups[] } };
  const bucketOf = (s: Side) => (s === direct ? put.direct : put.fedgate);
  const getOf = (s: Side) => (s === direct ? get.direct : get.fedgate);
  const sideOf = (s: Side) => (s === direct ? 'direct' : 'fedgate');
  const measured = (op: 'put' | 'get', s: Side, fn: () => Promise<unknown>) => timedWithCpu(opts.cpu?.[sideOf(s)], cpu[op][sideOf(s)], data.length, fn);

  for (const s of [direct, fedgate]) {
    await s.put(`${prefix}large-warm`, data);
    await getAndVerify(s, `${prefix}large-warm`, 0, want);
  }
  for (let r = 0; r < reps; r++) {
    for (const s of ordered(r, direct, fedgate)) {
      const t = await measured('put', s, () => s.put(`${prefix}large-${r}`, data));
      bucketOf(s).push(mib / t);
      log(`  ${prefix}large PUT ${s.name} rep ${r + 1}: ${(mib / t).toFixed(1)} MiB/s`);
      if (s === fedgate) await opts.afterFedgatePut?.(`${prefix}large-${r}`);
    }
  }
  for (let r = 0; r < reps; r++) {
    for (const s of ordered(r, direct, fedgate)) {
      const t = await measured('get', s, () => getAndVerify(s, `${prefix}large-${r}`, r, want));
      getOf(s).push(mib / t);
      log(`  ${prefix}large GET ${s.name} rep ${r + 1}: ${(mib / t).toFixed(1)} MiB/s`);
    }
  }
  const m = (x: { direct: number[]; fedgate: number[] }, c: { direct: CpuGroups[]; fedgate: CpuGroups[] }): Measurement => ({
    unit: 'MiB/s',
    direct: median(x.direct),
    fedgate: median(x.fedgate),
    samples: x,
    ...(opts.cpu ? { cpuPerGiB: { direct: medianCost(c.direct), fedgate: medianCost(c.fedgate) } } : {}),
  });
  return { put: m(put, cpu.put), get: m(get, cpu.get) };
}

/**
 * `payloads.length` small PUTs then as many GETs, `concurrency` in flight, split in
 * `rounds` timed rounds (median round reported), after `warmOps` untimed ops.
 */
export async function smallCases(
  direct: Side,
  fedgate: Side,
  payloads: Buffer[],
  opts: { concurrency: number; rounds: number; warmOps: number; prefix: string; cpu?: { direct: CpuProbe; fedgate: CpuProbe } },
  log: Log,
): Promise<{ put: Measurement; get: Measurement }> {
  const { concurrency, prefix } = opts;
  const key = (i: number) => `${prefix}small-${i}`;
  for (const s of [direct, fedgate]) {
    await runPool(opts.warmOps, concurrency, (i) => s.put(`${prefix}small-warm-${i}`, payloads[i % payloads.length]));
    await runPool(opts.warmOps, concurrency, async (i) => {
      await drainBuffer(await s.get(`${prefix}small-warm-${i}`, i));
    });
  }
  const run = async (what: 'PUT' | 'GET'): Promise<Measurement> => {
    const rate = { direct: [] as number[], fedgate: [] as number[] };
    const lat = { direct: [] as number[], fedgate: [] as number[] };
    const cpu = { direct: [] as CpuGroups[], fedgate: [] as CpuGroups[] };
    const rounds = splitRounds(payloads.length, opts.rounds);
    for (const [r, { start, count }] of rounds.entries()) {
      for (const s of ordered(r, direct, fedgate)) {
        const op =
          what === 'PUT'
            ? (j: number) => s.put(key(start + j), payloads[start + j])
            : async (j: number) => {
                const i = start + j;
                const body = await s.get(key(i), i);
                const got = await drainLabelled(s, key(i), () => drainBuffer(body));
                if (!got.equals(payloads[i])) throw new Error(`${s.name} GET ${key(i)}: wrong bytes (${got.length} B)`);
              };
        const side = s === direct ? 'direct' : 'fedgate';
        const probe = opts.cpu?.[side];
        const before = await probe?.();
        const { seconds, latenciesMs } = await runPool(count, concurrency, op);
        if (probe && before) cpu[side].push(costPerOp(before, await probe(), count));
        rate[side].push(count / seconds);
        lat[side].push(...latenciesMs);
        log(`  ${prefix}small ${what} ${s.name} round ${r + 1}: ${(count / seconds).toFixed(0)} ops/s`);
      }
    }
    const pct = (xs: number[]) => ({ p50: +percentile(xs, 50).toFixed(2), p99: +percentile(xs, 99).toFixed(2) });
    return {
      unit: 'ops/s',
      direct: median(rate.direct),
      fedgate: median(rate.fedgate),
      samples: rate,
      latencyMs: { direct: pct(lat.direct), fedgate: pct(lat.fedgate) },
      ...(opts.cpu ? { cpuPerOp: { direct: medianCost(cpu.direct), fedgate: medianCost(cpu.fedgate) } } : {}),
    };
  };
  const put = await run('PUT');
  const get = await run('GET');
  return { put, get };
}

export interface RssResult {
  objectBytes: number;
  /** Peak RSS of the gateway during this phase (until the failure, if it failed), bytes. */
  peakBytes: number;
  /** How peakBytes was obtained. */
  method: 'VmHWM after clear_refs' | 'VmHWM over the whole run (clear_refs refused)';
  rssBeforeBytes: number;
  hwmBeforeBytes: number;
  maxSampledRssBytes: number;
  putMiBps: number | null;
  getMiBps: number | null;
  /** Set when the PUT or GET failed; the peak is then the peak until the failure. */
  error?: string;
}

/**
 * Stream one object of `size` bytes through the gateway and back, watching its
 * memory. A failed transfer is reported in the result (with the peak until then),
 * not thrown: the memory figure is still worth having.
 */
export async function rssPhase(gw: GatewayChild, client: S3Client, bucket: string, size: number, block: Buffer, log: Log): Promise<RssResult> {
  const before = gw.memory();
  const cleared = gw.clearRefs();
  let maxSampled = gw.memory().rss;
  const sample = () => {
    try {
      maxSampled = Math.max(maxSampled, gw.memory().rss);
    } catch {
      // The process is gone; the transfer fails and says why.
    }
  };
  const sampler = setInterval(sample, 50);
  const result: RssResult = {
    objectBytes: size,
    peakBytes: 0,
    method: cleared ? 'VmHWM after clear_refs' : 'VmHWM over the whole run (clear_refs refused)',
    rssBeforeBytes: before.rss,
    hwmBeforeBytes: before.hwm,
    maxSampledRssBytes: 0,
    putMiBps: null,
    getMiBps: null,
  };
  const key = 'rss-object';
  let stage = 'PUT';
  let t0 = performance.now();
  let got = { bytes: 0, crc: 0 };
  try {
    await putObject(client, bucket, key, patternStream(size, block), size);
    result.putMiBps = size / MiB / ((performance.now() - t0) / 1000);
    log(`  RSS phase PUT ${size / MiB} MiB: ${result.putMiBps.toFixed(1)} MiB/s, gateway RSS now ${(gw.memory().rss / MiB).toFixed(0)} MiB`);
    stage = 'GET';
    t0 = performance.now();
    const body = await getObjectBody(client, bucket, key);
    // Count as we go, so a truncated body can say how far it got.
    for await (const chunk of body) {
      got = { bytes: got.bytes + chunk.length, crc: crcOf(chunk, got.crc) };
    }
    result.getMiBps = size / MiB / ((performance.now() - t0) / 1000);
    assertBytes(`fedgate GET ${key}`, got, { bytes: size, crc: patternCrc(size, block) });
    log(`  RSS phase GET ${size / MiB} MiB: ${result.getMiBps.toFixed(1)} MiB/s`);
  } catch (e) {
    const at = ((performance.now() - t0) / 1000).toFixed(1);
    result.error = `${stage} of the ${size / MiB} MiB object failed after ${at} s${stage === 'GET' ? `, ${(got.bytes / MiB).toFixed(0)} MiB received` : ''}: ${(e as Error).message}`;
    log(`  RSS phase: ${result.error}`);
  } finally {
    clearInterval(sampler);
  }
  sample();
  result.peakBytes = gw.memory().hwm;
  result.maxSampledRssBytes = maxSampled;
  return result;
}
