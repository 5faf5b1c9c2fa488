// Federation over real S3 servers written by others (two s3rver, one moto_server),
// registered through the admin API: quorum writes, healing after a backend returns,
// reads with failover, and hung backends (SIGSTOP) that must never hang a client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { S3Client, CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { s3Error } from '../helpers/s3-error.ts';
import { addS3Backends, startTestFedgate, eventually, type TestFedgate } from '../helpers/fedgate.ts';
import { directClient, startS3rver, startMoto, motoUnavailable, type S3ServerHandle } from '../helpers/s3-servers.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { replicateChunk } from '../../workers/replication.ts';

// Generous enough that CPU starvation under a parallel test run is not mistaken for a hung backend.
const TIMEOUT_MS = 4000;
let fg: TestFedgate;
let s3: S3Client;
const servers: Record<string, S3ServerHandle> = {};

before(async () => {
  fg = await startTestFedgate({ defaultBackends: 'none', timeoutMs: TIMEOUT_MS });
  const missingMoto = motoUnavailable();
  servers.a = await startS3rver();
  servers.b = await startS3rver();
  servers.c = missingMoto ? await startS3rver() : await startMoto();
  await addS3Backends(fg, [['be-a', servers.a], ['be-b', servers.b], ['be-c', servers.c]]);
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'fed' }));
});

after(async () => {
  for (const s of Object.values(servers)) {
    s.resume();
    await s.stop();
  }
  await fg?.stop();
});

