// Configuration comes from the environment, MinIO-style, and is read once by a
// composition root (never at import time). Every setting has an embedded default
// so that `fedgate serve` runs with nothing configured.
import path from 'node:path';

export interface FedgateConfig {
  dataDir: string;
  s3Port: number;
  adminPort: number;
  aiPort: number;
  /** `fedgate worker`'s /health, /ready and /metrics listener. */
  workerPort: number;
  host: string;
  rootAccessKey?: string;
  rootSecretKey?: string;
  adminToken?: string;
  masterKey?: string;
  databaseUrl?: string;
  redisUrl?: string;
  /** 'local' (three local-disk backends on first start) or 'none'. */
  defaultBackends: 'local' | 'none';
  /** Base domain for virtual-hosted-style requests (`bucket.<domain>`). */
  domain?: string;
  region: string;
  logLevel: string;
  /** Per-backend operation timeout: a backend that does not answer in time is a failed target. */
  backendTimeoutMs: number;
  /** PostgreSQL connect and query timeout: a metadata database silent this long fails the request (503). */
  dbTimeoutMs: number;
  /**
   * How long an unreferenced chunk is left alone before the GC removes it; a write still streaming
   * renews its chunk every sixth of this (FEDGATE_GC_GRACE_MS, default 1 h, at least 1 s).
   */
  gcGraceMs: number;
  /** Pause between scrub rounds (0: no scrubbing) and the MiB read back per round. */
  scrubIntervalMs: number;
  scrubMiBPerRound: number;
  /** Run the background workers inside `fedgate serve` (FEDGATE_WORKERS, default on). */
  runWorkers: boolean;
  /** Check whole-chunk reads against the recorded CRC-32C / MD5 (default on; off only to measure what it costs). */
  verifyReads: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

/** FEDGATE_GC_GRACE_MS's default: an unreferenced chunk is left alone for an hour. */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

function intEnv(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535 * 1000) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

function atLeast(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number): number {
  const n = intEnv(env, name, dflt);
  if (n < min) throw new Error(`${name} must be at least ${min}, got ${n}`);
  return n;
}

function boolEnv(env: NodeJS.ProcessEnv, name: string, dflt: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return dflt;
  if (['1', 'true', 'on', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'off', 'no'].includes(raw)) return false;
  throw new Error(`${name} must be on or off (1/0, true/false), got ${JSON.stringify(env[name])}`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): FedgateConfig {
  const defaultBackends = (env.FEDGATE_DEFAULT_BACKENDS ?? 'local').toLowerCase();
  if (defaultBackends !== 'local' && defaultBackends !== 'none') {
    throw new Error(`FEDGATE_DEFAULT_BACKENDS must be "local" or "none", got ${JSON.stringify(env.FEDGATE_DEFAULT_BACKENDS)}`);
  }
  return {
    dataDir: path.resolve(env.FEDGATE_DATA_DIR || './data'),
    s3Port: intEnv(env, 'FEDGATE_S3_PORT', 9000),
    adminPort: intEnv(env, 'FEDGATE_ADMIN_PORT', 9001),
    aiPort: intEnv(env, 'FEDGATE_AI_PORT', 8080),
    workerPort: intEnv(env, 'FEDGATE_WORKER_PORT', 9002),
    host: env.FEDGATE_HOST || '127.0.0.1',
    rootAccessKey: env.FEDGATE_ROOT_ACCESS_KEY || undefined,
    rootSecretKey: env.FEDGATE_ROOT_SECRET_KEY || undefined,
    adminToken: env.FEDGATE_ADMIN_TOKEN || undefined,
    masterKey: env.FEDGATE_MASTER_KEY || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    defaultBackends,
    domain: env.FEDGATE_DOMAIN || undefined,
    region: env.FEDGATE_REGION || 'us-east-1',
    logLevel: env.FEDGATE_LOG_LEVEL || 'info',
    backendTimeoutMs: intEnv(env, 'FEDGATE_BACKEND_TIMEOUT_MS', 10_000),
    dbTimeoutMs: intEnv(env, 'FEDGATE_DB_TIMEOUT_MS', 10_000),
    gcGraceMs: atLeast(env, 'FEDGATE_GC_GRACE_MS', DEFAULT_GC_GRACE_MS, 1000),
    scrubIntervalMs: intEnv(env, 'FEDGATE_SCRUB_INTERVAL_MS', 60_000),
    scrubMiBPerRound: intEnv(env, 'FEDGATE_SCRUB_MIB_PER_ROUND', 64),
    verifyReads: boolEnv(env, 'FEDGATE_VERIFY_READS', true),
    runWorkers: boolEnv(env, 'FEDGATE_WORKERS', true),
    tlsCert: env.FEDGATE_TLS_CERT || undefined,
    tlsKey: env.FEDGATE_TLS_KEY || undefined,
  };
}
