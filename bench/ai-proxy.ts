// `npm run bench:ai`: the AI proxy against a request straight to the upstream, side by
// side in one run (issue #4; see bench/README.md, "AI proxy benchmark").
//
// Progress goes to stderr; stdout carries only the two markdown tables; the same
// numbers, per-round values and diagnostics go to bench/results/ai-proxy.json.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createDetector } from '../ai-proxy/detection/index.ts';
import { abortOnSignalOrTimeout, Cleanup, log, runBenchmark, runStart, writeResults } from './lib/run.ts';
import { aiCase, chatRequest, detectionMbPerCore, makeAgent, requestBodies, type AiSide, type CaseResult } from './lib/ai-cases.ts';
import { startAiProxyChild, startMockUpstream } from './lib/ai-children.ts';
import { procCpuSeconds, readProcMemory } from './lib/child.ts';
import { expectedAnswer, makePrompts, type Prompt } from './lib/ai-prompts.ts';
import { caseName, casesTable, goal, goalsTable, type Goal } from './lib/ai-report.ts';
import { startGatewayChild } from './lib/gateway-child.ts';
import { createBenchDatabase } from './lib/pg-database.ts';
import { freePort } from '../test/helpers/s3-servers.ts';
import { KiB, MiB } from './lib/workload.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');

interface Settings {
  quick: boolean;
  clients: number[];
  promptSizes: number[];
  promptsPerSize: number;
  rounds: number;
  /** Requests per side per round, by prompt size and client count. */
  perRound: (bytes: number, clients: number) => number;
  warm: (bytes: number, clients: number) => number;
  detectionCpuSeconds: number;
  /** Measure the AI listener inside `fedgate serve` instead of a `fedgate ai-proxy` child. */
  serveMode: boolean;
  /** When set, the process under test runs with --cpu-prof and writes its profile here on exit. */
  cpuProfDir?: string;
  pgServerUrl: string;
  timeoutS: number;
  resultsFile: string;
}

function settingsFrom(env: NodeJS.ProcessEnv): Settings {
  const quick = env.BENCH_QUICK === '1';
  const small = (b: number) => b <= 16 * KiB;
  return {
    quick,
    clients: [1, 32],
    promptSizes: [4 * KiB, 256 * KiB],
    promptsPerSize: 8,
    rounds: quick ? 3 : 5,
    // Sized so that each side's round has enough requests for a p99 (≥ 100 above it
    // for 4 KiB) and the full run takes a few minutes on 2 cores.
    perRound: (b, c) => (small(b) ? 2000 : c === 1 ? 300 : 400) / (quick ? 2 : 1),
    warm: (b, c) => (small(b) ? 200 : c === 1 ? 50 : 128) / (quick ? 2 : 1),
    detectionCpuSeconds: quick ? 0.5 : 1.5,
    serveMode: env.BENCH_AI_SERVE === '1',
    cpuProfDir: env.BENCH_CPU_PROF === '1' ? path.join(REPO_ROOT, 'bench', 'results', 'profiles') : undefined,
    pgServerUrl: env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    timeoutS: Number(env.BENCH_TIMEOUT_S || 900),
    resultsFile: path.join(REPO_ROOT, 'bench', 'results', 'ai-proxy.json'),
  };
}

interface Target {
  url: string;
  token: string;
  providerKey: string;
  mockUrl: string;
  pid: number;
  mode: string;
  database: string;
}

/**
 * Mock upstream, a `fedgate serve` to configure through the admin API (one openai
 * upstream, one token), then the process under test: a `fedgate ai-proxy` child on the
 * same database and master key (the serve is stopped, so it takes no CPU), or, with
 * BENCH_AI_SERVE=1 or without a reachable PostgreSQL, the serve's own AI listener.
 */
