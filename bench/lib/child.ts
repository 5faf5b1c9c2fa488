// Benchmark child processes: each in its own process group, so stop() (and the exit hook,
// on any exit of the benchmark) reaches everything it started; readiness is a line the
// child prints. Memory and CPU come from /proc.
//
// Peak RSS is the kernel's high-water mark, VmHWM in /proc/<pid>/status; writing "5" to
// /proc/<pid>/clear_refs resets it to the current RSS (proc(5), "clear_refs", Linux 4.0+),
// which lets one phase be measured on its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface ProcMemory {
  /** Peak resident set size since start or the last clearRefs(), bytes. */
  hwm: number;
  /** Current resident set size, bytes. */
  rss: number;
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

/** Reset VmHWM to the current RSS; false when the kernel refuses. */
export function clearRefs(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface Child {
  pid: number;
  /** What the ready pattern's first group captured (e.g. a port). */
  ready: string;
  memory(): ProcMemory;
  /** Seconds of CPU (user + system) the process has used, from /proc/<pid>/stat. */
  cpuSeconds(): number;
  stderrTail(): string;
  stop(): Promise<void>;
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ESRCH') throw err;
  }
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}

/** Start `args` under the project's Node (or under `opts.command`), ready once its output matches `readyPattern`. */
export async function spawnChild(what: string, args: string[], env: NodeJS.ProcessEnv, readyPattern: RegExp, opts: { repoRoot: string; timeoutMs: number; onExit?: () => void; command?: string }): Promise<Child> {
  const command = opts.command ?? path.join(opts.repoRoot, 'node_modules', '.bin', 'node');
  const child: ChildProcess = spawn(command, args, { cwd: opts.repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid!;
  let output = '';
  const collect = (d: string) => {
    output = (output + d).slice(-8000);
  };
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exitHook = () => {
    signalGroup(pid, 'SIGKILL');
    opts.onExit?.();
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
      const t = setTimeout(() => signalGroup(pid, 'SIGKILL'), 40_000);
      await exited;
      clearTimeout(t);
    }
    signalGroup(pid, 'SIGKILL');
    process.off('exit', exitHook);
    opts.onExit?.();
  };
  let ready = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`${what} did not become ready within ${opts.timeoutMs} ms`)), opts.timeoutMs);
      const onData = () => {
        const m = readyPattern.exec(output);
        if (m) {
          ready = m[1] ?? '';
          done(null);
        }
      };
      const onExit = (code: number | null, sig: string | null) => done(new Error(`${what} exited before it was ready (code ${code}, signal ${sig})`));
      const done = (err: Error | null) => {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', onExit);
    });
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- ${what} output (tail) ---\n${output}`);
  }
  return { pid, ready, memory: () => readProcMemory(pid), cpuSeconds: () => procCpuSeconds(pid), stderrTail: () => output, stop };
}
