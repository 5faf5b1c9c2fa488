// The result table (markdown, stdout) and its JSON twin (bench/results/latest.json).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Measurement } from './cases.ts';
import { allSeconds, busyCpus, type CpuGroups } from './cpu.ts';

export interface Row {
  case: string;
  unit: string;
  direct: number | null;
  fedgate: number;
  /** fedgate / direct */
  ratio: number | null;
  /** Ratio goal (≥) for throughput rows, byte ceiling (≤) for the RSS row, null when none. */
  goal: { kind: 'ratio-min' | 'bytes-max'; value: number } | null;
  met: boolean | null;
  /** Why the case could not be measured in full (printed as a footnote). */
  error?: string;
}

export function throughputRow(name: string, m: Measurement, goal: number | null): Row {
  const ratio = m.direct > 0 ? m.fedgate / m.direct : null;
  return {
    case: name,
    unit: m.unit,
    direct: m.direct,
    fedgate: m.fedgate,
    ratio,
    goal: goal === null ? null : { kind: 'ratio-min', value: goal },
    met: goal === null || ratio === null ? null : ratio >= goal,
  };
}

/** A memory row; with `maxBytes` null it is information only. A failed phase never meets its goal. */
export function rssRow(name: string, peakBytes: number, maxBytes: number | null, error?: string): Row {
  return {
    case: name,
    unit: 'MiB',
    direct: null,
    fedgate: peakBytes / 2 ** 20,
    ratio: null,
    goal: maxBytes === null ? null : { kind: 'bytes-max', value: maxBytes },
    met: maxBytes === null ? null : !error && peakBytes <= maxBytes,
    ...(error ? { error } : {}),
  };
}

function num(x: number, unit: string): string {
  return `${x >= 100 ? x.toFixed(0) : x.toFixed(1)} ${unit}`;
}

export function markdownTable(rows: Row[]): string {
  const lines = ['| case | direct | fedgate | ratio | goal | met? |', '|---|---:|---:|---:|---:|:---:|'];
  const notes: string[] = [];
  for (const r of rows) {
    const mark = r.error ? ` (failed, note ${notes.push(r.error)})` : '';
    const goal = r.goal === null ? '—' : r.goal.kind === 'ratio-min' ? `≥ ${r.goal.value}` : `≤ ${r.goal.value / 2 ** 20} MiB`;
    const met = r.met === null ? '—' : r.met ? 'yes' : 'NO';
    lines.push(`| ${r.case} | ${r.direct === null ? '—' : num(r.direct, r.unit)} | ${num(r.fedgate, r.unit)}${mark} | ${r.ratio === null ? '—' : r.ratio.toFixed(2)} | ${goal} | ${met} |`);
  }
  if (notes.length > 0) lines.push('');
  for (const [i, n] of notes.entries()) lines.push(`note ${i + 1}: ${n}`);
  return lines.join('\n');
}

/** One side of one large case, with its CPU per GiB (cpu.ts). */
export interface CpuRow {
  case: string;
  side: string;
  rate: number;
  unit: string;
  /** What the cost is per: a GiB moved (seconds) or an operation (milliseconds). */
  per: 'GiB' | 'op';
  cost: CpuGroups;
}

/** The rows of a measured case that carries CPU costs: its direct and its other side. */
export function cpuRows(name: string, m: Measurement, otherSide: string): CpuRow[] {
  const per = m.cpuPerGiB ? 'GiB' : 'op';
  const costs = m.cpuPerGiB ?? m.cpuPerOp;
  if (!costs) return [];
  return [
    { case: name, side: 'direct', rate: m.direct, unit: m.unit, per, cost: costs.direct },
    { case: name, side: otherSide, rate: m.fedgate, unit: m.unit, per, cost: costs.fedgate },
  ];
}

/**
 * CPU by process group, and how many of the machine's CPUs were busy: one table for the
 * large cases (seconds per GiB moved), one for the small ones (milliseconds per operation).
 */
export function cpuTable(rows: CpuRow[], cpus: number): string {
  const s = (x: number) => x.toFixed(2);
  const tables: string[] = [];
  for (const [per, title] of [
    ['GiB', 'large case (CPU s per GiB moved, median)'],
    ['op', 'small case (CPU ms per op, median)'],
  ] as const) {
    const mine = rows.filter((r) => r.per === per);
    if (mine.length === 0) continue;
    const lines = [`| ${title} | side | rate | client | backends | gateway / proxy | PostgreSQL | all | CPUs busy |`, '|---|---|---:|---:|---:|---:|---:|---:|---:|'];
    for (const r of mine) {
      const c = r.cost;
      const direct = r.side === 'direct';
      lines.push(`| ${r.case} | ${r.side} | ${num(r.rate, r.unit)} | ${s(c.client)} | ${s(c.backends)} | ${direct ? '—' : s(c.middle)} | ${direct ? '—' : s(c.metadata)} | ${s(allSeconds(c))} | ${busyCpus(c, cpus).toFixed(2)} of ${cpus} |`);
    }
    tables.push(lines.join('\n'));
  }
  return tables.join('\n\n');
}

export async function writeJson(file: string, report: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const ignore = path.join(path.dirname(file), '.gitignore');
  await writeFile(ignore, '*\n!.gitignore\n');
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
}
