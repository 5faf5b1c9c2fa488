// A GET whose replica dies or hangs while the body streams carries on from another replica at
// the first byte not yet sent: the client gets the whole object, byte for byte, in one answer.
// Three s3rvers stand behind TCP forwarders, so a test can see which one is answering (the
// bytes each forwarded) and cut that one off mid-body: reset its connections (a process that
// died) or stop moving its bytes (a process paused, which only the backend timeout ends).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { addS3Backends, eventually, logCollector, startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { directClient, startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

const NAMES = ['be-a', 'be-b', 'be-c'] as const;
type Name = (typeof NAMES)[number];

let fg: TestFedgate;
// The gateway's JSON log lines.
const { logTo, lines: logged } = logCollector();
let s3: S3Client;
const servers = {} as Record<Name, S3ServerHandle>;
const proxies = {} as Record<Name, TcpProxy>;
const direct = {} as Record<Name, S3Client>;
// 48 MiB: more than the socket buffers between an s3rver and the gateway hold (receive buffers
// grow to 32 MiB on some machines), so a backend cut off after the first bytes still owes most
// of the body.
const BODY = randomBytes(48 * 1024 * 1024);

before(async () => {
  // Healthy backends are pinged once a minute (unhealthy ones still every second), so the read
  // order a test sets by RTT holds while it reads.
  fg = await startTestFedgate({ defaultBackends: 'none', timeoutMs: 2000, logTo, workerOptions: { healthIntervalMs: 60_000 } });
  for (const name of NAMES) {
    servers[name] = await startS3rver();
    proxies[name] = await startTcpProxy({ host: '127.0.0.1', port: servers[name].port });
    direct[name] = directClient(servers[name]);
  }
  await addS3Backends(fg, NAMES.map((n) => [n, { ...servers[n], endpoint: `http://127.0.0.1:${proxies[n].port}` }]));
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'films' }));
  await s3.send(new PutObjectCommand({ Bucket: 'films', Key: 'reel', Body: BODY }));
  await eventually('3 ok replicas of reel', async () => (await replicas('reel')).filter((r) => r.state === 'ok').length === 3, 30_000);
});

afterEach(async () => {
  for (const n of NAMES) proxies[n].restore();
  await eventually('every backend healthy again', async () => {
    const listed = (await fg.admin('GET', '/admin/storage')).json.backends as { name: string; healthy: boolean }[];
    return listed.every((b) => b.healthy);
  }, 30_000);
});

after(async () => {
  for (const c of Object.values(direct)) c.destroy();
  await fg?.stop();
  for (const n of NAMES) {
    await proxies[n]?.close();
    await servers[n]?.stop();
  }
});

type Replica = { backend: Name; state: string; physicalBucket: string; physicalKey: string };

async function replicas(key: string): Promise<Replica[]> {
  const r = await fg.admin('GET', `/admin/replicas?tenant=root&bucket=films&key=${encodeURIComponent(key)}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.parts[0].replicas;
}

async function resumedCount(backend: Name): Promise<number> {
  const text = await (await fetch(`${fg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${fg.adminToken}` } })).text();
  const m = new RegExp(`^fedgate_reads_resumed_total\\{backend="${backend}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * GET `reel` (with `range`, an HTTP Range header); once the first bytes have arrived, `midway`
 * is told which backend is sending them. Resolves with the whole body, or rejects when it was cut.
 */
async function getWith(midway: (serving: Name) => Promise<void> | void, range?: string): Promise<Buffer> {
  const before = Object.fromEntries(NAMES.map((n) => [n, proxies[n].bytesToClients])) as Record<Name, number>;
  const r = await s3.send(new GetObjectCommand({ Bucket: 'films', Key: 'reel', Range: range }));
  const pieces: Buffer[] = [];
  let told = false;
  for await (const piece of r.Body as AsyncIterable<Buffer>) {
    pieces.push(piece);
    if (!told) {
      told = true;
      const sent = NAMES.map((n) => ({ n, bytes: proxies[n].bytesToClients - before[n] })).sort((x, y) => y.bytes - x.bytes);
      // Health checks move a few hundred bytes; the answering backend has sent a body's worth.
      assert.ok(sent[0].bytes >= 64 * 1024 && sent[1].bytes < 64 * 1024, `which backend answers: ${JSON.stringify(sent)}`);
      await midway(sent[0].n);
    }
  }
  return Buffer.concat(pieces);
}

/**
 * GET `reel` and cut the answering backend off as soon as the first bytes arrive: the body, that
 * backend, and its resume count before the GET (read first: the cut must not wait for it).
 */
async function getCutOff(how: 'refuse' | 'blackhole', range?: string): Promise<{ got: Buffer; cut: Name; resumedBefore: number }> {
  const before = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await resumedCount(n)]))) as Record<Name, number>;
  let cut: Name | undefined;
  const got = await getWith((serving) => {
    cut = serving;
    proxies[serving][how]();
  }, range);
  return { got, cut: cut!, resumedBefore: before[cut!] };
}

