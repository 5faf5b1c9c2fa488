// Real S3 servers for integration tests (design/MACHINE.md, "S3 servers you can run"):
// s3rver (npm) and moto_server (Python, preinstalled). Each runs in its own process
// group so pause() / resume() (SIGSTOP / SIGCONT) and stop() reach every process the
// launcher spawned (moto_server is a pyenv shim that execs Python). Ports come from
// the OS. A server must not outlive its test process, however that process ends: the
// group leader is a small sh sentinel that kills the group when its stdin (a pipe
// from us) closes — which the kernel does even on SIGKILL — and a process-exit hook
// covers the ordinary exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface S3ServerHandle {
  kind: 's3rver' | 'moto' | 'ceph-rgw';
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Process-group leader; changes on restart(). */
  pid: number;
  port: number;
  /** SIGSTOP the server: TCP still connects (kernel backlog), nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Kill the server (and remove its data directory unless one was given). */
  stop(): Promise<void>;
  /** Kill the server but keep its data directory, so restart() can bring it back (a crashed backend). */
  kill(): Promise<void>;
  /** Kill and start again on the same port; s3rver keeps its data directory, moto starts empty. */
  restart(): Promise<void>;
}

export interface S3ServerOptions {
  /** s3rver only: data directory (default: a fresh temp dir removed on stop). */
  dir?: string;
  /** Default 15 s. */
  startTimeoutMs?: number;
}

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/**
 * A port nothing listens on, for a child process to bind. Taken below the kernel's ephemeral
 * range (32768–60999 on Linux): a port from listen(0) comes from that range, and between our
 * probe and the child's bind an outgoing connection of any process on the machine may be given
 * it as its local port (seen: a `fedgate serve` that starts its embedded PostgreSQL first, then
 * EADDRINUSE). Random ports below the range are only ever taken by listeners.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await bindable(port)) return port;
  }
  throw new Error('no free port found between 20000 and 32000');
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Resolves once an HTTP request to the port gets any response. */
/**
 * Resolves once nothing accepts connections on `port` any more. The launcher shell can exit
 * before the server it started has closed its listening socket; until then the kernel still
 * accepts connections and resets them when the server dies, so a test would see ECONNRESET
 * where a dead backend answers ECONNREFUSED (and a restart could find its port taken).
 */
async function untilRefused(port: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    if (refused) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`port ${port} still accepts connections ${timeoutMs} ms after its server was killed`);
}

async function waitForHttp(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited early (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return;
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`server on port ${port} did not answer within ${timeoutMs} ms: ${String(lastErr)}`);
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ESRCH') throw err;
  }
}

interface Launch {
  kind: 's3rver' | 'moto' | 'ceph-rgw';
  command: string;
  args: (port: number) => string[];
  accessKeyId: string;
  secretAccessKey: string;
  cleanupDir?: string;
}

async function launch(spec: Launch, opts: S3ServerOptions): Promise<S3ServerHandle> {
  const port = await freePort();
  const startTimeout = opts.startTimeoutMs ?? 15_000;
  let child: ChildProcess;
  let exitHook: (() => void) | null = null;
  let stderr = '';

  const start = async () => {
    child = spawn('sh', ['-c', '"$0" "$@" & read _; kill -9 0', spec.command, ...spec.args(port)], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    // Neither the server nor its pipes keep a test process alive that forgot stop().
    child.unref();
    (child.stdin as unknown as net.Socket | null)?.unref();
    (child.stderr as unknown as net.Socket | null)?.unref();
    const pid = child.pid!;
    exitHook = () => signalGroup(pid, 'SIGKILL');
    process.once('exit', exitHook);
    try {
      await waitForHttp(port, child, startTimeout);
    } catch (err) {
      await kill();
      throw new Error(`${spec.kind}: ${(err as Error).message}${stderr ? `\n${stderr}` : ''}`);
    }
  };

  const kill = async () => {
    const c = child;
    if (exitHook) process.off('exit', exitHook);
    exitHook = null;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    // The handle was unref'd at start; without a ref the event loop may run dry before 'exit'
    // arrives, and stop() never gets to remove the data directory (every run left its s3rver
    // directories in the temp dir: 78 GB on this machine before this was found).
    c.ref();
    // A stopped process only acts on SIGKILL; SIGCONT first so SIGTERM is not left pending.
    signalGroup(c.pid!, 'SIGCONT');
    signalGroup(c.pid!, 'SIGKILL');
    await exited;
    await untilRefused(port);
  };

  await start();
  const handle: S3ServerHandle = {
    kind: spec.kind,
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: spec.accessKeyId,
    secretAccessKey: spec.secretAccessKey,
    region: 'us-east-1',
    get pid() {
      return child.pid!;
    },
    port,
    pause: () => signalGroup(child.pid!, 'SIGSTOP'),
    resume: () => signalGroup(child.pid!, 'SIGCONT'),
    stop: async () => {
      await kill();
      if (spec.cleanupDir) await rm(spec.cleanupDir, { recursive: true, force: true });
    },
    kill: () => kill(),
    restart: async () => {
      await kill();
      await start();
    },
  };
  return handle;
}

export async function startS3rver(opts: S3ServerOptions = {}): Promise<S3ServerHandle> {
  const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'fedgate-s3rver-')));
  return launch(
    {
      kind: 's3rver',
      command: path.join(REPO_ROOT, 'node_modules', '.bin', 'node'),
      args: (port) => [path.join(REPO_ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js'), '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent'],
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      cleanupDir: opts.dir ? undefined : dir,
    },
    opts,
  );
}

/** Where `name` is on PATH, or null. */
export function commandPath(name: string): string | null {
  const r = spawnSync('sh', ['-c', 'command -v "$0"', name], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
}

/** Why moto tests cannot run here, or null when `moto_server` is on PATH. */
export function motoUnavailable(): string | null {
  return commandPath('moto_server') ? null : 'moto_server is not on PATH (preinstalled Python moto 5.x expected, see design/MACHINE.md)';
}

export async function startMoto(opts: S3ServerOptions = {}): Promise<S3ServerHandle> {
  const why = motoUnavailable();
  if (why) throw new Error(why);
  return launch(
    {
      kind: 'moto',
      command: 'moto_server',
      args: (port) => ['-H', '127.0.0.1', '-p', String(port)],
      // moto without auth enabled accepts any key pair.
      accessKeyId: 'testing',
      secretAccessKey: 'testing',
    },
    { startTimeoutMs: 30_000, ...opts },
  );
}

/** An SDK client straight to the server, behind Fedgate's back (to read or alter what a provider holds). */
export function directClient(srv: S3ServerHandle): S3Client {
  return new S3Client({ endpoint: srv.endpoint, region: srv.region, forcePathStyle: true, credentials: { accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey } });
}
