// The AI benchmark's two markdown tables: latency / throughput per case, then the goals.
import type { CaseResult, Pct } from './ai-cases.ts';

export interface Goal {
  what: string;
  measured: number | null;
  unit: string;
  kind: 'max' | 'min';
  target: number;
  met: boolean | null;
  note?: string;
}

const f = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
const pair = (p: Pct) => `${f(p.p50)} / ${f(p.p99)}`;
const signed = (x: number) => (x >= 0 ? `+${f(x)}` : f(x));

export function caseName(c: { clients: number; promptBytes: number; stream: boolean }): string {
  const size = c.promptBytes >= 1024 * 1024 ? `${c.promptBytes / 1024 / 1024} MiB` : `${c.promptBytes / 1024} KiB`;
  return `${size}, ${c.clients} client${c.clients === 1 ? '' : 's'}, ${c.stream ? 'stream' : 'no stream'}`;
}

export function casesTable(cases: CaseResult[], failed: { name: string; error: string }[]): string {
  const lines = [
    '| case | direct p50 / p99 ms | proxied p50 / p99 ms | added p50 / p99 ms | req/s direct / proxied | ratio | x-fedgate-overhead-ms p50 / p99 | proxy CPU ms/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of cases) {
    const name = caseName(c);
    const oh = c.proxied.overhead ? pair(c.proxied.overhead) : '—';
    const rate = `${c.direct.reqPerS.toFixed(0)} / ${c.proxied.reqPerS.toFixed(0)}`;
    const added = `${signed(c.added.total.p50)} / ${signed(c.added.total.p99)}`;
    const cpu = c.proxied.serverCpuMsPerReq === undefined ? '—' : f(c.proxied.serverCpuMsPerReq);
    lines.push(`| ${name}${c.stream ? ', last byte' : ''} | ${pair(c.direct.total)} | ${pair(c.proxied.total)} | ${added} | ${rate} | ${c.throughputRatio.toFixed(2)} | ${oh} | ${cpu} |`);
    if (c.stream) {
      const addedFirst = `${signed(c.added.firstByte.p50)} / ${signed(c.added.firstByte.p99)}`;
      lines.push(`| ${name}, first byte | ${pair(c.direct.firstByte)} | ${pair(c.proxied.firstByte)} | ${addedFirst} | | | | |`);
    }
  }
  for (const x of failed) lines.push(`| ${x.name} | failed: ${x.error.split('\n')[0].slice(0, 200)} | | | | | | |`);
  return lines.join('\n');
}

export function goalsTable(goals: Goal[]): string {
  const lines = ['| goal | measured | target | met? |', '|---|---:|---:|:---:|'];
  for (const g of goals) {
    const measured = g.measured === null ? `— (${g.note ?? 'not measured'})` : `${f(g.measured)} ${g.unit}`;
    lines.push(`| ${g.what} | ${measured} | ${g.kind === 'max' ? '≤' : '≥'} ${g.target} ${g.unit} | ${g.met === null ? '—' : g.met ? 'yes' : 'NO'} |`);
  }
  return lines.join('\n');
}

export function goal(what: string, measured: number | null, unit: string, kind: 'max' | 'min', target: number, note?: string): Goal {
  const met = measured === null ? null : kind === 'max' ? measured <= target : measured >= target;
  return { what, measured, unit, kind, target, met, ...(note ? { note } : {}) };
}