test('a GET whose backend dies mid-body carries on from another replica: the whole object, identical', async () => {
  const { got, cut, resumedBefore } = await getCutOff('refuse');
  assert.equal(got.length, BODY.length);
  assert.ok(got.equals(BODY), 'the bytes read back differ from the bytes written');
  assert.equal(await resumedCount(cut), resumedBefore + 1, `one read resumed after ${cut} broke off`);
  const said = logged.filter((l) => l.msg === 'a replica broke off mid-read; resumed on another' && l.from === cut);
  assert.equal(said.length, 1, 'the resume is logged once, with the backend it left');
  assert.ok((await replicas('reel')).every((r) => r.state === 'ok'), 'a replica that only went away is not marked bad');
});

test('a GET whose backend hangs mid-body carries on from another replica after the backend timeout', async () => {
  const { got, cut, resumedBefore } = await getCutOff('blackhole');
  assert.ok(got.equals(BODY), 'the bytes read back differ from the bytes written');
  assert.equal(await resumedCount(cut), resumedBefore + 1);
});

test('a ranged GET resumes at the right offset', async () => {
  const { got, cut, resumedBefore } = await getCutOff('refuse', 'bytes=5000001-44999999');
  assert.equal(got.length, 40_000_000 - 1);
  assert.ok(got.equals(BODY.subarray(5_000_001, 45_000_000)), 'the ranged bytes read back differ from the bytes written');
  assert.equal(await resumedCount(cut), resumedBefore + 1, 'the range was resumed, not served whole by the first replica');
});

test('when no other replica can take over, the body is cut off (never a hang, never a short answer that looks whole)', async () => {
  const cut = getWith((serving) => {
    for (const n of NAMES) if (n !== serving) proxies[n].refuse();
    proxies[serving].refuse();
  });
  await assert.rejects(cut);
  for (const n of NAMES) proxies[n].restore();
  // The gateway goes on serving.
  const r = await s3.send(new GetObjectCommand({ Bucket: 'films', Key: 'reel', Range: 'bytes=0-9' }));
  assert.ok(Buffer.from(await r.Body!.transformToByteArray()).equals(BODY.subarray(0, 10)));
});

test('wrong bytes on the replica a read resumed on: the read fails before its end, that replica is marked corrupt, the healer restores it', async () => {
  const reps = await replicas('reel');
  let first: Name | undefined;
  const read = getWith(async (serving) => {
    first = serving;
    // The two other providers now hold other bytes of the same size for this object.
    for (const r of reps) {
      if (r.backend === serving) continue;
      await direct[r.backend].send(new PutObjectCommand({ Bucket: r.physicalBucket, Key: r.physicalKey, Body: randomBytes(BODY.length) }));
    }
    proxies[serving].refuse();
  });
  await assert.rejects(read, 'a complete answer assembled from two replicas with different bytes');
  // The replica the read resumed on is checked on its own and found corrupt; the one that
  // broke off could not be reached for its check and stays ok.
  const after = await eventually('the replica the read resumed on is marked corrupt', async () => {
    const now = await replicas('reel');
    return now.some((r) => r.state === 'corrupt') ? now : null;
  }, 30_000);
  assert.equal(after.find((r) => r.backend === first)!.state, 'ok');
  const corrupt = after.find((r) => r.state === 'corrupt')!.backend;
  const metrics = await (await fetch(`${fg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${fg.adminToken}` } })).text();
  assert.match(metrics, new RegExp(`^fedgate_replicas_bad_total\\{state="corrupt",found_by="read",backend="${corrupt}"\\} 1$`, 'm'));
  proxies[first!].restore();
  // The third copy is found by the scrubber; the healer copies the good one over both.
  await eventually('all replicas ok again with the original bytes', async () => {
    await fg.workers!.scrubNow({ maxBytes: 1 << 30 });
    await fg.workers!.healNow();
    const now = await replicas('reel');
    if (!now.every((r) => r.state === 'ok')) return false;
    for (const r of now) {
      const o = await direct[r.backend].send(new GetObjectCommand({ Bucket: r.physicalBucket, Key: r.physicalKey }));
      if (!Buffer.from(await o.Body!.transformToByteArray()).equals(BODY)) return false;
    }
    return true;
  }, 60_000, 500);
  const r = await s3.send(new GetObjectCommand({ Bucket: 'films', Key: 'reel' }));
  assert.ok(Buffer.from(await r.Body!.transformToByteArray()).equals(BODY));
});

