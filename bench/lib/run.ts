// What every benchmark script shares around its measurements: progress on stderr, undo steps
// that run however the run ends (phase end, failure, SIGINT / SIGTERM, BENCH_TIMEOUT_S), and an
// exit status that cannot silently be 0 when the run did not finish.
import os from 'node:os';
import type { Log } from './cases.ts';
import { writeJson } from './report.ts';

export const log: Log = (msg) => process.stderr.write(`${msg}\n`);

/**
 * Run `fn` with a referenced timer alive. The s3rver helper unrefs its children, so
 * awaiting their 'exit' holds no handle; with nothing else pending Node would end
 * the process (status 0) in the middle of cleanup.
 */
async function keepAlive<T>(fn: () => Promise<T>): Promise<T> {
  const t = setInterval(() => {}, 1000);
  try {
    return await fn();
  } finally {
    clearInterval(t);
  }
}

/** Undo steps, run last-in first-out; each at most once, whether by phase end or by failure. */
export class Cleanup {
  private readonly steps: { what: string; fn: () => Promise<unknown> }[] = [];
  add(what: string, fn: () => Promise<unknown>): () => Promise<void> {
    const step = { what, fn: () => keepAlive(fn) };
    this.steps.push(step);
    return async () => {
      const i = this.steps.indexOf(step);
      if (i < 0) return;
      this.steps.splice(i, 1);
      await step.fn();
    };
  }
  async runAll(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      await step.fn().catch((e: Error) => log(`cleanup: ${step.what} failed: ${e.message}`));
    }
  }
}

/**
 * On SIGINT / SIGTERM (exit 130) or after `timeoutS` (exit 2): clean up and end the process.
 * `aborting()` tells the phases still running to stop starting new work.
 */
export function abortOnSignalOrTimeout(cleanup: Cleanup, timeoutS: number): { aborting(): boolean; done(): void } {
  let aborting = false;
  const onSignal = (sig: string) => {
    aborting = true;
    log(`${sig}: cleaning up`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const deadline = setTimeout(() => {
    aborting = true;
    log(`benchmark exceeded BENCH_TIMEOUT_S=${timeoutS}: cleaning up`);
    void cleanup.runAll().finally(() => process.exit(2));
  }, timeoutS * 1000);
  deadline.unref();
  return { aborting: () => aborting, done: () => clearTimeout(deadline) };
}

/**
 * Run `main` and exit with its status. Node exits with status 0 when the event loop runs
 * dry while a promise is still pending; that would be a silent, table-less "success", so
 * that case says so and exits 3.
 */
export function runBenchmark(main: () => Promise<number>): void {
  let finished = false;
  process.on('beforeExit', () => {
    if (finished) return;
    log(`bench: the event loop ran dry before the run finished (a pending operation holds no handle); active resources: ${process.getActiveResourcesInfo().join(', ')}`);
    process.exitCode = 3;
    finished = true;
  });
  main().then(
    (code) => {
      finished = true;
      process.exit(code);
    },
    (e: Error) => {
      log(`bench: ${e.stack ?? e.message}`);
      process.exit(1);
    },
  );
}

/** When the run started and how loaded the machine was: other work moves every number. */
export function runStart(): { started: Date; loadStart: number[] } {
  return { started: new Date(), loadStart: os.loadavg() };
}

/** The results file: the machine, the load before and after, and the script's own fields. */
export async function writeResults(file: string, start: { started: Date; loadStart: number[] }, fields: Record<string, unknown>): Promise<void> {
  const finished = new Date();
  const seconds = (finished.getTime() - start.started.getTime()) / 1000;
  await writeJson(file, {
    startedAt: start.started.toISOString(),
    durationS: seconds,
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadavg: { start: start.loadStart, end: os.loadavg() },
    ...fields,
  });
  const fmt = (l: number[]) => l.map((x) => x.toFixed(1)).join('/');
  log(`load average (1/5/15 min) at start ${fmt(start.loadStart)}, at end ${fmt(os.loadavg())} on ${os.cpus().length} CPUs`);
  log(`results: ${file} (${seconds.toFixed(0)} s)`);
}
