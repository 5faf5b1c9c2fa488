// The garbage collector over three real S3 servers (s3rver): what it removes from the backends,
// and what it must never remove — bytes a committed object still needs, and a chunk an upload is
// still streaming into when the upload outlasts the grace period (migrations/011, the chunk lease).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CopyObjectCommand, CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { addS3Backends, assertNeverStored, eventually, startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { directClient, startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';
import { s3Error } from '../helpers/s3-error.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { replicateChunk } from '../../workers/replication.ts';

const GRACE_MS = 1500;
const BUCKET = 'gc-test';
let fg: TestFedgate;
let s3: S3Client;
const servers: Record<string, S3ServerHandle> = {};

before(async () => {
  // GC rounds run only when a test calls gcNow: a background round landing between two of a test's
  // steps (e.g. right after a killed backend's restart) would make what the test sees a matter of timing.
  fg = await startTestFedgate({
    defaultBackends: 'none',
    timeoutMs: 4000,
    env: { FEDGATE_GC_GRACE_MS: String(GRACE_MS) },
    workerOptions: { gcIntervalMs: 3_600_000 },
  });
  for (const name of ['gc-a', 'gc-b', 'gc-c']) servers[name] = await startS3rver();
  await addS3Backends(
    fg,
    Object.entries(servers).map(([name, srv]) => [name, srv]),
  );
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

after(async () => {
  for (const s of Object.values(servers)) await s.stop();
  await fg?.stop();
});

interface Replica {
  backend: string;
  physicalBucket: string;
  physicalKey: string;
  state: string;
}

/** Where the object's (single) chunk lives, once all three copies are 'ok'. */
async function placedOnAllThree(key: string): Promise<Replica[]> {
  return eventually(`3 ok replicas of ${key}`, async () => {
    const r = await fg.admin('GET', `/admin/replicas?tenant=root&bucket=${BUCKET}&key=${encodeURIComponent(key)}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const reps = r.json.parts[0].replicas as Replica[];
    return reps.filter((x) => x.state === 'ok').length === 3 ? reps : null;
  });
}

/** The backends that still hold these blobs, asked directly (not through Fedgate). */
async function holders(replicas: Replica[]): Promise<string[]> {
  const found: string[] = [];
  for (const r of replicas) {
    try {
      await directClient(servers[r.backend]).send(new HeadObjectCommand({ Bucket: r.physicalBucket, Key: r.physicalKey }));
      found.push(r.backend);
    } catch (e) {
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw e;
    }
  }
  return found.sort();
}

async function read(key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

/** The id of the object's (single) chunk, from the metadata. */
async function chunkOf(key: string): Promise<string> {
  const bucket = (await fg.rt.store.getBucket((await fg.rt.store.getTenantByName('root'))!.id, BUCKET))!;
  return (await fg.rt.store.getObject(bucket.id, key))!.parts[0].chunk.id;
}

async function doomedOf(replicas: Replica[]): Promise<number> {
  const key = replicas[0].physicalKey;
  return (await fg.rt.store.listDoomedBlobs(10_000)).filter((b) => b.physicalKey === key).length;
}

test("a deleted object's blobs leave every backend after the grace period; a copy keeps the bytes it shares", async () => {
  const gone = randomBytes(300 * 1024);
  const shared = randomBytes(200 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'gone', Body: gone }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'shared', Body: shared }));
  await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy', CopySource: `${BUCKET}/shared` }));
  const goneAt = await placedOnAllThree('gone');
  const sharedAt = await placedOnAllThree('shared');
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'gone' }));
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'shared' }));

  await fg.workers!.gcNow();
  assert.deepEqual(await holders(goneAt), ['gc-a', 'gc-b', 'gc-c'], 'within the grace period nothing is removed');

  await sleep(GRACE_MS + 200);
  await fg.workers!.gcNow();
  assert.deepEqual(await holders(goneAt), [], 'removed from every backend');
  assert.equal(await doomedOf(goneAt), 0, 'nothing left on the to-do list');
  assert.deepEqual(await holders(sharedAt), ['gc-a', 'gc-b', 'gc-c'], "the copy's chunk stays");
  assert.ok((await read('copy')).equals(shared));
});

test('a backend that is down when a blob is removed loses that blob once it is back', async () => {
  const data = randomBytes(100 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'while-down', Body: data }));
  const at = await placedOnAllThree('while-down');
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'while-down' }));
  await sleep(GRACE_MS + 200);
  await servers['gc-c'].kill();
  try {
    await fg.workers!.gcNow();
    assert.equal(await doomedOf(at), 1, "gc-c's blob stays on the to-do list");
  } finally {
    await servers['gc-c'].restart();
  }
  assert.deepEqual(await holders(at), ['gc-c'], 'the others are removed; gc-c kept its data over the restart');
  await fg.workers!.gcNow();
  assert.deepEqual(await holders(at), [], "the next round removes gc-c's blob");
  assert.equal(await doomedOf(at), 0);
});

test("a failed write's cleanup never removes the bytes of a commit that took effect (its answer lost)", async () => {
  const data = randomBytes(150 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'committed', Body: data }));
  const at = await placedOnAllThree('committed');
  // What a writer does when its commit's answer never came back: clean up its own chunk.
  assert.equal(await fg.rt.data.removeChunk(await chunkOf('committed')), false, 'referenced: kept');
  assert.deepEqual(await holders(at), ['gc-a', 'gc-b', 'gc-c']);
  assert.ok((await read('committed')).equals(data));
});

test('an upload that streams for longer than the grace period is not collected under its feet', async () => {
  // ~3× the grace period at 64 KiB every 100 ms, while GC rounds run every 100 ms: the writer
  // renews its chunk every sixth of the grace period.
  const pieces = Array.from({ length: 45 }, () => randomBytes(64 * 1024));
  const data = Buffer.concat(pieces);
  let stop = false;
  const gcLoop = (async () => {
    while (!stop) {
      await fg.workers!.gcNow();
      await sleep(100);
    }
  })();
  try {
    const body = Readable.from(
      (async function* () {
        for (const p of pieces) {
          yield p;
          await sleep(100);
        }
      })(),
    );
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'slow', Body: body, ContentLength: data.length }));
  } finally {
    stop = true;
    await gcLoop;
  }
  await placedOnAllThree('slow');
  assert.ok((await read('slow')).equals(data));
});

test("a write that stalls past the grace period before its commit answers 503 (retried), not NoSuchKey, and stores nothing", async () => {
  // The stall: the bytes are on the backends, and the process stops before its commit (a paused
  // process runs no renewal timer) for longer than the grace period; a GC round meanwhile removes
  // the chunk as garbage. Simulated between the data plane's write and the handler's commit.
  const data = fg.rt.data;
  const write = data.writeChunk.bind(data);
  let stalls = 0;
  data.writeChunk = async (opts) => {
    const written = await write(opts);
    if (stalls > 0) {
      stalls--;
      await sleep(GRACE_MS + 300);
      await fg.workers!.gcNow();
    }
    return written;
  };
  try {
    const body = randomBytes(80 * 1024);
    stalls = 1;
    const once = fg.client(undefined, { maxAttempts: 1 });
    const seen = await s3Error(once.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'stalled', Body: body })));
    assert.deepEqual([seen.status, seen.name], [503, 'ServiceUnavailable']);
    assert.equal(stalls, 0, 'the write did stall');
    await assertNeverStored(s3, fg.rt.pool, BUCKET, 'stalled', 'the stalled write committed a version');

    // With the SDK's default retries the same PUT goes through on its second attempt.
    stalls = 1;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'stalled', Body: body }));
    assert.equal(stalls, 0);
    assert.ok((await read('stalled')).equals(body));
  } finally {
    delete (data as { writeChunk?: unknown }).writeChunk;
  }
});

test('a repair copy that lands after its chunk was removed is taken back', async () => {
  // Last in this file: the background workers stop, so that only this repair runs.
  await fg.workers!.stop();
  const data = randomBytes(120 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'repaired-late', Body: data }));
  const at = await placedOnAllThree('repaired-late');
  const lost = at.find((r) => r.backend === 'gc-b')!;
  await directClient(servers['gc-b']).send(new DeleteObjectCommand({ Bucket: lost.physicalBucket, Key: lost.physicalKey }));
  const chunkId = await chunkOf('repaired-late');
  const backendB = fg.rt.data.backends.all().find((b) => b.row.name === 'gc-b')!.row.id;
  await fg.rt.store.setBlobState(chunkId, backendB, 'missing');
  // The worst timing: the object is deleted and its chunk removed (blobs deleted everywhere)
  // after the repair's copy started and before it records the copy.
  const store = new Proxy(fg.rt.store, {
    get(target, prop, receiver) {
      if (prop !== 'setBlobState') return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<typeof target.setBlobState>) => {
        await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'repaired-late' }));
        const doomed = await target.doomChunk(chunkId, null);
        assert.ok(doomed);
        await fg.rt.data.deleteDoomed(doomed);
        return target.setBlobState(...args);
      };
    },
  });
  assert.deepEqual(await replicateChunk({ store, data: fg.rt.data, log: createLogger('silent'), timeoutMs: 4000 }, chunkId), { repaired: 0 });
  assert.deepEqual(await holders(at), [], 'no blob is left that no row leads to');
});
