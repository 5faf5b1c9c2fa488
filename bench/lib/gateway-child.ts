// `fedgate serve` as a child process. The gateway must not share an event loop (or a
// heap) with the load generator, or the client's own work would be billed to the
// gateway and its RSS would include the client's buffers.
//
// Peak RSS is the kernel's high-water mark, VmHWM in /proc/<pid>/status; writing "5"
// to /proc/<pid>/clear_refs resets it to the current RSS (proc(5), "clear_refs",
// Linux 4.0+), which lets one phase be measured on its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/helpers/s3-servers.ts';

export interface GatewayChildOptions {
  repoRoot: string;
  /** Omit to let Fedgate start its embedded PostgreSQL. */
  databaseUrl?: string;
  defaultBackends: 'none' | 'local';
  /** When set, the child runs with --cpu-prof and writes its profile here on exit. */
  cpuProfDir?: string;
  startTimeoutMs?: number;
}

export interface ProcMemory {
  /** Peak resident set size since start or the last clearRefs(), bytes. */
  hwm: number;
  /** Current resident set size, bytes. */
  rss: number;
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

const READY = 'Fedgate S3 endpoint:';

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ESRCH') throw err;
  }
}

export function readProcMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (!m) throw new Error(`${field} missing from /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
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
  };
  delete env.DATABASE_URL;
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  // Launched as `npm start` launches it (package.json): a 1 MiB semi-space keeps the young
  // generation, and with it the garbage Buffers of a large transfer, small.
  const nodeArgs = ['--max-semi-space-size=1', ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [])];
  const nodeBin = path.join(opts.repoRoot, 'node_modules', '.bin', 'node');
  // Own process group: stop() can reach an embedded PostgreSQL the gateway spawned.
  const child: ChildProcess = spawn(nodeBin, [...nodeArgs, path.join(opts.repoRoot, 'bin', 'fedgate.ts'), 'serve'], {
    cwd: opts.repoRoot,
    env,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const pid = child.pid!;
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr = (stderr + d).slice(-8000);
  });
  const exitHook = () => {
    signalGroup(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', exitHook);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const alive = () => child.exitCode === null && child.signalCode === null;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (alive()) {
      child.kill('SIGTERM');
      // Fedgate finishes in-flight requests (up to 30 s) and, with --cpu-prof, writes the profile.
      const t = setTimeout(() => signalGroup(pid, 'SIGKILL'), 40_000);
      await exited;
      clearTimeout(t);
    }
    // Anything the gateway started and left behind in its group.
    signalGroup(pid, 'SIGKILL');
    process.off('exit', exitHook);
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fedgate serve did not print "${READY}" within ${opts.startTimeoutMs ?? 120_000} ms`)), opts.startTimeoutMs ?? 120_000);
      const onData = () => {
        if (stderr.includes(READY)) done(null);
      };
      const onExit = (code: number | null, sig: string | null) => done(new Error(`fedgate serve exited before it was ready (code ${code}, signal ${sig})`));
      const done = (err: Error | null) => {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      child.stderr!.on('data', onData);
      child.once('exit', onExit);
    });
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- fedgate stderr (tail) ---\n${stderr}`);
  }

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
    memory: () => readProcMemory(pid),
    clearRefs() {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
        return true;
      } catch {
        return false;
      }
    },
    stderrTail: () => stderr,
    stop,
  };
}
