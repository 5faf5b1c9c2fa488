// The client and the measurement loop of the AI benchmark. Both sides (straight to the
// mock upstream, and through the proxy) are driven by the same code: node:http with
// one keep-alive agent per side, prebuilt request bodies, every answer verified. The
// client's own work (SSE parsing, JSON checks) happens after the last byte is timed.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { expectedAnswer, type Prompt } from './ai-prompts.ts';
import { median, percentile, runPool } from './workload.ts';
import type { Log } from './cases.ts';

export interface AiSide {
  name: 'direct' | 'proxied';
  /** Base URL without /v1. */
  url: string;
  /** Bearer credential: the provider key (direct) or the virtual token (proxied). Never logged. */
  auth: string;
  agent: http.Agent;
  /** CPU seconds used so far by the server process under test (proxied side only). */
  cpuSeconds?: () => number;
}

export function makeAgent(): http.Agent {
  // 64 sockets: 32 clients never wait for one. Idle sockets live as long as the servers keep theirs.
  return new http.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 30_000 });
}

/** A request body per prompt, built once (the client should not be the bottleneck). */
export function requestBodies(prompts: Prompt[], stream: boolean): Buffer[] {
  return prompts.map((p) =>
    Buffer.from(
      JSON.stringify({
        model: 'gpt-4o-mini',
        stream,
        messages: [
          { role: 'system', content: 'You are a concise assistant for an engineering team.' },
          { role: 'user', content: p.text },
        ],
      }),
    ),
  );
}

export interface Timing {
  /** Request start to the last byte of the answer, ms. */
  totalMs: number;
  /** Request start to the first byte of the answer body, ms. */
  firstByteMs: number;
  /** x-fedgate-overhead-ms as the proxy reported it (proxied side only). */
  overheadMs?: number;
}

const REQUEST_TIMEOUT_MS = 120_000;

/** Text of an OpenAI chat SSE stream; throws on an error event or a missing [DONE]. */
function sseText(raw: string): string {
  let text = '';
  let done = false;
  for (const block of raw.split('\n\n')) {
    for (const line of block.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') {
        done = true;
        continue;
      }
      const o = JSON.parse(data);
      if (o.error) throw new Error(`error event in the stream: ${JSON.stringify(o.error).slice(0, 300)}`);
      text += o.choices?.[0]?.delta?.content ?? '';
    }
  }
  if (!done) throw new Error('stream ended without data: [DONE]');
  return text;
}

