// Writes, overwrites, copies, deletes and reads through Fedgate while three real S3 servers
// (s3rver) are killed, restarted, paused and resumed under them, one at a time and sometimes two
// at once, and at the end one of them loses everything it held (PRODUCT.md §9: nothing
// acknowledged is ever lost; nothing half-written is ever visible).
// Each writer owns its keys, so what a key holds is known exactly: the last acknowledged write
// (a failed one must be a 503 that stored nothing). Afterwards, with every backend back: every key
// reads back what it holds and the listing agrees; after a scrub the healer has put three correct
// copies of every byte on the three backends (read there directly); and once the GC has run, the
// backends hold nothing the metadata does not know (the cleanup of failed writes, doomed blobs of
// backends that were down). The schedule comes from a seed (FEDGATE_CHAOS_SEED repeats one;
// FEDGATE_CHAOS_LOG=<file> keeps the gateway's log).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { addS3Backends, eventually, startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { directClient, startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';

const BUCKET = 'chaos';
const GRACE_MS = 3000;
const WORKLOAD_MS = 40_000;
const WRITERS = 4;
const KEYS_PER_WRITER = 6;
const MiB = 1024 * 1024;
const ABSENT = 'absent';

const seed = Number(process.env.FEDGATE_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
let fg: TestFedgate;
let s3: S3Client;
const names = ['chaos-a', 'chaos-b', 'chaos-c'];
const servers: Record<string, S3ServerHandle> = {};
/** One SDK client straight to each server (same port across restarts), to look behind Fedgate's back. */
const direct: Record<string, S3Client> = {};
const dirs: Record<string, string> = {};

before(async () => {
  const logTo = process.env.FEDGATE_CHAOS_LOG ? createWriteStream(process.env.FEDGATE_CHAOS_LOG) : undefined;
  fg = await startTestFedgate({ defaultBackends: 'none', timeoutMs: 2000, env: { FEDGATE_GC_GRACE_MS: String(GRACE_MS) }, logTo });
  for (const name of names) {
    dirs[name] = await mkdtemp(path.join(os.tmpdir(), `fedgate-${name}-`));
    servers[name] = await startS3rver({ dir: dirs[name] });
    direct[name] = directClient(servers[name]);
  }
  await addS3Backends(
    fg,
    names.map((n) => [n, servers[n]]),
  );
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

after(async () => {
  for (const c of Object.values(direct)) c.destroy();
  for (const s of Object.values(servers)) await s.stop();
  for (const d of Object.values(dirs)) await rm(d, { recursive: true, force: true });
  await fg?.stop();
});

/** mulberry32: a small seeded PRNG, so that a failing schedule can be run again. */
function prng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** The S3 error code of a failed SDK call. */
const codeOf = (e: unknown) => (e as Error).name;

/** What each outcome counted; printed with the seed, and checked to have covered every path. */
const tally: Record<string, number> = {};
const count = (what: string) => (tally[what] = (tally[what] ?? 0) + 1);

/**
 * A failed request must fail with 503 ServiceUnavailable (and, for a write, store nothing); any
 * other error is a defect. Not failed: a 503 while only one backend was down. A backend that is
 * back can still fail requests for a few seconds (a resumed process works off what queued up while
 * it was stopped; a restarted s3rver was seen answering HeadBucket with HTTP 500 for ~4 s), and a
 * write whose second target fails then misses its quorum, rightly. That writes succeed with one
 * backend down is federation.test's to check; FEDGATE_CHAOS_LOG shows why each 503 came.
 */
function expect503(e: unknown, what: string): void {
  if (codeOf(e) !== 'ServiceUnavailable') throw new Error(`${what} failed with ${codeOf(e)} (not 503 ServiceUnavailable): ${(e as Error).message}`, { cause: e });
}

async function putMultipart(key: string, body: Buffer): Promise<void> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  try {
    const parts = [];
    for (let i = 0, n = 1; i < body.length; i += 5 * MiB, n++) {
      const r = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: n, Body: body.subarray(i, i + 5 * MiB) }));
      parts.push({ PartNumber: n, ETag: r.ETag });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  } catch (e) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId }));
    throw e;
  }
}

/**
 * The value `key` holds now through Fedgate (its digest, or ABSENT); null when no replica could
 * serve it (503) or, with `cutOk`, when the body was cut off: a read whose backend dies mid-body
 * resumes on another replica, and is cut only when no other can take over (two down at once),
 * never a complete answer with wrong bytes.
 */
async function readKey(key: string, cutOk = false): Promise<string | null> {
  let r;
  try {
    r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  } catch (e) {
    if (codeOf(e) === 'NoSuchKey') return ABSENT;
    expect503(e, `GET ${key}`);
    count('read: 503');
    return null;
  }
  try {
    return digest(await r.Body!.transformToByteArray());
  } catch (e) {
    if (!cutOk) throw e;
    count('read: body cut off');
    return null;
  }
}

