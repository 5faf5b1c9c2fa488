// Zero trust in providers: a provider that changes, truncates or loses the bytes of a replica
// it acknowledged. The tampering is done the way a provider could do it, through the backend
// server's own S3 API, behind Fedgate's back. Reads must never hand out the wrong bytes, the
// scrubber must find every bad replica, and the healer must put the original bytes back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, DeleteObjectCommand, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand } from '@aws-sdk/client-s3';
import { addS3Backends, startTestFedgate, eventually, type TestFedgate } from '../helpers/fedgate.ts';
import { s3Error } from '../helpers/s3-error.ts';
import { directClient, startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';

let fg: TestFedgate;
let s3: S3Client;
const servers: Record<string, S3ServerHandle> = {};
const direct: Record<string, S3Client> = {};

before(async () => {
  fg = await startTestFedgate({ defaultBackends: 'none', timeoutMs: 4000 });
  for (const name of ['a', 'b', 'c']) {
    servers[name] = await startS3rver();
    direct[`be-${name}`] = directClient(servers[name]);
  }
  await addS3Backends(fg, [['be-a', servers.a], ['be-b', servers.b], ['be-c', servers.c]]);
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'vault' }));
});

after(async () => {
  for (const c of Object.values(direct)) c.destroy();
  await fg?.stop();
  for (const s of Object.values(servers)) await s.stop();
});

type Replica = { backend: string; state: string; physicalBucket: string; physicalKey: string };

