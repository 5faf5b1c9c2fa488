// Running third-party S3 clients (s3cmd, rclone, python) from tests. A missing client
// fails the test under CI=true (.ci/run installs them) and skips it elsewhere.
import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Whether `cmd args` runs; checked once per test file. */
export async function available(cmd: string, args: string[]): Promise<boolean> {
  return (await run(cmd, args, process.env, 30_000)).code === 0;
}

/** true: go on. false: the test was skipped. Throws under CI, where every client must be there. */
export function requireClient(t: TestContext, ok: boolean, what: string): boolean {
  if (ok) return true;
  if (process.env.CI === 'true') assert.fail(`${what} is not installed (.ci/run installs it)`);
  t.skip(`${what} is not installed`);
  return false;
}
