// `fedgate worker`: the background workers as a process of their own (PRODUCT.md §3), on the
// PostgreSQL and master key of a gateway that runs without workers. The gateway records a
// copy that missed the quorum; only the separate worker process can make it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { addS3Backends, startTestFedgate, eventually, type TestFedgate } from '../helpers/fedgate.ts';
import { directClient, startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';

const root = path.join(import.meta.dirname, '..', '..');
let fg: TestFedgate;
const servers: S3ServerHandle[] = [];
const children: ChildProcess[] = [];

before(async () => {
  fg = await startTestFedgate({ defaultBackends: 'none', timeoutMs: 3000, workers: false });
  for (let i = 0; i < 3; i++) servers.push(await startS3rver());
  await addS3Backends(fg, servers.map((srv, i) => [`be-${i}`, srv]));
  await fg.client().send(new CreateBucketCommand({ Bucket: 'jobs' }));
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await fg?.stop();
  for (const s of servers) await s.stop();
});

function startWorkerProcess(env: NodeJS.ProcessEnv): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [path.join(root, 'bin/fedgate.ts'), 'worker'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

async function state(key: string, backend: string): Promise<string | undefined> {
  const r = await fg.admin('GET', `/admin/replicas?tenant=root&bucket=jobs&key=${encodeURIComponent(key)}`);
  return (r.json.parts[0].replicas as { backend: string; state: string }[]).find((x) => x.backend === backend)?.state;
}

test('a copy that missed the quorum is made by a separate `fedgate worker` process', async () => {
  const data = randomBytes(300 * 1024);
  await servers[2].kill();
  try {
    await fg.client().send(new PutObjectCommand({ Bucket: 'jobs', Key: 'late-copy', Body: data }));
    await eventually('be-2 recorded as missing', async () => (await state('late-copy', 'be-2')) === 'missing', 10_000);
  } finally {
    await servers[2].restart();
  }
  // The gateway itself runs no workers: the copy is still missing when the worker starts.
  assert.equal(await state('late-copy', 'be-2'), 'missing');
  const worker = startWorkerProcess({
    ...process.env,
    DATABASE_URL: fg.rt.config.databaseUrl,
    FEDGATE_DATA_DIR: fg.dataDir, // the gateway's master key, to open the backends' credentials
    FEDGATE_LOG_LEVEL: 'warn',
    FEDGATE_WORKER_PORT: '0',
  });
  await eventually('the worker process started', async () => worker.stderr().includes('Fedgate worker:') || worker.child.exitCode !== null, 60_000);
  assert.match(worker.stderr(), /Fedgate worker: .* on 3 backends/);
  const base = /\/metrics on (http:\/\/\S+)/.exec(worker.stderr())?.[1];
  assert.ok(base, worker.stderr());
  await eventually('be-2 repaired by the worker process', async () => (await state('late-copy', 'be-2')) === 'ok', 60_000);
  // Its supervisor sees it: /health, /ready, and in /metrics the repair it made and the backends it counts in.
  assert.equal((await fetch(`${base}/health`)).status, 200);
  assert.deepEqual(await (await fetch(`${base}/ready`)).json(), { status: 'ready', checks: { postgres: 'ok' } });
  const metrics = await eventually('the repair in the worker\'s /metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    return /^fedgate_repairs_total\{outcome="completed"\} [1-9]/m.test(text) ? text : null;
  }, 10_000);
  for (const b of ['be-0', 'be-1', 'be-2']) assert.match(metrics, new RegExp(`^fedgate_backend_healthy\\{backend="${b}",region="[^"]+"\\} 1$`, 'm'));
  assert.match(metrics, /^process_cpu_seconds_total /m);
  assert.equal((await fetch(`${base}/admin/scrub`, { method: 'POST' })).status, 405);
  // The copy it made is the object's bytes, read straight from that provider.
  const r = await fg.admin('GET', '/admin/replicas?tenant=root&bucket=jobs&key=late-copy');
  const rep = r.json.parts[0].replicas.find((x: { backend: string }) => x.backend === 'be-2');
  const direct = directClient(servers[2]);
  try {
    const got = await direct.send(new GetObjectCommand({ Bucket: rep.physicalBucket, Key: rep.physicalKey }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data));
  } finally {
    direct.destroy();
  }
  worker.child.kill('SIGTERM');
  assert.equal(await worker.exited, 0, worker.stderr());
});

test('`fedgate worker` without DATABASE_URL refuses to start and says why', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, FEDGATE_DATA_DIR: fg.dataDir };
  delete env.DATABASE_URL;
  const worker = startWorkerProcess(env);
  assert.equal(await worker.exited, 1);
  assert.match(worker.stderr(), /`fedgate worker` needs DATABASE_URL/);
});