/** One chat completion; resolves with its timing once the answer is verified. */
export function chatRequest(side: AiSide, body: Buffer, stream: boolean, expected: string): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let tFirst = 0;
    const req = http.request(
      `${side.url}/v1/chat/completions`,
      {
        method: 'POST',
        agent: side.agent,
        headers: {
          authorization: `Bearer ${side.auth}`,
          'content-type': 'application/json',
          'content-length': String(body.length),
          accept: stream ? 'text/event-stream' : 'application/json',
          // Passed on by the proxy: tells the mock which side it is checking.
          'x-stainless-bench-side': side.name,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          if (tFirst === 0) tFirst = performance.now();
          chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          const tLast = performance.now();
          try {
            const raw = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${raw.slice(0, 300)}`);
            const ctype = String(res.headers['content-type'] ?? '');
            let text: string;
            if (stream) {
              if (!ctype.includes('text/event-stream')) throw new Error(`content-type ${ctype}, want text/event-stream`);
              text = sseText(raw);
            } else {
              const json = JSON.parse(raw);
              text = json.choices?.[0]?.message?.content;
              if (json.object !== 'chat.completion' || !json.usage) throw new Error(`not a chat completion: ${raw.slice(0, 300)}`);
            }
            if (text !== expected) throw new Error(`wrong answer text: ${JSON.stringify(text).slice(0, 300)}, want ${JSON.stringify(expected).slice(0, 300)}`);
            const oh = res.headers['x-fedgate-overhead-ms'];
            let overheadMs: number | undefined;
            if (side.name === 'proxied') {
              overheadMs = Number(oh);
              if (typeof oh !== 'string' || !Number.isFinite(overheadMs)) throw new Error(`x-fedgate-overhead-ms missing or not a number: ${oh}`);
            }
            resolve({ totalMs: tLast - t0, firstByteMs: (tFirst || tLast) - t0, overheadMs });
          } catch (e) {
            reject(new Error(`${side.name} ${stream ? 'streaming' : 'non-streaming'} request: ${(e as Error).message}`, { cause: e }));
          }
        });
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${side.name}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (e) => reject(new Error(`${side.name} request failed: ${e.message}`, { cause: e })));
    req.end(body);
  });
}

export interface Pct {
  p50: number;
  p99: number;
}

export interface SideResult {
  /** Median over rounds of each round's percentile, ms. */
  total: Pct;
  firstByte: Pct;
  /** Median round throughput, requests per second. */
  reqPerS: number;
  overhead?: Pct;
  /** Proxy process CPU per request, ms (median over rounds). */
  serverCpuMsPerReq?: number;
  rounds: { reqPerS: number; total: Pct; firstByte: Pct; overhead?: Pct; serverCpuMsPerReq?: number }[];
  /** Percentiles over every timed request of every round (for comparison with the medians). */
  pooled: { total: Pct; firstByte: Pct; overhead?: Pct };
}

export interface CaseResult {
  clients: number;
  promptBytes: number;
  stream: boolean;
  requestsPerRound: number;
  rounds: number;
  direct: SideResult;
  proxied: SideResult;
  /** proxied − direct, from the per-side percentiles, ms. */
  added: { total: Pct; firstByte: Pct };
  /** proxied / direct requests per second. */
  throughputRatio: number;
}

const pct = (xs: number[]): Pct => ({ p50: percentile(xs, 50), p99: percentile(xs, 99) });
const medPct = (xs: Pct[]): Pct => ({ p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)) });

function ordered<T>(round: number, a: T, b: T): [T, T] {
  return round % 2 === 0 ? [a, b] : [b, a];
}

/**
 * One case: warm-up, then `rounds` rounds of `perRound` requests per side with
 * `clients` in flight, the sides interleaved round by round, order alternating.
 */
export async function aiCase(
  sides: { direct: AiSide; proxied: AiSide },
  prompts: Prompt[],
  o: { clients: number; stream: boolean; rounds: number; perRound: number; warm: number },
  log: Log,
): Promise<CaseResult> {
  const bodies = requestBodies(prompts, o.stream);
  const send = (side: AiSide, i: number) => {
    const k = i % prompts.length;
    return chatRequest(side, bodies[k], o.stream, expectedAnswer(side.name, prompts[k]));
  };
  // Each prompt once, one at a time, through the proxy first: its first request creates
  // the conversation's mask table, so EMAIL_001 is that prompt's address (32 concurrent
  // first requests could race for the numbering).
  for (const side of [sides.proxied, sides.direct]) for (let k = 0; k < prompts.length; k++) await send(side, k);
  for (const side of [sides.direct, sides.proxied]) await runPool(o.warm, o.clients, async (i) => void (await send(side, i)));

  const acc = { direct: [] as SideResult['rounds'], proxied: [] as SideResult['rounds'] };
  const all = { direct: [] as Timing[], proxied: [] as Timing[] };
  for (let r = 0; r < o.rounds; r++) {
    for (const side of ordered(r, sides.direct, sides.proxied)) {
      const timings: Timing[] = new Array(o.perRound);
      const cpu0 = side.cpuSeconds?.();
      const { seconds } = await runPool(o.perRound, o.clients, async (i) => {
        timings[i] = await send(side, r * o.perRound + i);
      });
      const cpu1 = side.cpuSeconds?.();
      const oh = timings.flatMap((t) => (t.overheadMs === undefined ? [] : [t.overheadMs]));
      const round = {
        reqPerS: o.perRound / seconds,
        total: pct(timings.map((t) => t.totalMs)),
        firstByte: pct(timings.map((t) => t.firstByteMs)),
        ...(oh.length > 0 ? { overhead: pct(oh) } : {}),
        ...(cpu0 !== undefined && cpu1 !== undefined ? { serverCpuMsPerReq: ((cpu1 - cpu0) * 1000) / o.perRound } : {}),
      };
      acc[side.name].push(round);
      all[side.name].push(...timings);
      log(`    round ${r + 1} ${side.name}: ${round.reqPerS.toFixed(0)} req/s, p50 ${round.total.p50.toFixed(2)} ms, p99 ${round.total.p99.toFixed(2)} ms`);
    }
  }
  const summarise = (name: 'direct' | 'proxied'): SideResult => {
    const rounds = acc[name];
    const oh = all[name].flatMap((t) => (t.overheadMs === undefined ? [] : [t.overheadMs]));
    const cpu = rounds.flatMap((x) => (x.serverCpuMsPerReq === undefined ? [] : [x.serverCpuMsPerReq]));
    return {
      total: medPct(rounds.map((x) => x.total)),
      firstByte: medPct(rounds.map((x) => x.firstByte)),
      reqPerS: median(rounds.map((x) => x.reqPerS)),
      ...(oh.length > 0 ? { overhead: medPct(rounds.flatMap((x) => (x.overhead ? [x.overhead] : []))) } : {}),
      ...(cpu.length > 0 ? { serverCpuMsPerReq: median(cpu) } : {}),
      rounds,
      pooled: { total: pct(all[name].map((t) => t.totalMs)), firstByte: pct(all[name].map((t) => t.firstByteMs)), ...(oh.length > 0 ? { overhead: pct(oh) } : {}) },
    };
  };
  const direct = summarise('direct');
  const proxied = summarise('proxied');
  return {
    clients: o.clients,
    promptBytes: prompts[0].bytes,
    stream: o.stream,
    requestsPerRound: o.perRound,
    rounds: o.rounds,
    direct,
    proxied,
    added: {
      total: { p50: proxied.total.p50 - direct.total.p50, p99: proxied.total.p99 - direct.total.p99 },
      firstByte: { p50: proxied.firstByte.p50 - direct.firstByte.p50, p99: proxied.firstByte.p99 - direct.firstByte.p99 },
    },
    throughputRatio: proxied.reqPerS / direct.reqPerS,
  };
}

/**
 * Detection throughput on the benchmark's own prompts, in this process: bytes scanned
 * per second of CPU time (process.cpuUsage), i.e. per core, as bench/detection.ts measures it.
 */
export function detectionMbPerCore(scan: (text: string) => unknown, prompts: Prompt[], minCpuSeconds: number): { cpuMbPerS: number; wallMbPerS: number; scans: number } {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  for (let i = 0; i < 20; i++) scan(prompts[i % prompts.length].text); // warm-up (JIT)
  let bytes = 0;
  let scans = 0;
  const wall0 = performance.now();
  const cpu0 = cpu();
  let used = 0;
  while (used < minCpuSeconds) {
    const p = prompts[scans % prompts.length];
    scan(p.text);
    bytes += p.bytes;
    scans++;
    used = cpu() - cpu0;
  }
  const wall = (performance.now() - wall0) / 1000;
  return { cpuMbPerS: bytes / used / 1e6, wallMbPerS: bytes / wall / 1e6, scans };
}
