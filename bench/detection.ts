// `npm run bench:detection`: throughput of the AI proxy's detection engine (issue #4 goal:
// ≥ 50 MB/s per core) on realistic prompt text — mostly prose and code, with the odd
// e-mail address, IP, AWS id and key — for 4 KiB and 256 KiB inputs, both directions.
// Single-threaded; throughput is bytes per second of CPU time used by this process
// (process.cpuUsage), i.e. per core, so other load on a shared machine does not skew it;
// wall-clock MB/s is printed next to it. Prints a markdown table on stdout.
import { createDetector } from '../ai-proxy/detection/index.ts';
import type { Direction } from '../ai-proxy/detection/types.ts';
import { CODE, PROSE } from './lib/ai-prompts.ts';

const GOAL_MB_S = 50;
const MIN_SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5);

const SPRINKLE = [
  'Send the report to maria.garcia@example.org when done.',
  'The instance i-0abc1234def567890 in vpc-1a2b3c4d talks to 10.0.12.7.',
  'Role arn:aws:iam::123456789012:role/deploy assumes the build role.',
  'token = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"',
];

function realisticText(bytes: number, seed: number): string {
  let s = seed >>> 0;
  const next = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
  const parts: string[] = [];
  let len = 0;
  while (len < bytes) {
    const r = next(100);
    const piece = r < 55 ? PROSE[next(PROSE.length)] + ' ' : r < 97 ? CODE[next(CODE.length)] : SPRINKLE[next(SPRINKLE.length)] + '\n';
    parts.push(piece);
    len += piece.length;
  }
  return parts.join('').slice(0, bytes);
}

interface Measurement {
  cpuMbPerS: number;
  wallMbPerS: number;
  findings: number;
}

interface Row extends Measurement {
  size: string;
  direction: Direction;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function measure(text: string, direction: Direction): Measurement {
  const detector = createDetector();
  const bytes = Buffer.byteLength(text);
  let findings = detector.scan(text, direction).length; // warm-up (JIT)
  for (let i = 0; i < 20; i++) detector.scan(text, direction);
  let iterations = 0;
  const wall0 = process.hrtime.bigint();
  const cpu0 = cpuSeconds();
  let cpu = 0;
  while (cpu < MIN_SECONDS) {
    findings = detector.scan(text, direction).length;
    iterations++;
    cpu = cpuSeconds() - cpu0;
  }
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  return { cpuMbPerS: (bytes * iterations) / cpu / 1e6, wallMbPerS: (bytes * iterations) / wall / 1e6, findings };
}

const rows: Row[] = [];
for (const [label, size] of [['4 KiB', 4096], ['256 KiB', 262144]] as const) {
  const text = realisticText(size, 42);
  for (const direction of ['request', 'response'] as const) {
    process.stderr.write(`measuring ${label} ${direction}…\n`);
    rows.push({ size: label, direction, ...measure(text, direction) });
  }
}

console.log('| input | direction | findings | MB/s per core (CPU time) | MB/s wall clock | goal | met? |');
console.log('|---|---|---:|---:|---:|---:|---|');
for (const r of rows) {
  const met = r.cpuMbPerS >= GOAL_MB_S ? 'yes' : 'NO';
  console.log(`| ${r.size} prose+code | ${r.direction} | ${r.findings} | ${r.cpuMbPerS.toFixed(1)} | ${r.wallMbPerS.toFixed(1)} | ${GOAL_MB_S} | ${met} |`);
}
