// `npm run bench`: Fedgate against the least its job can cost, side by side in one run
// (see bench/README.md for what each row means and why it is measured that way).
//
// Progress goes to stderr; stdout carries only the markdown table; the same numbers
// and the raw samples go to bench/results/latest.json.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { freePort, startS3rver, type S3ServerHandle } from '../test/helpers/s3-servers.ts';
import { spawnChild } from './lib/child.ts';
import { largeCases, largeGetCases, rssPhase, smallCases } from './lib/cases.ts';
import { haproxyPath, startHaproxy } from './lib/haproxy.ts';
import { abortOnSignalOrTimeout, Cleanup, log, runBenchmark, runStart, writeResults } from './lib/run.ts';
import { fsSide } from './lib/fs-side.ts';
import { startGatewayChild, type GatewayChild } from './lib/gateway-child.ts';
import { createBenchDatabase, type BenchDatabase } from './lib/pg-database.ts';
import { cpuRows, cpuTable, markdownTable, rssRow, throughputRow, type CpuRow, type Row } from './lib/report.ts';
import { cpuProbe } from './lib/cpu.ts';
import { createBucket, directSide, fedgateSide, makeClient, type Side } from './lib/s3-targets.ts';
import { crcOf, GiB, KiB, MiB } from './lib/workload.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');

interface Settings {
  quick: boolean;
  largeBytes: number;
  smallOps: number;
  smallBytes: number;
  concurrency: number;
  reps: number;
  rounds: number;
  rssBytes: number;
  rssGoalBytes: number;
  pgServerUrl: string;
  cpuProfDir?: string;
  timeoutS: number;
  resultsFile: string;
}

function settingsFrom(env: NodeJS.ProcessEnv): Settings {
  const quick = env.BENCH_QUICK === '1';
  return {
    quick,
    largeBytes: quick ? 64 * MiB : 256 * MiB,
    smallOps: quick ? 300 : 2000,
    smallBytes: 4 * KiB,
    concurrency: 32,
    reps: quick ? 3 : 5,
    rounds: 5,
    rssBytes: quick ? 256 * MiB : 1 * GiB,
    rssGoalBytes: 200 * MiB,
    pgServerUrl: env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    cpuProfDir: env.BENCH_CPU_PROF === '1' ? path.join(REPO_ROOT, 'bench', 'results', 'profiles') : undefined,
    timeoutS: Number(env.BENCH_TIMEOUT_S || 900),
    resultsFile: path.join(REPO_ROOT, 'bench', 'results', 'latest.json'),
  };
}

function size(bytes: number): string {
  return bytes >= GiB ? `${bytes / GiB} GiB` : bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
}

async function gatewayWithDatabase(
  s: Settings,
  cleanup: Cleanup,
  defaultBackends: 'none' | 'local',
  env?: Record<string, string>,
): Promise<{ gw: GatewayChild; stop: () => Promise<void>; database: string; db: BenchDatabase | null }> {
  const db = await createBenchDatabase(s.pgServerUrl);
  const dropDb = db ? cleanup.add(`drop database ${db.name}`, () => db.drop()) : async () => {};
  if (!db) log(`  PostgreSQL at ${new URL(s.pgServerUrl).host} unreachable: the gateway starts its embedded PostgreSQL`);
  const gw = await startGatewayChild({ repoRoot: REPO_ROOT, databaseUrl: db?.url, defaultBackends, cpuProfDir: s.cpuProfDir, env });
  const stopGw = cleanup.add(`stop gateway ${gw.pid}`, () => gw.stop());
  log(`  fedgate serve (pid ${gw.pid}, FEDGATE_DEFAULT_BACKENDS=${defaultBackends}) ready at ${gw.endpoint}`);
  return {
    gw,
    db,
    database: db ? `external (${db.name})` : 'embedded',
    stop: async () => {
      await stopGw();
      await dropDb();
    },
  };
}

function clientFor(cleanup: Cleanup, ep: { endpoint: string; accessKeyId: string; secretAccessKey: string }): S3Client {
  const c = makeClient(ep);
  cleanup.add('destroy S3 client', async () => c.destroy());
  return c;
}