/** Each key's digest, or ABSENT: what its last acknowledged write or delete left there. */
async function writer(w: number, deadline: number, holds: Map<string, string>): Promise<void> {
  const rand = prng(seed + 1000 * (w + 1));
  const keys = Array.from({ length: KEYS_PER_WRITER }, (_, i) => `w${w}/k${i}`);
  for (const k of keys) holds.set(k, ABSENT);
  while (Date.now() < deadline) {
    const key = keys[Math.floor(rand() * keys.length)];
    const r = rand();
    if (r < 0.15) {
      // A read during the chaos: what the key holds, 503, or a body cut off.
      const got = await readKey(key, true);
      if (got !== null) {
        assert.equal(got, holds.get(key), `${key} read back ${got === ABSENT ? 'as absent' : 'other bytes'} during the chaos (seed ${seed})`);
        count('read: ok');
      }
      continue;
    }
    if (r < 0.27) {
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
      holds.set(key, ABSENT);
      count('delete');
      continue;
    }
    if (r < 0.37) {
      // CopyObject from another of this writer's keys that holds something.
      const src = keys[Math.floor(rand() * keys.length)];
      if (src === key || holds.get(src) === ABSENT) continue;
      try {
        await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: key, CopySource: `${BUCKET}/${src}` }));
        holds.set(key, holds.get(src)!);
        count('copy: ok');
      } catch (e) {
        expect503(e, `CopyObject ${src} → ${key}`);
        count('copy: 503');
      }
      continue;
    }
    const kind = r < 0.7 ? 'small' : r < 0.87 ? 'medium' : 'multipart';
    const size = kind === 'small' ? 1 + Math.floor(rand() * 64 * 1024) : kind === 'medium' ? MiB + Math.floor(rand() * 2 * MiB) : 5 * MiB + 1 + Math.floor(rand() * MiB);
    const body = randomBytes(size);
    try {
      if (kind === 'multipart') await putMultipart(key, body);
      else await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      holds.set(key, digest(body));
      count(`put ${kind}: ok`);
    } catch (e) {
      expect503(e, `${kind} PUT of ${key}`);
      count(`put ${kind}: 503`);
    }
  }
}

/** The last stretch of the workload, in which the only event is one backend losing everything. */
const WIPE_TAIL_MS = 8000;

/**
 * Kill / restart, pause / resume, and two backends down at once, one action at a time; each round
 * of three does all three kinds, in an order, on backends and for times the seed picks. Then, with
 * WIPE_TAIL_MS of the workload left, one backend loses all it held (its physical buckets too) and
 * comes back empty; nothing else fails after that, so every read still has a replica to go to.
 */
async function chaos(deadline: number): Promise<void> {
  const rand = prng(seed);
  const between = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo));
  const kinds: ('kill' | 'pause' | 'two-down')[] = [];
  while (Date.now() < deadline - WIPE_TAIL_MS) {
    if (kinds.length === 0) kinds.push(...(['kill', 'pause', 'two-down'] as const).map((k) => ({ k, r: rand() })).sort((a, b) => a.r - b.r).map((x) => x.k));
    const kind = kinds.shift()!;
    await sleep(between(500, 2500));
    const first = names[Math.floor(rand() * names.length)];
    if (kind === 'kill') {
      await servers[first].kill();
      count('chaos: kill + restart');
      await sleep(between(1500, 4000));
      await servers[first].restart();
    } else if (kind === 'pause') {
      servers[first].pause();
      count('chaos: pause + resume');
      // Longer than the backend timeout (2 s) about two times in three.
      await sleep(between(1000, 4000));
      servers[first].resume();
    } else {
      const second = names.filter((n) => n !== first)[Math.floor(rand() * 2)];
      await servers[first].kill();
      servers[second].pause();
      count('chaos: two down');
      await sleep(between(1500, 3000));
      servers[second].resume();
      await servers[first].restart();
    }
  }
  const wiped = names[Math.floor(rand() * names.length)];
  await servers[wiped].kill();
  await rm(dirs[wiped], { recursive: true, force: true });
  await mkdir(dirs[wiped]);
  await servers[wiped].restart();
  count('chaos: wipe');
}

/** Every object a backend holds, asked directly, as "physical bucket/key". */
async function heldBy(c: S3Client): Promise<string[]> {
  const out: string[] = [];
  for (const b of (await c.send(new ListBucketsCommand({}))).Buckets ?? []) {
    let token: string | undefined;
    do {
      const page = await c.send(new ListObjectsV2Command({ Bucket: b.Name!, ContinuationToken: token }));
      for (const o of page.Contents ?? []) out.push(`${b.Name}/${o.Key}`);
      token = page.NextContinuationToken;
    } while (token);
  }
  return out;
}

