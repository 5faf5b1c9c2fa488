// Ceph RGW as a backend for tests: the one real, SigV4-verifying S3 server that installs
// here (Debian radosgw; design/MACHINE.md). A single-node cluster (mon + memstore OSD +
// radosgw, no cephx) per call, on ports of its own, brought up by ceph/rgw-up.sh in ~13 s
// and ~1.5 GB of memory. A missing install fails the test under CI=true (.ci/run installs
// it) and skips it elsewhere.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, type S3ServerHandle } from './s3-servers.ts';

const SCRIPTS = path.join(import.meta.dirname, 'ceph');
/** The s3-tests sample user the script creates. */
const ACCESS_KEY = '0555b35654ad1656d804';
const SECRET_KEY = 'h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==';

function sh(script: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('bash', [path.join(SCRIPTS, script), ...args], { timeout: timeoutMs }, (err, stdout, stderr) =>
      err ? reject(new Error(`${script} failed (${err.killed ? `killed after ${timeoutMs} ms` : `exit ${err.code}`}):\n${stdout}${stderr}`)) : resolve(),
    );
  });
}

/** Why Ceph RGW cannot run here, or null. */
export async function cephRgwUnavailable(): Promise<string | null> {
  const ok = await new Promise<boolean>((resolve) => execFile('sh', ['-c', 'command -v radosgw && command -v ceph-mon && command -v ceph-osd'], (err) => resolve(!err)));
  return ok ? null : 'Ceph RGW is not installed (apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd)';
}

export async function startCephRgw(): Promise<S3ServerHandle> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-rgw-'));
  const port = await freePort();
  const monPort = await freePort();
  const pids: number[] = [];
  const killAll = () => {
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  // Ordinary exits of the test process take the cluster with them (the daemons are detached).
  process.once('exit', killAll);
  try {
    await sh('rgw-up.sh', [dir, String(port), String(monPort)], 180_000);
  } finally {
    for (const n of ['rgw', 'osd', 'mon']) {
      const pid = Number(await readFile(path.join(dir, `${n}.pid`), 'utf8').catch(() => ''));
      if (pid > 0) pids.push(pid);
    }
  }
  const rgwPid = pids[0];
  const stop = async () => {
    try {
      process.kill(rgwPid, 'SIGCONT');
    } catch {
      // already gone
    }
    await sh('rgw-down.sh', [dir], 60_000).catch(killAll);
    process.off('exit', killAll);
    await rm(dir, { recursive: true, force: true });
  };
  return {
    kind: 'ceph-rgw',
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: ACCESS_KEY,
    secretAccessKey: SECRET_KEY,
    region: 'us-east-1',
    pid: rgwPid,
    port,
    pause: () => process.kill(rgwPid, 'SIGSTOP'),
    resume: () => process.kill(rgwPid, 'SIGCONT'),
    stop,
    kill: () => Promise.reject(new Error('kill() is not supported for Ceph RGW; use stop()')),
    restart: () => Promise.reject(new Error('restart() is not supported for Ceph RGW')),
  };
}
