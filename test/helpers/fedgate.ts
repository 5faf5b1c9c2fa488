// A whole Fedgate in the test process: real PostgreSQL (a fresh database), real
// backends, real listeners on free ports; workers with short intervals so healing
// can be observed. Stop it in `after`.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import assert from 'node:assert/strict';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../shared/config/index.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { openRuntime, type Runtime } from '../../shared/runtime/index.ts';
import { bootstrap } from '../../shared/runtime/bootstrap.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import { DEFAULT_WORKER_OPTIONS, startWorkers, workersAdminRoute, type WorkerOptions, type Workers } from '../../workers/main.ts';
import { createTestDatabase } from './pg.ts';
import type { S3ServerHandle } from './s3-servers.ts';
import { s3Error } from './s3-error.ts';

export interface TestFedgate {
  endpoint: string;
  adminUrl: string;
  adminToken: string;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
  rt: Runtime;
  /** null when started with `workers: false` (a separate `fedgate worker` process runs them). */
  workers: Workers | null;
  gateway: Gateway;
  /** An S3 client with the SDK's default settings (but `maxAttempts`, when given), as the root tenant. */
  client(creds?: { accessKeyId: string; secretAccessKey: string }, opts?: { maxAttempts?: number }): S3Client;
  admin(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** Environment for the aws cli pointed at this gateway. */
  awsEnv(creds?: { accessKeyId: string; secretAccessKey: string }): NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startTestFedgate(
  opts: {
    defaultBackends?: 'local' | 'none';
    timeoutMs?: number;
    env?: Record<string, string>;
    workers?: boolean;
    /** Where the gateway's JSON log lines go (level info unless FEDGATE_TEST_LOG_LEVEL says otherwise); else nowhere. */
    logTo?: NodeJS.WritableStream;
    /** The DATABASE_URL the gateway gets, from the fresh test database's (e.g. through a proxy). */
    databaseUrl?: (url: string) => string | Promise<string>;
    /** Overrides of the background workers' test settings (e.g. a GC interval long enough that only the test's own gcNow rounds run). */
    workerOptions?: Partial<WorkerOptions>;
  } = {},
): Promise<TestFedgate> {
  const db = await createTestDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fedgate-test-'));
  const adminToken = 'test-admin-token-' + Math.random().toString(36).slice(2);
  const accessKeyId = 'TESTROOTKEY' + Math.random().toString(36).slice(2, 10).toUpperCase();
  const secretAccessKey = 'test/secret+key=' + Math.random().toString(36).slice(2);
  const config = loadConfig({
    FEDGATE_DATA_DIR: dataDir,
    DATABASE_URL: opts.databaseUrl ? await opts.databaseUrl(db.url) : db.url,
    FEDGATE_ADMIN_TOKEN: adminToken,
    FEDGATE_ROOT_ACCESS_KEY: accessKeyId,
    FEDGATE_ROOT_SECRET_KEY: secretAccessKey,
    FEDGATE_DEFAULT_BACKENDS: opts.defaultBackends ?? 'local',
    FEDGATE_BACKEND_TIMEOUT_MS: String(opts.timeoutMs ?? 3000),
    FEDGATE_LOG_LEVEL: process.env.FEDGATE_TEST_LOG_LEVEL ?? (opts.logTo ? 'info' : 'silent'),
    ...opts.env,
  });
  const log = createLogger(config.logLevel, opts.logTo);
  const rt = await openRuntime(config, log);
  const boot = await bootstrap(rt);
  const workers =
    opts.workers === false
      ? null
      : await startWorkers(
          { store: rt.store, data: rt.data, boss: rt.boss, log },
          // Scrub rounds only when a test asks (workers.scrubNow), so that none races a test's own.
          { ...DEFAULT_WORKER_OPTIONS, healthIntervalMs: 500, healIntervalMs: 1000, gcIntervalMs: 1000, gcGraceMs: config.gcGraceMs, timeoutMs: config.backendTimeoutMs, scrubIntervalMs: 0, ...opts.workerOptions },
        );
  const gateway = await startGateway(rt, boot, { s3Port: 0, adminPort: 0, adminRoutes: workers ? [workersAdminRoute(workers)] : [] });
  const endpoint = `http://127.0.0.1:${gateway.s3Port}`;
  const adminUrl = `http://127.0.0.1:${gateway.adminPort}`;
  const clients: S3Client[] = [];
  return {
    endpoint,
    adminUrl,
    adminToken,
    accessKeyId,
    secretAccessKey,
    dataDir,
    rt,
    workers,
    gateway,
    client(creds, opts) {
      const c = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds ?? { accessKeyId, secretAccessKey }, ...opts });
      clients.push(c);
      return c;
    },
    async admin(method, p, body) {
      const res = await fetch(adminUrl + p, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    },
    awsEnv(creds) {
      const { AWS_CA_BUNDLE: _ca, AWS_PROFILE: _p, ...rest } = process.env;
      return {
        ...rest,
        AWS_ACCESS_KEY_ID: creds?.accessKeyId ?? accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds?.secretAccessKey ?? secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
      };
    },
    async stop() {
      for (const c of clients) c.destroy();
      await gateway.close(2000);
      await workers?.stop();
      await rt.close();
      await db.drop().catch(() => {});
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A second gateway (no workers) on `fg`'s database, data directory and master key, as a second
 * instance behind a load balancer; with `redisUrl`, both can share cache invalidations. Close it
 * before `fg.stop()`.
 */
export async function startSecondInstance(fg: TestFedgate, redisUrl?: string): Promise<{ rt: Runtime; gw: Gateway; endpoint: string; close(): Promise<void> }> {
  const config = loadConfig({
    FEDGATE_DATA_DIR: fg.dataDir,
    DATABASE_URL: fg.rt.config.databaseUrl,
    FEDGATE_ADMIN_TOKEN: fg.adminToken,
    FEDGATE_DEFAULT_BACKENDS: 'none',
    FEDGATE_LOG_LEVEL: 'silent',
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  });
  const rt = await openRuntime(config, createLogger('silent'));
  const gw = await startGateway(rt, await bootstrap(rt), { s3Port: 0, adminPort: 0 });
  return {
    rt,
    gw,
    endpoint: `http://127.0.0.1:${gw.s3Port}`,
    async close() {
      await gw.close(1000);
      await rt.close();
    },
  };
}

/** Poll until `fn` returns a truthy value or the time is up (then throw with `what`). */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Where addS3Backends puts the 1st, 2nd and 3rd server: two EU regions and one US, as StandardClass needs. */
const PLACES = [
  { region: 'eu-1', jurisdiction: 'EU', country: 'DE' },
  { region: 'eu-2', jurisdiction: 'EU', country: 'FR' },
  { region: 'us-1', jurisdiction: 'US', country: 'US' },
];

/** Registers the servers through POST /admin/add-storage as `s3` backends named as given, placed as PLACES says. */
export async function addS3Backends(fg: Pick<TestFedgate, 'admin'>, servers: [name: string, srv: S3ServerHandle][]): Promise<void> {
  for (const [i, [name, srv]] of servers.entries()) {
    const r = await fg.admin('POST', '/admin/add-storage', {
      name,
      type: 's3',
      endpoint: srv.endpoint,
      accessKeyId: srv.accessKeyId,
      secretAccessKey: srv.secretAccessKey,
      provider: srv.kind,
      ...PLACES[i % PLACES.length],
    });
    if (r.status !== 201) throw new Error(`add-storage ${name}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  }
}

/**
 * A write that failed never took effect: HEAD through the gateway is 404 and the database (`db`,
 * straight to PostgreSQL, past any forwarder) holds no version of the key.
 */
export async function assertNeverStored(s3: S3Client, db: { query(sql: string, params: unknown[]): Promise<{ rowCount: number | null }> }, bucket: string, key: string, why?: string): Promise<void> {
  const rows = await db.query('SELECT 1 FROM object_versions v JOIN buckets b ON b.id = v.bucket_id WHERE b.name = $1 AND v.key = $2', [bucket, key]);
  assert.equal(rows.rowCount, 0, why ?? `a version of ${bucket}/${key} was committed`);
  assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).status, 404);
}

/** A `logTo` for startTestFedgate that keeps the gateway's JSON log lines, parsed, in `lines`. */
export function logCollector(): { logTo: NodeJS.WritableStream; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  let partial = '';
  const logTo = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop()!;
      for (const l of parts) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logTo, lines };
}