test('under kills, pauses and double failures of its backends, nothing acknowledged is lost and nothing failed is left behind', async () => {
  const holds = new Map<string, string>();
  const deadline = Date.now() + WORKLOAD_MS;
  const work = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w, deadline, holds)));
  const turmoil = chaos(deadline);
  // Whatever fails first, every backend ends up running again before anything is judged.
  const results = await Promise.allSettled([work, turmoil]);
  for (const s of Object.values(servers)) s.resume();
  for (const [name, s] of Object.entries(servers)) {
    if ((await direct[name].send(new ListBucketsCommand({})).then(() => true, () => false)) === false) {
      await s.restart().catch((e: Error) => assert.fail(`${name} did not come back: ${e.message}`));
    }
  }
  const summary = `seed ${seed}: ${JSON.stringify(tally)}`;
  console.log(summary);
  for (const r of results) if (r.status === 'rejected') throw r.reason;

  // The schedule covered every path it is meant to: writes that made it, writes refused, each kind of failure.
  for (const what of ['put small: ok', 'put medium: ok', 'put multipart: ok', 'delete', 'read: ok', 'chaos: kill + restart', 'chaos: pause + resume', 'chaos: two down', 'chaos: wipe']) {
    assert.ok((tally[what] ?? 0) > 0, `the run never did "${what}" (${summary})`);
  }

  // A scrub round over every replica finds what the wiped backend lost and no read or write has
  // noticed yet (often nothing: most keys were overwritten or read since); the healer brings
  // every chunk an object or upload needs back to three copies.
  const scrub = await fg.workers!.scrubNow({ maxBlobs: 1_000_000, maxBytes: 4 * 1024 * MiB });
  console.log(`scrub after the chaos: ${JSON.stringify(scrub)}`);
  const pool = fg.rt.pool;
  await eventually(
    'every referenced chunk has 3 ok copies',
    async () => (await pool.query(`SELECT count(*)::int AS n FROM chunks WHERE unreferenced_since IS NULL AND ok_blobs < 3`)).rows[0].n === 0,
    60_000,
  );

  // Every key holds its last acknowledged value, and the listing agrees with the reads.
  const present: string[] = [];
  for (const [key, want] of holds) {
    const got = await readKey(key);
    assert.notEqual(got, null, `${key}: 503 with every backend up`);
    assert.equal(got, want, `${key} reads ${got === ABSENT ? 'as absent' : 'other bytes'} (${summary})`);
    if (got !== ABSENT) present.push(key);
  }
  const listed = ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((o) => o.Key!);
  assert.deepEqual(listed.sort(), present.sort(), 'the listing shows exactly the keys that read back');

  // Three correct copies of every byte, read from the backends themselves.
  const backendName = new Map<string, string>(
    (await pool.query(`SELECT id::text, name FROM backends`)).rows.map((r: { id: string; name: string }) => [r.id, r.name]),
  );
  const replicas = (
    await pool.query(
      `SELECT c.id AS chunk, c.md5, c.size::bigint AS size, b.backend_id::text AS backend, b.physical_bucket, b.physical_key, b.state
         FROM chunks c JOIN blobs b ON b.chunk_id = c.id
        WHERE EXISTS (SELECT 1 FROM version_parts vp WHERE vp.chunk_id = c.id)`,
    )
  ).rows as { chunk: string; md5: string; size: string; backend: string; physical_bucket: string; physical_key: string; state: string }[];
  const perChunk = new Map<string, Set<string>>();
  for (const r of replicas) {
    const name = backendName.get(r.backend)!;
    assert.equal(r.state, 'ok', `chunk ${r.chunk} on ${name}`);
    const bytes = await direct[name]
      .send(new GetObjectCommand({ Bucket: r.physical_bucket, Key: r.physical_key }))
      .then((got) => got.Body!.transformToByteArray())
      .catch((e: unknown) => assert.fail(`chunk ${r.chunk} is 'ok' on ${name}, which answers ${codeOf(e)} (${summary})`));
    assert.equal(bytes.length, Number(r.size), `size of chunk ${r.chunk} on ${name}`);
    assert.equal(createHash('md5').update(bytes).digest('hex'), r.md5, `bytes of chunk ${r.chunk} on ${name}`);
    perChunk.set(r.chunk, (perChunk.get(r.chunk) ?? new Set()).add(name));
  }
  for (const [chunk, on] of perChunk) assert.equal(on.size, 3, `chunk ${chunk} is on ${[...on].join(', ')}`);

  // Once the grace period is over and the GC has run with every backend up, the backends hold
  // only blobs of chunks the metadata knows: failed writes and deleted objects left nothing.
  await sleep(GRACE_MS + 500);
  await eventually(
    'the GC has worked through every garbage chunk and doomed blob',
    async () => {
      await fg.workers!.gcNow();
      const left = await pool.query(`SELECT (SELECT count(*) FROM doomed_blobs)::int + (SELECT count(*) FROM chunks WHERE unreferenced_since IS NOT NULL)::int AS n`);
      return left.rows[0].n === 0;
    },
    30_000,
  );
  const known = new Set((await pool.query(`SELECT physical_bucket || '/' || physical_key AS loc FROM blobs`)).rows.map((r: { loc: string }) => r.loc));
  for (const name of names) {
    const orphans = (await heldBy(direct[name])).filter((loc) => !known.has(loc));
    assert.deepEqual(orphans, [], `${name} holds blobs no chunk owns (${summary})`);
  }
});