test('a replica its provider truncated: the read carries on from another and completes with the right bytes, and the short one is marked corrupt', async () => {
  const body = randomBytes(8 * 1024 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: 'films', Key: 'trailer', Body: body }));
  const reps = await eventually('3 ok replicas of trailer', async () => {
    const r = await replicas('trailer');
    return r.filter((x) => x.state === 'ok').length === 3 ? r : null;
  }, 30_000);
  // be-a's provider keeps only the first 3 MiB; be-a is read first (lowest RTT).
  const short = reps.find((r) => r.backend === 'be-a')!;
  await direct['be-a'].send(new PutObjectCommand({ Bucket: short.physicalBucket, Key: short.physicalKey, Body: body.subarray(0, 3 * 1024 * 1024) }));
  for (const b of fg.rt.data.backends.all()) b.rttMs = b.row.name === 'be-a' ? 0 : 50;
  const r = await s3.send(new GetObjectCommand({ Bucket: 'films', Key: 'trailer' }));
  assert.ok(Buffer.from(await r.Body!.transformToByteArray()).equals(body), 'the bytes read back differ from the bytes written');
  const now = await eventually('the short replica marked corrupt', async () => {
    const x = await replicas('trailer');
    return x.find((y) => y.backend === 'be-a')!.state === 'corrupt' ? x : null;
  }, 10_000);
  assert.deepEqual(now.filter((y) => y.state === 'ok').map((y) => y.backend).sort(), ['be-b', 'be-c']);
  // The healer writes it again.
  await eventually('the healer restored it', async () => {
    await fg.workers!.healNow();
    const x = await replicas('trailer');
    if (!x.every((y) => y.state === 'ok')) return false;
    const o = await direct['be-a'].send(new GetObjectCommand({ Bucket: short.physicalBucket, Key: short.physicalKey }));
    return Buffer.from(await o.Body!.transformToByteArray()).equals(body);
  }, 30_000, 500);
});

test('a GET no replica can serve answers 503 ServiceUnavailable, and its request log line says why', async () => {
  for (const n of NAMES) proxies[n].refuse();
  const err = await s3.send(new GetObjectCommand({ Bucket: 'films', Key: 'reel' })).then(
    () => assert.fail('a GET with every backend refusing connections succeeded'),
    (e: { name: string; $metadata: { httpStatusCode?: number } }) => e,
  );
  assert.equal(err.name, 'ServiceUnavailable');
  assert.equal(err.$metadata.httpStatusCode, 503);
  const line = await eventually('the request log line of the 503', async () => logged.find((l) => l.msg === 's3 request' && l.status === 503 && l.op === 'GetObject'));
  assert.equal(line.reason, 'No replica of this object is reachable right now');
  // A client error carries no reason: only a server fault needs one.
  const missing = await s3.send(new GetObjectCommand({ Bucket: 'films', Key: 'no-such-reel' })).catch((e: Error) => e);
  assert.equal((missing as Error).name, 'NoSuchKey');
  const miss = await eventually('the request log line of the 404', async () => logged.find((l) => l.msg === 's3 request' && l.status === 404));
  assert.equal(miss.reason, undefined);
});