async function replicas(key: string, part = 0): Promise<Replica[]> {
  const r = await fg.admin('GET', `/admin/replicas?tenant=root&bucket=vault&key=${encodeURIComponent(key)}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.parts[part].replicas;
}

async function waitAllOk(key: string, part = 0): Promise<Replica[]> {
  return eventually(`3 ok replicas of ${key}`, async () => {
    const reps = await replicas(key, part);
    return reps.filter((x) => x.state === 'ok').length === 3 ? reps : null;
  }, 60_000);
}

async function get(key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: 'vault', Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

/** What the provider holds for a replica, read straight from its server. */
async function onProvider(rep: Replica): Promise<Buffer> {
  const r = await direct[rep.backend].send(new GetObjectCommand({ Bucket: rep.physicalBucket, Key: rep.physicalKey }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

async function tamper(rep: Replica, bytes: Buffer): Promise<void> {
  await direct[rep.backend].send(new PutObjectCommand({ Bucket: rep.physicalBucket, Key: rep.physicalKey, Body: bytes }));
}

/** The same length with one byte flipped: only a checksum can tell. */
function flipped(data: Buffer, at: number): Buffer {
  const copy = Buffer.from(data);
  copy[at] ^= 0x01;
  return copy;
}

/**
 * Reads `key` until a read completes, three at most, and returns how many failed. A read that
 * completes must carry exactly `want`, never an altered copy; each failed read takes one altered
 * replica out of the read order, so with two altered the third read at the latest is exact.
 */
async function readExactWithinThree(key: string, want: Buffer): Promise<number> {
  for (let failures = 0; failures < 3; failures++) {
    try {
      assert.ok((await get(key)).equals(want), `${key}: a completed read is exact`);
      return failures;
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
    }
  }
  return assert.fail(`${key}: no exact read within three`);
}

// Which replica a read prefers is the gateway's choice (RTT); each scenario is run three
// times, with a different replica left intact, so that reads meet altered replicas first.
test('a small object with two of three replicas altered by their providers is read exact, in one request', async () => {
  for (let intact = 0; intact < 3; intact++) {
    const key = `small-${intact}`;
    const data = randomBytes(64 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: key, Body: data }));
    const reps = await waitAllOk(key);
    for (const [i, rep] of reps.entries()) if (i !== intact) await tamper(rep, flipped(data, 1000 * i));
    for (let n = 0; n < 2; n++) assert.ok((await get(key)).equals(data), `${key}: read ${n} exact`);
    const states = Object.fromEntries((await replicas(key)).map((r) => [r.backend, r.state]));
    assert.equal(states[reps[intact].backend], 'ok');
  }
});

test('a small object whose every replica was altered is 503, never the altered bytes', async () => {
  const data = randomBytes(10 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'all-bad', Body: data }));
  for (const [i, rep] of (await waitAllOk('all-bad')).entries()) await tamper(rep, flipped(data, i));
  const e = await s3Error(get('all-bad'));
  assert.equal(e.status, 503);
  assert.equal(e.name, 'ServiceUnavailable');
  assert.deepEqual((await replicas('all-bad')).map((r) => r.state), ['corrupt', 'corrupt', 'corrupt']);
});

test('a large object read from an altered replica fails instead of completing with wrong bytes, and a later read is exact', async () => {
  // Which replica is read first follows the backends' RTT, which changes from ping to ping; runs
  // go on (10 at most) until a read has met an altered replica, so the failing path is exercised.
  let failures = 0;
  for (let run = 0; run < 3 || (failures === 0 && run < 10); run++) {
    const intact = run % 3;
    const key = `large-${run}`;
    const data = randomBytes(6 * 1024 * 1024 + 123);
    await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: key, Body: data }));
    const reps = await waitAllOk(key);
    for (const [i, rep] of reps.entries()) if (i !== intact) await tamper(rep, flipped(data, i === 0 ? data.length - 10 : 5));
    failures += await readExactWithinThree(key, data);
  }
  assert.ok(failures > 0, 'some read met an altered replica first');
});

test('a multipart object is verified part by part', async () => {
  for (let intact = 0; intact < 3; intact++) {
    const key = `mp-${intact}`;
    const p1 = randomBytes(5 * 1024 * 1024);
    const p2 = randomBytes(256 * 1024);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'vault', Key: key }));
    const e1 = await s3.send(new UploadPartCommand({ Bucket: 'vault', Key: key, UploadId, PartNumber: 1, Body: p1 }));
    const e2 = await s3.send(new UploadPartCommand({ Bucket: 'vault', Key: key, UploadId, PartNumber: 2, Body: p2 }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'vault', Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] } }));
    await waitAllOk(key, 0);
    const reps2 = await waitAllOk(key, 1);
    for (const [i, rep] of reps2.entries()) if (i !== intact) await tamper(rep, flipped(p2, 4242 + i));
    await readExactWithinThree(key, Buffer.concat([p1, p2]));
  }
});

test('the scrubber finds altered, truncated and lost replicas, and the healer puts the original bytes back', async () => {
  const whole = randomBytes(300 * 1024);
  const big = randomBytes(5 * 1024 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'scrub-me', Body: whole }));
  await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'scrub-big', Body: big }));
  const reps = await waitAllOk('scrub-me');
  const bigReps = await waitAllOk('scrub-big');
  // The tests above left altered replicas that no read happened to try (over 64 MiB of replicas
  // in all, more than one default round reads). Rounds without a budget read every 'ok' replica,
  // so a clean one means that nothing else is bad before the tampering below.
  const clean = await eventually('a clean scrub round over every replica', async () => {
    const r = await fg.workers!.scrubNow({ maxBytes: Number.MAX_SAFE_INTEGER, maxBlobs: 100_000 });
    return r.corrupt + r.missing === 0 ? r : null;
  }, 60_000, 500);
  assert.ok(clean.ok >= 6, JSON.stringify(clean));

  await tamper(reps[0], flipped(whole, 77)); // altered
  await tamper(reps[1], whole.subarray(0, whole.length - 1)); // truncated
  await direct[bigReps[2].backend].send(new DeleteObjectCommand({ Bucket: bigReps[2].physicalBucket, Key: bigReps[2].physicalKey })); // lost

  // Rounds take the replicas verified longest ago first, so two rounds see every replica.
  // As an operator would: POST /admin/scrub runs one round and answers its report.
  const found = { corrupt: 0, missing: 0 };
  for (let i = 0; i < 4 && found.corrupt + found.missing < 3; i++) {
    const r = await fg.admin('POST', '/admin/scrub');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    found.corrupt += r.json.corrupt;
    found.missing += r.json.missing;
  }
  assert.deepEqual(found, { corrupt: 2, missing: 1 });

  // The healer copies from a good replica and verifies the copy; the providers hold the original again.
  const healed = await waitAllOk('scrub-me');
  for (const rep of healed) assert.ok((await onProvider(rep)).equals(whole), `${rep.backend} holds the original bytes`);
  const bigHealed = await waitAllOk('scrub-big');
  assert.ok((await onProvider(bigHealed.find((r) => r.backend === bigReps[2].backend)!)).equals(big));
  const after = await fg.workers!.scrubNow();
  assert.equal(after.corrupt + after.missing, 0, JSON.stringify(after));

  // Operators see it in Prometheus: what the scrubber found, per provider, and the repairs made.
  const metrics = await (await fetch(`${fg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${fg.adminToken}` } })).text();
  const total = (re: RegExp) => [...metrics.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  assert.ok(total(/^fedgate_replicas_bad_total\{[^}]*state="corrupt",found_by="scrub"[^}]*\} (\d+)/gm) >= 2, metrics);
  assert.ok(total(/^fedgate_replicas_bad_total\{[^}]*state="missing",found_by="scrub"[^}]*\} (\d+)/gm) >= 1, metrics);
  assert.ok(total(/^fedgate_repairs_total\{outcome="completed"\} (\d+)/gm) >= 2, metrics); // one job per chunk
  assert.ok(total(/^fedgate_scrub_bytes_total (\d+)/gm) > 0, metrics);
});

test('a scrub round with a hung provider (SIGSTOP) marks nothing bad and waits for it once at most', async () => {
  // Several replicas on the provider that will hang, none verified yet: a round meets them all.
  for (let i = 0; i < 5; i++) {
    await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: `while-hung-${i}`, Body: randomBytes(100 * 1024) }));
    await waitAllOk(`while-hung-${i}`);
  }
  servers.b.pause();
  try {
    const r = await fg.workers!.scrubNow();
    assert.equal(r.corrupt + r.missing, 0, JSON.stringify(r));
    assert.ok(r.unreachable <= 1, `one failed read takes the hung backend out of the round: ${JSON.stringify(r)}`);
    assert.ok(r.ok > 0, JSON.stringify(r));
  } finally {
    servers.b.resume();
  }
  for (let i = 0; i < 5; i++) assert.ok((await replicas(`while-hung-${i}`)).every((x) => x.state === 'ok'));
});

test('a repair never copies an altered replica: the copy it makes holds the original bytes', async () => {
  // be-a is away during the write, so its copy is 'missing'; one of the two others is then
  // altered behind Fedgate's back while still 'ok'. Run with each of them altered in turn, so
  // that the repair meets the altered source first in one of the runs.
  for (const altered of ['be-b', 'be-c']) {
    const key = `repair-from-${altered}`;
    const data = randomBytes(700 * 1024);
    await servers.a.kill();
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: key, Body: data }));
      await eventually(`be-a recorded as missing for ${key}`, async () => (await replicas(key)).find((r) => r.backend === 'be-a')?.state === 'missing', 10_000);
      const victim = (await replicas(key)).find((r) => r.backend === altered)!;
      await tamper(victim, flipped(data, 12_345));
    } finally {
      await servers.a.restart();
    }
    const healed = await waitAllOk(key);
    assert.ok((await onProvider(healed.find((r) => r.backend === 'be-a')!)).equals(data), `${key}: the repaired copy on be-a is the original`);
    await eventually('all three backends healthy', async () => (await fg.admin('GET', '/admin/storage')).json.backends.every((b: { healthy: boolean }) => b.healthy), 30_000);
  }
});