async function replicas(key: string): Promise<Record<string, string>> {
  const r = await fg.admin('GET', `/admin/replicas?tenant=root&bucket=fed&key=${encodeURIComponent(key)}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return Object.fromEntries(r.json.parts[0].replicas.map((x: any) => [x.backend, x.state]));
}

async function waitAllOk(key: string): Promise<void> {
  await eventually(`3 ok replicas of ${key}`, async () => Object.values(await replicas(key)).filter((s) => s === 'ok').length === 3, 60_000);
}

/** Backends restarted by an earlier test are back in the pool (the health pinger has seen them). */
async function allHealthy(): Promise<void> {
  await eventually('all three backends healthy', async () => (await fg.admin('GET', '/admin/storage')).json.backends.every((b: any) => b.healthy), 30_000);
}

async function read(key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: 'fed', Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}


test('add-storage refuses a backend it cannot reach, with the reason', async () => {
  const r = await fg.admin('POST', '/admin/add-storage', { name: 'ghost', type: 's3', endpoint: 'http://127.0.0.1:1', accessKeyId: 'x', secretAccessKey: 'y', region: 'eu-1' });
  assert.equal(r.status, 422);
  assert.equal(r.json.error, 'BackendProbeFailed');
  assert.match(r.json.message, /create probe bucket failed/);
  const list = await fg.admin('GET', '/admin/storage');
  assert.deepEqual(list.json.backends.map((b: any) => b.name).sort(), ['be-a', 'be-b', 'be-c']);
});

test('a PUT lands on all three backends, under opaque physical names', async () => {
  const data = randomBytes(256 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: 'fed', Key: 'all-up', Body: data }));
  await waitAllOk('all-up');
  assert.ok((await read('all-up')).equals(data));
  const r = await fg.admin('GET', '/admin/replicas?tenant=root&bucket=fed&key=all-up');
  for (const rep of r.json.parts[0].replicas) {
    assert.match(rep.physicalBucket, /^s3gw-[a-z0-9]+-(s3rver|moto)$/);
    assert.ok(!rep.physicalKey.includes('all-up'));
  }
  // The bytes really are on each backend: read one copy straight from its server.
  const direct = directClient(servers.b);
  const rep = r.json.parts[0].replicas.find((x: any) => x.backend === 'be-b');
  const got = await direct.send(new GetObjectCommand({ Bucket: rep.physicalBucket, Key: rep.physicalKey }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data));
  direct.destroy();
});

test('with one backend stopped a PUT succeeds, and the missing copy is created when it returns', async () => {
  await servers.b.kill();
  try {
    const data = randomBytes(100 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: 'fed', Key: 'one-down', Body: data }));
    // The failed copy is recorded as missing (at commit, or a moment later when its refusal
    // came after the quorum), while the two others are ok.
    const states = await eventually('be-b recorded as missing', async () => {
      const s = await replicas('one-down');
      return s['be-b'] === 'missing' ? s : null;
    }, 10_000);
    assert.equal(Object.values(states).filter((s) => s === 'ok').length, 2);
    assert.ok((await read('one-down')).equals(data));
  } finally {
    await servers.b.restart();
  }
  await waitAllOk('one-down');
});

test('a missing copy of an object deleted before its backend returned is not made: the repair leaves no blob on that backend', async () => {
  await servers.b.kill();
  let blob: { chunkId: string; physicalBucket: string; physicalKey: string };
  try {
    await s3.send(new PutObjectCommand({ Bucket: 'fed', Key: 'deleted-before-repair', Body: randomBytes(100 * 1024) }));
    blob = await eventually('be-b recorded as missing', async () => {
      const part = (await fg.admin('GET', '/admin/replicas?tenant=root&bucket=fed&key=deleted-before-repair')).json.parts[0];
      const b = part.replicas.find((r: any) => r.backend === 'be-b');
      return b?.state === 'missing' ? { chunkId: part.chunkId, physicalBucket: b.physicalBucket, physicalKey: b.physicalKey } : null;
    }, 10_000);
    await s3.send(new DeleteObjectCommand({ Bucket: 'fed', Key: 'deleted-before-repair' }));
  } finally {
    await servers.b.restart();
  }
  // The queued job runs on its own once be-b answers; this runs the same repair now.
  assert.deepEqual(await replicateChunk({ store: fg.rt.store, data: fg.rt.data, log: createLogger('silent'), timeoutMs: TIMEOUT_MS }, blob.chunkId), { repaired: 0 });
  const e = await s3Error(directClient(servers.b).send(new HeadObjectCommand({ Bucket: blob.physicalBucket, Key: blob.physicalKey })));
  assert.equal(e.status, 404);
  await allHealthy();
});

test('with two backends stopped a PUT answers 503 and no object appears', async () => {
  await servers.b.kill();
  await servers.c.kill();
  try {
    // 4 MiB: more than the socket buffers hold, so the 503 must come while the body is still arriving.
    const e = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'fed', Key: 'two-down', Body: randomBytes(4 * 1024 * 1024) })));
    assert.equal(e.status, 503);
    assert.match(e.name, /ServiceUnavailable|SlowDown/);
    assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'fed', Key: 'two-down' })))).status, 404);
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'fed', Prefix: 'two-down' }));
    assert.equal(list.KeyCount, 0);
  } finally {
    await servers.b.restart();
    await servers.c.restart();
  }
});

test('a GET succeeds while any one replica lives', async () => {
  const data = randomBytes(64 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: 'fed', Key: 'survivor', Body: data }));
  await waitAllOk('survivor');
  await servers.a.kill();
  await servers.b.kill();
  try {
    assert.ok((await read('survivor')).equals(data));
  } finally {
    await servers.a.restart();
    await servers.b.restart();
  }
});

test('a hung backend (SIGSTOP) becomes a failed target: the PUT answers within the timeout and heals after SIGCONT', async () => {
  await allHealthy();
  servers.c.pause();
  const data = randomBytes(200 * 1024);
  const t0 = Date.now();
  try {
    await s3.send(new PutObjectCommand({ Bucket: 'fed', Key: 'hung-one', Body: data }));
    const took = Date.now() - t0;
    assert.ok(took < TIMEOUT_MS * 4, `PUT took ${took} ms with one hung backend`);
    assert.ok((await read('hung-one')).equals(data), 'readable while one replica hangs');
  } finally {
    servers.c.resume();
  }
  await waitAllOk('hung-one');
});

test('with two hung backends a PUT fails with 503 within a bounded time instead of hanging', async () => {
  await allHealthy();
  servers.b.pause();
  servers.c.pause();
  const t0 = Date.now();
  try {
    const e = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'fed', Key: 'hung-two', Body: randomBytes(4 * 1024 * 1024) })));
    assert.equal(e.status, 503);
    assert.ok(Date.now() - t0 < TIMEOUT_MS * 5, 'bounded by the backend timeout');
  } finally {
    servers.b.resume();
    servers.c.resume();
  }
  assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'fed', Key: 'hung-two' })))).status, 404);
});