/** What a phase hands back as it goes, so a later failure does not lose earlier rows. */
interface Sink {
  row(r: Row): void;
  /** Rows of the CPU table (large cases over s3rver). */
  cpu(rows: CpuRow[]): void;
  detail(key: string, value: unknown): void;
}

const PLACES = [
  { region: 'eu-1', jurisdiction: 'EU', country: 'DE' },
  { region: 'eu-2', jurisdiction: 'EU', country: 'FR' },
  { region: 'us-1', jurisdiction: 'US', country: 'US' },
];

/** How many replicas of an object's chunks are in each state (ok, writing, missing, ...). */
async function replicaStateCounts(gw: GatewayChild, bucket: string, key: string): Promise<Record<string, number>> {
  const res = await gw.admin('GET', `/admin/replicas?tenant=root&bucket=${encodeURIComponent(bucket)}&key=${encodeURIComponent(key)}`);
  if (res.status !== 200) return { [`HTTP ${res.status}`]: 1 };
  const counts: Record<string, number> = {};
  for (const part of res.json.parts as { replicas: { state: string }[] }[]) for (const r of part.replicas) counts[r.state] = (counts[r.state] ?? 0) + 1;
  return counts;
}

async function addS3rvers(gw: GatewayChild, servers: S3ServerHandle[]): Promise<void> {
  for (const [i, srv] of servers.entries()) {
    const body = { name: `s3rver-${PLACES[i].region}`, type: 's3', endpoint: srv.endpoint, accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey, provider: 's3rver', ...PLACES[i] };
    const res = await gw.admin('POST', '/admin/add-storage', body);
    if (res.status !== 201) throw new Error(`POST /admin/add-storage ${body.name}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
  }
}

async function s3Phase(s: Settings, cleanup: Cleanup, data: Buffer, payloads: Buffer[], out: Sink): Promise<void> {
  log('S3 phase: three s3rver backends, direct SDK vs Fedgate');
  const servers = await Promise.all([0, 1, 2].map(() => startS3rver()));
  const stopServers = cleanup.add('stop s3rver backends', () => Promise.all(servers.map((srv) => srv.stop())));
  const { gw, stop, database, db } = await gatewayWithDatabase(s, cleanup, 'none');
  out.detail('s3.database', database);
  await addS3rvers(gw, servers);
  const direct = servers.map((srv) => clientFor(cleanup, srv));
  const fg = clientFor(cleanup, gw);
  for (const c of direct) await createBucket(c, 'bench-direct');
  await createBucket(fg, 'bench');
  const directS = directSide(direct, 'bench-direct');
  const fedgateS = fedgateSide(fg, 'bench');
  const memory: Record<string, { rssMiB: number; hwmMiB: number }> = {};
  const snap = (when: string) => {
    const m = gw.memory();
    memory[when] = { rssMiB: Math.round(m.rss / MiB), hwmMiB: Math.round(m.hwm / MiB) };
  };
  snap('ready');

  // First, on a gateway that has done nothing else yet: the peak then belongs to this
  // transfer, not to heap grown by the 32-way small-object load that comes later.
  log(`  RSS phase: one ${size(s.rssBytes)} object through the gateway`);
  // A pattern block of odd length, so a lost or repeated 1 MiB chunk changes the CRC.
  const rss = await rssPhase(gw, fg, 'bench', s.rssBytes, randomBytes(MiB + 17), log);
  out.detail('s3.rss', rss);
  if (rss.putMiBps !== null) out.detail('s3.rss.replicaStates', await replicaStateCounts(gw, 'bench', 'rss-object'));
  snap('after RSS phase');
  // Listed after the throughput rows, in the order, even if those fail.
  try {
    await s3Throughput(s, gw, db, servers, directS, fedgateS, data, payloads, out, snap);
  } catch (e) {
    // The gateway's warnings say why (which backends failed a write, and how).
    log(`  gateway stderr, last lines:\n${gw.stderrTail()}`);
    throw e;
  } finally {
    out.row(rssRow(`gateway peak RSS, ${size(s.rssBytes)} PUT+GET`, rss.peakBytes, s.rssGoalBytes, rss.error));
  }
  // clear_refs was last written before the RSS phase, so this HWM spans everything since.
  out.row(rssRow('gateway peak RSS, whole S3 phase (info)', gw.memory().hwm, null));
  await stop();
  await bareProxyCeiling(s, cleanup, servers, directS, data, out);
  await haproxyCeiling(s, cleanup, servers, directS, data, out);
  await unverifiedReads(s, cleanup, servers, directS, data, out);
  out.detail('s3.memory', memory);
  await stopServers();
}

/**
 * CPU probes for a comparison: the direct side (client + backends) and the side through
 * `middlePid`, with the PostgreSQL backends of the gateway's database when it has one.
 */
function probes(servers: S3ServerHandle[], middlePid: number, db: BenchDatabase | null = null) {
  const backends = servers.map((srv) => srv.pid);
  return { direct: cpuProbe(backends, null), fedgate: cpuProbe(backends, middlePid, db ? () => db.backendPids() : undefined) };
}

async function s3Throughput(s: Settings, gw: GatewayChild, db: BenchDatabase | null, servers: S3ServerHandle[], directS: Side, fedgateS: Side, data: Buffer, payloads: Buffer[], out: Sink, snap: (when: string) => void): Promise<void> {

  const L = size(data.length);
  const S = `${size(s.smallBytes)} ×${payloads.length} c=${s.concurrency}`;
  log(`  large objects: ${L}, ${s.reps} reps after a warm-up`);
  // Replica states right after each acknowledged PUT: the 2-of-3 quorum may answer
  // before the third copy is done (or after cutting it loose for replication later).
  const replicaStates: Record<string, Record<string, number>> = {};
  const large = await largeCases(directS, fedgateS, data, s.reps, '', log, {
    afterFedgatePut: async (key) => {
      replicaStates[key] = await replicaStateCounts(gw, 'bench', key);
    },
    cpu: probes(servers, gw.pid, db),
  });
  out.detail('s3.large', large);
  out.detail('s3.large.replicaStatesAfterPut', replicaStates);
  log(`  replica states right after the large fedgate PUTs: ${JSON.stringify(replicaStates)}`);
  out.row(throughputRow(`GET ${L}, s3rver ×3`, large.get, 0.9));
  out.row(throughputRow(`PUT ${L}, s3rver ×3`, large.put, 0.8));
  out.cpu([...cpuRows(`GET ${L}`, large.get, 'fedgate'), ...cpuRows(`PUT ${L}`, large.put, 'fedgate')]);
  snap('after large');
  log(`  small objects: ${payloads.length} × ${size(s.smallBytes)} per side, concurrency ${s.concurrency}, ${s.rounds} rounds`);
  const small = await smallCases(
    directS,
    fedgateS,
    payloads,
    { concurrency: s.concurrency, rounds: s.rounds, warmOps: Math.min(200, payloads.length), prefix: '', cpu: probes(servers, gw.pid, db) },
    log,
  );
  out.detail('s3.small', small);
  out.cpu([...cpuRows(`GET ${size(s.smallBytes)} c=${s.concurrency}`, small.get, 'fedgate'), ...cpuRows(`PUT ${size(s.smallBytes)} c=${s.concurrency}`, small.put, 'fedgate')]);
  out.row(throughputRow(`GET ${S}, s3rver ×3`, small.get, 0.5));
  out.row(throughputRow(`PUT ${S}, s3rver ×3`, small.put, 0.5));
  snap('after small');
}

/**
 * What checking reads costs: the large GET through a second gateway that skips the CRC-32C
 * check of whole-chunk reads (FEDGATE_VERIFY_READS=0), against the same backends. Only the
 * GET row is printed; the PUT is the same path as in the main rows.
 */
async function unverifiedReads(s: Settings, cleanup: Cleanup, servers: S3ServerHandle[], directS: Side, data: Buffer, out: Sink): Promise<void> {
  const { gw, stop, db } = await gatewayWithDatabase(s, cleanup, 'none', { FEDGATE_VERIFY_READS: '0' });
  await addS3rvers(gw, servers);
  const fg = clientFor(cleanup, gw);
  await createBucket(fg, 'bench');
  log('  reads not verified: the large cases through a gateway with FEDGATE_VERIFY_READS=0');
  const large = await largeCases(directS, fedgateSide(fg, 'bench'), data, s.reps, 'noverify-', log, { cpu: probes(servers, gw.pid, db) });
  out.detail('s3.large.unverifiedReads', large);
  out.cpu(cpuRows(`GET ${size(data.length)}`, large.get, 'fedgate, reads not verified'));
  out.row(throughputRow(`GET ${size(data.length)}, reads not verified (info)`, large.get, null));
  await stop();
}

/**
 * The ceiling for the large rows: the same large GET and PUT through a bare Node proxy
 * (bench/lib/bare-proxy.ts) that only pipes bytes — what one more process between client
 * and backends costs on this machine, before any of Fedgate's work.
 */
async function bareProxyCeiling(s: Settings, cleanup: Cleanup, servers: S3ServerHandle[], directS: Side, data: Buffer, out: Sink): Promise<void> {
  const port = await freePort();
  const proxy = await spawnChild('bare proxy', [path.join(REPO_ROOT, 'bench', 'lib', 'bare-proxy.ts'), String(port), ...servers.map((x) => x.endpoint)], process.env, /(ready)/, {
    repoRoot: REPO_ROOT,
    timeoutMs: 30_000,
  });
  const stopProxy = cleanup.add(`stop bare proxy ${proxy.pid}`, () => proxy.stop());
  const client = clientFor(cleanup, { endpoint: `http://127.0.0.1:${port}`, accessKeyId: servers[0].accessKeyId, secretAccessKey: servers[0].secretAccessKey });
  const bare: Side = { ...directSide([client], 'bench-direct'), name: 'bare proxy' };
  log(`  ceiling: the large cases through a bare pipe-only proxy (pid ${proxy.pid})`);
  const large = await largeCases(directS, bare, data, s.reps, 'bare-', log, { cpu: probes(servers, proxy.pid) });
  out.detail('s3.large.bareProxy', large);
  const L = size(data.length);
  out.cpu([...cpuRows(`GET ${L}`, large.get, 'bare proxy'), ...cpuRows(`PUT ${L}`, large.put, 'bare proxy')]);
  out.row(throughputRow(`GET ${L} via bare pipe proxy (ceiling, info)`, large.get, null));
  out.row(throughputRow(`PUT ${L} via bare pipe proxy (ceiling, info)`, large.put, null));
  await stopProxy();
}

/**
 * The same large GETs through HAProxy (bench/lib/haproxy.ts), copying through user space and
 * with splice(2): the ceiling of a proxy in C. It reads the objects the bare-proxy phase stored.
 */
async function haproxyCeiling(s: Settings, cleanup: Cleanup, servers: S3ServerHandle[], directS: Side, data: Buffer, out: Sink): Promise<void> {
  const command = haproxyPath();
  if (!command) {
    log('  haproxy is not installed: the HAProxy ceiling rows are left out (Debian: apt-get install haproxy)');
    return;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-bench-haproxy-'));
  const rmDir = cleanup.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
  const keys = Array.from({ length: s.reps }, (_, r) => `bare-large-${r}`);
  const want = { bytes: data.length, crc: crcOf(data) };
  const L = size(data.length);
  for (const splice of [false, true]) {
    const how = splice ? 'splice' : 'user-space copy';
    const hp = await startHaproxy({ command, repoRoot: REPO_ROOT, dir, backends: servers.map((x) => x.endpoint), splice });
    const stopHp = cleanup.add(`stop haproxy ${hp.pid}`, () => hp.stop());
    const clients = hp.endpoints.map((endpoint, i) => clientFor(cleanup, { endpoint, accessKeyId: servers[i].accessKeyId, secretAccessKey: servers[i].secretAccessKey }));
    const name = `HAProxy, ${how}`;
    log(`  ceiling: the large GET through HAProxy (pid ${hp.pid}, TCP, ${how})`);
    const get = await largeGetCases(directS, { ...directSide(clients, 'bench-direct'), name }, keys, want, log, probes(servers, hp.pid));
    out.detail(`s3.large.haproxy.${splice ? 'splice' : 'copy'}`, get);
    out.cpu(cpuRows(`GET ${L}`, get, name));
    out.row(throughputRow(`GET ${L} via HAProxy, ${how} (ceiling, info)`, get, null));
    await stopHp();
  }
  await rmDir();
}

async function localPhase(s: Settings, cleanup: Cleanup, data: Buffer, payloads: Buffer[], out: Sink): Promise<void> {
  log('local phase: Fedgate over its three local-disk backends vs plain files');
  const { gw, stop, database } = await gatewayWithDatabase(s, cleanup, 'local');
  out.detail('local.database', database);
  const fsRoot = await mkdtemp(path.join(os.tmpdir(), 'fedgate-bench-fs-'));
  const rmFs = cleanup.add(`remove ${fsRoot}`, () => rm(fsRoot, { recursive: true, force: true }));
  const fg = clientFor(cleanup, gw);
  await createBucket(fg, 'bench');
  const plain = await fsSide(['a', 'b', 'c'].map((d) => path.join(fsRoot, d)));
  const fedgateS = fedgateSide(fg, 'bench');
  const L = size(data.length);
  const S = `${size(s.smallBytes)} ×${payloads.length} c=${s.concurrency}`;
  const large = await largeCases(plain, fedgateS, data, s.reps, '', log);
  out.detail('local.large', large);
  out.row(throughputRow(`GET ${L}, local disk ×3 vs 1 file read`, large.get, null));
  out.row(throughputRow(`PUT ${L}, local disk ×3 vs 3 files+fsync`, large.put, null));
  const small = await smallCases(plain, fedgateS, payloads, { concurrency: s.concurrency, rounds: s.rounds, warmOps: Math.min(200, payloads.length), prefix: '' }, log);
  out.detail('local.small', small);
  out.row(throughputRow(`GET ${S}, local disk ×3 vs 1 file read`, small.get, null));
  out.row(throughputRow(`PUT ${S}, local disk ×3 vs 3 files+fsync`, small.put, null));
  await stop();
  await rmFs();
}

async function main(): Promise<number> {
  const s = settingsFrom(process.env);
  const cleanup = new Cleanup();
  const start = runStart();
  const abort = abortOnSignalOrTimeout(cleanup, s.timeoutS);

  const rows: Row[] = [];
  const cpu: CpuRow[] = [];
  const details: Record<string, unknown> = {};
  const errors: string[] = [];
  const sink: Sink = { row: (r) => rows.push(r), cpu: (r) => cpu.push(...r), detail: (k, v) => (details[k] = v) };
  try {
    const data = randomBytes(s.largeBytes);
    const pool = randomBytes(s.smallOps * s.smallBytes);
    const payloads = Array.from({ length: s.smallOps }, (_, i) => pool.subarray(i * s.smallBytes, (i + 1) * s.smallBytes));
    for (const [name, phase] of [
      ['S3 phase', s3Phase],
      ['local phase', localPhase],
    ] as const) {
      if (abort.aborting()) break;
      try {
        await phase(s, cleanup, data, payloads, sink);
      } catch (e) {
        errors.push(`${name}: ${(e as Error).stack ?? e}`);
        log(`${name} FAILED: ${(e as Error).stack ?? e}`);
        await cleanup.runAll();
      }
    }
  } finally {
    await cleanup.runAll();
    abort.done();
  }
  process.stdout.write(markdownTable(rows) + '\n');
  if (cpu.length > 0) process.stdout.write('\n' + cpuTable(cpu, os.cpus().length) + '\n');
  const phaseFailures = errors.length;
  for (const r of rows) if (r.error) errors.push(`${r.case}: ${r.error}`);
  if (phaseFailures > 0) process.stdout.write(`\n${phaseFailures} phase(s) failed; see stderr and ${path.relative(process.cwd(), s.resultsFile)}\n`);
  await writeResults(s.resultsFile, start, {
    settings: { ...s, pgServerUrl: undefined },
    rows,
    cpu,
    details,
    errors,
  });
  return errors.length > 0 ? 1 : 0;
}

runBenchmark(main);
