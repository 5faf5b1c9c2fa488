// Where a gateway child spent its CPU: `node bench/profile-summary.ts <file.cpuprofile>...`
// prints the top functions by self time and the time per source file. Profiles come
// from `BENCH_CPU_PROF=1 npm run bench` (written to bench/results/profiles/).
// The .cpuprofile format is the V8 inspector's Profiler.Profile (nodes with callFrame
// and hitCount, plus samples / timeDeltas), see the Chrome DevTools Protocol docs.
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  if (!url) return '(native)';
  const p = url.replace(/^file:\/\//, '');
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) return p.slice(nm + 'node_modules/'.length);
  return path.relative(process.cwd(), p);
}

function summarize(file: string, top: number, depth: number): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  // Self time per node: each sample's delta is billed to the node on top of the stack.
  const selfUs = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    const fn = `${cf.functionName || '(anonymous)'}  ${shortUrl(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    const f = cf.url ? shortUrl(cf.url) : cf.functionName || '(native)';
    byFile.set(f, (byFile.get(f) ?? 0) + us);
  }
  const fmt = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1e6).toFixed(2).padStart(7)} s  ${k}`)
      .join('\n');
  // For the heaviest functions, the call paths (up to `depth` frames, outside
  // node_modules' internals as well) that led there: native calls such as writev or
  // hash updates only make sense with their callers.
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const frame = (id: number) => {
    const cf = byId.get(id)!.callFrame;
    return `${cf.functionName || '(anonymous)'}@${shortUrl(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
  };
  const fnKey = (id: number) => frame(id).replace('@', '  ').replace(/^(.*?)  \(native\)$/, '$1  (native)');
  const paths = new Map<string, Map<string, number>>();
  for (const [id, us] of selfUs) {
    const chain: string[] = [];
    for (let p = parent.get(id); p !== undefined && chain.length < depth; p = parent.get(p)) {
      if (byId.get(p)!.callFrame.functionName === '(root)') break;
      chain.push(frame(p));
    }
    const k = fnKey(id);
    const m = paths.get(k) ?? new Map<string, number>();
    m.set(chain.join(' < '), (m.get(chain.join(' < ')) ?? 0) + us);
    paths.set(k, m);
  }
  const heavy = [...byFn.entries()]
    .filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(program)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6);
  const callers = heavy
    .map(([k]) => {
      const m = [...(paths.get(k)?.entries() ?? [])].sort((a, b) => b[1] - a[1]).slice(0, 3);
      return `  ${k}\n${m.map(([c, us]) => `    ${((100 * us) / total).toFixed(1).padStart(5)} %  < ${c}`).join('\n')}`;
    })
    .join('\n');
  const wall = (prof.endTime - prof.startTime) / 1e6;
  return `${file}: ${(total / 1e6).toFixed(1)} s sampled over ${wall.toFixed(1)} s\nby function (self):\n${fmt(byFn)}\nby file (self):\n${fmt(byFile)}\ncallers of the heaviest functions:\n${callers}\n`;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile>...\n');
  process.exit(2);
}
for (const f of files) process.stdout.write(summarize(f, Number(process.env.TOP || 25), Number(process.env.DEPTH || 8)) + '\n');