async function startTarget(s: Settings, cleanup: Cleanup): Promise<Target> {
  const providerKey = `sk-bench-${randomBytes(24).toString('hex')}`;
  const masterKey = randomBytes(32).toString('base64');
  const mock = await startMockUpstream(REPO_ROOT, providerKey);
  cleanup.add(`stop mock upstream ${mock.pid}`, () => mock.stop());
  log(`  mock upstream (pid ${mock.pid}) at ${mock.url}`);
  const db = await createBenchDatabase(s.pgServerUrl);
  if (db) cleanup.add(`drop database ${db.name}`, () => db.drop());
  else log(`  PostgreSQL at ${new URL(s.pgServerUrl).host} unreachable: fedgate serve starts its embedded PostgreSQL and its own AI listener is measured`);
  const aiPort = await freePort();
  const serveProf = s.serveMode || !db ? s.cpuProfDir : undefined;
  const gw = await startGatewayChild({ repoRoot: REPO_ROOT, databaseUrl: db?.url, defaultBackends: 'none', cpuProfDir: serveProf, env: { FEDGATE_AI_PORT: String(aiPort), FEDGATE_MASTER_KEY: masterKey } });
  const stopGw = cleanup.add(`stop fedgate serve ${gw.pid}`, () => gw.stop());
  log(`  fedgate serve (pid ${gw.pid}) ready, admin API at ${gw.adminUrl}`);
  const up = await gw.admin('POST', '/admin/ai/upstreams', { name: 'mock', provider: 'openai', baseUrl: `${mock.url}/v1`, apiKey: providerKey });
  if (up.status !== 201) throw new Error(`POST /admin/ai/upstreams: HTTP ${up.status} ${JSON.stringify(up.json)}`);
  const tok = await gw.admin('POST', '/admin/ai/tokens', { name: 'bench', upstreams: ['mock'] });
  if (tok.status !== 201 || typeof tok.json?.token !== 'string') throw new Error(`POST /admin/ai/tokens: HTTP ${tok.status}`);
  const token: string = tok.json.token;
  const base = { token, providerKey, mockUrl: mock.url, database: db ? `external (${db.name})` : 'embedded' };
  if (s.serveMode || !db) {
    log(`  measuring the AI listener of fedgate serve at http://127.0.0.1:${aiPort}`);
    return { ...base, url: `http://127.0.0.1:${aiPort}`, pid: gw.pid, mode: 'fedgate serve (AI listener)' };
  }
  const proxy = await startAiProxyChild({ repoRoot: REPO_ROOT, databaseUrl: db.url, masterKey, nodeArgs: s.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', s.cpuProfDir] : [] });
  cleanup.add(`stop fedgate ai-proxy ${proxy.pid}`, () => proxy.stop());
  await stopGw();
  log(`  fedgate ai-proxy (pid ${proxy.pid}) ready at ${proxy.url}; fedgate serve stopped`);
  return { ...base, url: proxy.url, pid: proxy.pid, mode: 'fedgate ai-proxy' };
}

/** One verified request per side before anything is timed: a broken setup fails here, clearly. */
async function sanityCheck(sides: { direct: AiSide; proxied: AiSide }, p: Prompt): Promise<void> {
  for (const stream of [false, true]) {
    const [body] = requestBodies([p], stream);
    for (const side of [sides.proxied, sides.direct]) await chatRequest(side, body, stream, expectedAnswer(side.name, p));
  }
}

async function main(): Promise<number> {
  const s = settingsFrom(process.env);
  const cleanup = new Cleanup();
  const start = runStart();
  const abort = abortOnSignalOrTimeout(cleanup, s.timeoutS);

  const cases: CaseResult[] = [];
  const failed: { name: string; error: string }[] = [];
  const errors: string[] = [];
  const details: Record<string, unknown> = {};
  const detection: Record<string, { cpuMbPerS: number; wallMbPerS: number; scans: number }> = {};
  const prompts = new Map<number, Prompt[]>();
  try {
    for (const [i, bytes] of s.promptSizes.entries()) {
      const { prompts: ps, findings } = makePrompts(bytes, s.promptsPerSize, (i + 1) * 1000);
      prompts.set(bytes, ps);
      details[`prompts.${bytes / KiB}KiB.findings`] = findings;
    }
    // In this process, before any child runs: CPU time per byte does not depend on
    // load, but a quiet machine keeps the wall-clock figure meaningful too.
    log('detection engine on the benchmark prompts (in-process, request direction)');
    const detector = createDetector();
    for (const bytes of s.promptSizes) {
      const m = detectionMbPerCore((t) => detector.scan(t, 'request'), prompts.get(bytes)!, s.detectionCpuSeconds);
      detection[`${bytes / KiB} KiB`] = m;
      log(`  ${bytes / KiB} KiB: ${m.cpuMbPerS.toFixed(1)} MB/s per core (CPU time), ${m.wallMbPerS.toFixed(1)} MB/s wall clock`);
    }

    log('starting the mock upstream and Fedgate');
    const t = await startTarget(s, cleanup);
    details.target = { mode: t.mode, database: t.database };
    const agents = { direct: makeAgent(), proxied: makeAgent() };
    cleanup.add('destroy client agents', async () => {
      agents.direct.destroy();
      agents.proxied.destroy();
    });
    const sides = {
      direct: { name: 'direct', url: t.mockUrl, auth: t.providerKey, agent: agents.direct } satisfies AiSide,
      proxied: { name: 'proxied', url: t.url, auth: t.token, agent: agents.proxied, cpuSeconds: () => procCpuSeconds(t.pid) } satisfies AiSide,
    };
    await sanityCheck(sides, prompts.get(s.promptSizes[0])![0]);
    // The proxy's memory after each case (and when ready): the JSON's proxyMemoryAfterCase.
    const memory: Record<string, { rssMiB: number; hwmMiB: number } | string> = {};
    const snap = (when: string) => {
      try {
        const m = readProcMemory(t.pid);
        memory[when] = { rssMiB: Math.round(m.rss / MiB), hwmMiB: Math.round(m.hwm / MiB) };
      } catch (e) {
        memory[when] = `unreadable: ${(e as Error).message}`;
      }
    };
    snap('ready');
    log('  sanity check passed (both sides, streaming and not)');

    for (const clients of s.clients) {
      for (const bytes of s.promptSizes) {
        for (const stream of [false, true]) {
          if (abort.aborting()) break;
          const name = caseName({ clients, promptBytes: bytes, stream });
          const perRound = Math.round(s.perRound(bytes, clients));
          log(`case ${name}: ${s.rounds} rounds × ${perRound} requests per side`);
          try {
            cases.push(await aiCase(sides, prompts.get(bytes)!, { clients, stream, rounds: s.rounds, perRound, warm: Math.round(s.warm(bytes, clients)) }, log));
            snap(name);
          } catch (e) {
            failed.push({ name, error: (e as Error).message });
            errors.push(`${name}: ${(e as Error).stack ?? e}`);
            log(`case ${name} FAILED: ${(e as Error).stack ?? e}`);
          }
        }
      }
    }
    details.proxyMemoryAfterCase = memory;
  } catch (e) {
    errors.push(`setup: ${(e as Error).stack ?? e}`);
    log(`setup FAILED: ${(e as Error).stack ?? e}`);
  } finally {
    await cleanup.runAll();
    abort.done();
  }

  const goals: Goal[] = [];
  for (const stream of [false, true]) {
    const c = cases.find((x) => x.clients === 1 && x.promptBytes === 4 * KiB && x.stream === stream);
    const label = `4 KiB, 1 client, ${stream ? 'stream (last byte)' : 'no stream'}`;
    goals.push(goal(`added p50, ${label}`, c ? c.added.total.p50 : null, 'ms', 'max', 1, 'case failed or not run'));
    goals.push(goal(`added p99, ${label}`, c ? c.added.total.p99 : null, 'ms', 'max', 5, 'case failed or not run'));
  }
  for (const [size, m] of Object.entries(detection)) goals.push(goal(`detection, ${size} prompts, per core`, m.cpuMbPerS, 'MB/s', 'min', 50));

  process.stdout.write(`${casesTable(cases, failed)}\n\n${goalsTable(goals)}\n`);
  if (errors.length > 0) process.stdout.write(`\n${errors.length} failure(s); see stderr and ${path.relative(process.cwd(), s.resultsFile)}\n`);
  await writeResults(s.resultsFile, start, {
    settings: { quick: s.quick, rounds: s.rounds, promptsPerSize: s.promptsPerSize, serveMode: s.serveMode, timeoutS: s.timeoutS },
    goals,
    detection,
    cases,
    details,
    errors,
  });
  return errors.length > 0 ? 1 : 0;
}

runBenchmark(main);
