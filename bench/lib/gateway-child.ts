// `fedgate serve` as a child process. The gateway must not share an event loop (or a
// heap) with the load generator, or the client's own work would be billed to the
// gateway and its RSS would include the client's buffers.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { killServerOn } from '../../metadata/embedded-host.ts';
import { freePort } from '../../test/helpers/s3-servers.ts';
import { startFlags } from '../../test/helpers/start-flags.ts';
import { clearRefs, spawnChild, type ProcMemory } from './child.ts';

export interface GatewayChildOptions {
  repoRoot: string;
  /** Omit to let Fedgate start its embedded PostgreSQL. */
  databaseUrl?: string;
  defaultBackends: 'none' | 'local';
  /** When set, the child runs with --cpu-prof and writes its profile here on exit. */
  cpuProfDir?: string;
  startTimeoutMs?: number;
  /** Extra environment for the child, applied last (e.g. FEDGATE_AI_PORT). */
  env?: Record<string, string>;
}

export interface GatewayChild {
  pid: number;
  endpoint: string;
  adminUrl: string;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
  admin(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }>;
  memory(): ProcMemory;
  /** Reset VmHWM to the current RSS; false when the kernel refuses. */
  clearRefs(): boolean;
  /** The last few KB the child wrote to stderr (never contains secrets: they come from env). */
  stderrTail(): string;
  stop(): Promise<void>;
}

export async function startGatewayChild(opts: GatewayChildOptions): Promise<GatewayChild> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-bench-'));
  const [s3Port, adminPort] = [await freePort(), await freePort()];
  const adminToken = `bench-${randomBytes(16).toString('hex')}`;
  const accessKeyId = `BENCH${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64url');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FEDGATE_DATA_DIR: dataDir,
    FEDGATE_S3_PORT: String(s3Port),
    FEDGATE_ADMIN_PORT: String(adminPort),
    FEDGATE_HOST: '127.0.0.1',
    FEDGATE_ADMIN_TOKEN: adminToken,
    FEDGATE_ROOT_ACCESS_KEY: accessKeyId,
    FEDGATE_ROOT_SECRET_KEY: secretAccessKey,
    FEDGATE_DEFAULT_BACKENDS: opts.defaultBackends,
    FEDGATE_LOG_LEVEL: 'warn',
    // Background scrub rounds (64 MiB read back a minute) would land in some repetitions and
    // not others; the benchmark measures the request path. Set it to measure with them.
    FEDGATE_SCRUB_INTERVAL_MS: process.env.FEDGATE_SCRUB_INTERVAL_MS ?? '0',
  };
  delete env.DATABASE_URL;
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  Object.assign(env, opts.env);
  // Launched with the node flags `npm start` uses (package.json; bench/README.md says what
  // each one is for), so the benchmark measures the gateway as it runs in production.
  const nodeArgs = [...startFlags(opts.repoRoot), ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [])];
  let child;
  try {
    // Fedgate finishes in-flight requests (up to 30 s) on SIGTERM, stops its embedded PostgreSQL
    // and, with --cpu-prof, writes the profile; stop() waits for that, then kills whatever it left
    // in its process group. The embedded PostgreSQL has a group of its own: if Fedgate had to be
    // killed, its postmaster is killed here before the data directory goes.
    child = await spawnChild('fedgate serve', [...nodeArgs, path.join(opts.repoRoot, 'bin', 'fedgate.ts'), 'serve'], env, /Fedgate S3 endpoint:()/, {
      repoRoot: opts.repoRoot,
      timeoutMs: opts.startTimeoutMs ?? 120_000,
      onExit: () => {
        killServerOn(path.join(dataDir, 'pg'));
        rmSync(dataDir, { recursive: true, force: true });
      },
    });
  } catch (e) {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  const { pid } = child;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  return {
    pid,
    endpoint: `http://127.0.0.1:${s3Port}`,
    adminUrl,
    accessKeyId,
    secretAccessKey,
    dataDir,
    async admin(method, p, body) {
      const res = await fetch(adminUrl + p, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      let json: any = text;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        // Not JSON: keep the text for the error message.
      }
      return { status: res.status, json };
    },
    memory: child.memory,
    clearRefs: () => clearRefs(pid),
    stderrTail: child.stderrTail,
    stop: child.stop,
  };
}
