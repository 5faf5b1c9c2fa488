// PRODUCT.md §9: "PostgreSQL unreachable: writes fail cleanly with 503; no blob becomes visible
// later by accident." The gateway reaches its (real) PostgreSQL through a TCP forwarder that the
// test takes away: refused (a server that is down: connections reset at once) and blackholed (a
// server paused with SIGSTOP, or cut off by the network: nothing answers and nothing fails, so
// only the gateway's own timeout, FEDGATE_DB_TIMEOUT_MS, can end the wait).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { createLogger } from '../../shared/observability/logger.ts';
import { createDetector } from '../../ai-proxy/detection/index.ts';
import { openAiState, startAiProxy } from '../../ai-proxy/main.ts';
import { s3Error } from '../helpers/s3-error.ts';
import { assertNeverStored, eventually, startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { createPool, isDatabaseUnreachable, withTransaction } from '../../metadata/db.ts';
import { enqueueReplication } from '../../shared/queue/index.ts';

const DB_TIMEOUT_MS = 2000;
/** Every process warning while this file runs (util.deprecate warns once per process). */
const warnings: Error[] = [];
process.on('warning', (w) => warnings.push(w));
let fg: TestFedgate;
let s3: S3Client;
let proxy: TcpProxy;
/** Straight to the database, past the forwarder: what the gateway stored. */
let direct: pg.Pool;
let directUrl: string;
let other: { accessKeyId: string; secretAccessKey: string };

before(async () => {
  fg = await startTestFedgate({
    workers: false,
    env: { FEDGATE_DB_TIMEOUT_MS: String(DB_TIMEOUT_MS) },
    databaseUrl: async (url) => {
      directUrl = url;
      direct = new pg.Pool({ connectionString: url, max: 2 });
      direct.on('error', () => {});
      const u = new URL(url);
      proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
      u.hostname = '127.0.0.1';
      u.port = String(proxy.port);
      return u.toString();
    },
  });
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'pgdown' }));
  await s3.send(new PutObjectCommand({ Bucket: 'pgdown', Key: 'before', Body: 'acknowledged' }));
  // A tenant whose key the gateway has never looked up (so it is not in the key cache).
  other = (await fg.admin('POST', '/admin/tenants', { name: 'other' })).json;
});

after(async () => {
  proxy?.restore();
  await direct?.end();
  await fg?.stop();
  await proxy?.close();
});

/** A client that sends each request once: the SDK would retry a 503, and a stream body cannot be sent twice. */
const oneAttempt = () => fg.client(undefined, { maxAttempts: 1 });

async function readBack(key: string): Promise<string> {
  const r = await s3.send(new GetObjectCommand({ Bucket: 'pgdown', Key: key }));
  return r.Body!.transformToString();
}

test('PostgreSQL down: PUT, GET, HEAD and an uncached key answer 503 ServiceUnavailable, /ready says why; what was acknowledged is intact afterwards', { timeout: 60_000 }, async () => {
  proxy.refuse();
  try {
    const put = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'pgdown', Key: 'during', Body: randomBytes(64 * 1024) })));
    assert.equal(put.status, 503);
    assert.equal(put.name, 'ServiceUnavailable');
    const get = await s3Error(s3.send(new GetObjectCommand({ Bucket: 'pgdown', Key: 'before' })));
    assert.deepEqual([get.status, get.name], [503, 'ServiceUnavailable']);
    const head = await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'pgdown', Key: 'before' })));
    assert.equal(head.status, 503);
    // Not InvalidAccessKeyId: the key could not be looked up, which says nothing about it.
    const stranger = fg.client(other);
    const e = await s3Error(stranger.send(new CreateBucketCommand({ Bucket: 'theirs' })));
    assert.deepEqual([e.status, e.name], [503, 'ServiceUnavailable']);
    const ready = await fetch(fg.adminUrl + '/ready');
    assert.equal(ready.status, 503);
    assert.match(((await ready.json()) as { checks: { postgres: string } }).checks.postgres, /^unreachable: /);
    const admin = await fg.admin('GET', '/admin/tenants');
    assert.deepEqual([admin.status, admin.json.error], [503, 'ServiceUnavailable']);
  } finally {
    proxy.restore();
  }
  assert.equal(await readBack('before'), 'acknowledged');
  assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'pgdown', Key: 'during' })))).status, 404);
  assert.equal((await fetch(fg.adminUrl + '/ready')).status, 200);
});

test('PostgreSQL that stops answering: a PUT fails with 503 after the database timeout instead of hanging, and the next one succeeds once it answers', { timeout: 60_000 }, async () => {
  const once = oneAttempt();
  proxy.blackhole();
  try {
    const t0 = performance.now();
    const e = await s3Error(once.send(new PutObjectCommand({ Bucket: 'pgdown', Key: 'hung', Body: randomBytes(64 * 1024) })));
    assert.deepEqual([e.status, e.name], [503, 'ServiceUnavailable']);
    // It waited for the timeout, not for something else that failed fast.
    assert.ok(performance.now() - t0 >= DB_TIMEOUT_MS * 0.9, `answered after ${Math.round(performance.now() - t0)} ms`);
  } finally {
    proxy.restore();
  }
  await eventually('a PUT goes through again', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'pgdown', Key: 'after-hang', Body: 'back' }));
    return true;
  }, 20_000, 500);
  assert.equal(await readBack('after-hang'), 'back');
  assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'pgdown', Key: 'hung' })))).status, 404);
});

test('the job queue gives up on a database that stops answering after the database timeout, and works again once it answers', { timeout: 60_000 }, async () => {
  // The heal, GC and scrub loops and every repair a write leaves behind go through this queue;
  // a statement stuck on a dead connection stopped them until the kernel gave the connection up.
  const boss = fg.rt.boss;
  const jobs = async (chunkId: string) =>
    Number((await direct.query("SELECT count(*) AS n FROM fedgate_jobs.job WHERE data->>'chunkId' = $1", [chunkId])).rows[0].n);
  // A connection in the queue's pool first, so the statement below goes out on it (not a connect).
  const warm = `warm-${randomBytes(6).toString('hex')}`;
  await enqueueReplication(boss, warm);
  const stuck = `stuck-${randomBytes(6).toString('hex')}`;
  proxy.blackhole();
  let outcome: string;
  const t0 = performance.now();
  try {
    outcome = await Promise.race([
      enqueueReplication(boss, stuck).then(
        () => 'sent',
        (e: Error) => `failed: ${e.message}`,
      ),
      new Promise<string>((r) => setTimeout(() => r('still waiting'), DB_TIMEOUT_MS * 3).unref()),
    ]);
  } finally {
    proxy.restore();
  }
  assert.match(outcome, /^failed: /, `after ${Math.round(performance.now() - t0)} ms`);
  assert.ok(performance.now() - t0 >= DB_TIMEOUT_MS * 0.9, `gave up after ${Math.round(performance.now() - t0)} ms`);
  const again = `again-${randomBytes(6).toString('hex')}`;
  await eventually('the queue takes jobs again', async () => (await enqueueReplication(boss, again)) !== null || (await jobs(again)) > 0, 20_000, 500);
  assert.equal(await jobs(again), 1);
  assert.equal(await jobs(warm), 1);
});

test('PostgreSQL lost in the middle of a PUT: 503, the object never appears, and its blobs are removed or left to the GC', { timeout: 60_000 }, async () => {
  const once = oneAttempt();
  const unsealed = async () => (await direct.query<{ id: string }>('SELECT id FROM chunks WHERE sealed_at IS NULL')).rows.map((r) => r.id);
  const earlier = new Set(await unsealed());
  const half = 512 * 1024;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const body = Readable.from(
    (async function* () {
      yield randomBytes(half);
      await released;
      yield randomBytes(half);
    })(),
  );
  try {
    const put = s3Error(once.send(new PutObjectCommand({ Bucket: 'pgdown', Key: 'cut', Body: body, ContentLength: 2 * half })));
    // The chunk is begun (its row is the GC's record of where blobs may be) before bytes move.
    const begun = await eventually('the PUT began its chunk', async () => (await unsealed()).find((id) => !earlier.has(id)), 20_000, 50);
    proxy.blackhole();
    release();
    const e = await put;
    assert.deepEqual([e.status, e.name], [503, 'ServiceUnavailable']);
    proxy.restore();
    assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'pgdown', Key: 'cut' })))).status, 404);
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'pgdown', Prefix: 'cut' }));
    assert.equal(list.KeyCount, 0);
    const refs = await direct.query('SELECT 1 FROM version_parts WHERE chunk_id = $1 UNION ALL SELECT 1 FROM upload_parts WHERE chunk_id = $1', [begun]);
    assert.equal(refs.rowCount, 0);
    // The write's own cleanup removes the blobs and the row once the database answers again (its
    // statements may have waited in the blackhole); if it could not, the row stays, unsealed and
    // unreferenced since it was begun, and the GC removes the blobs after the grace period.
    const row = (await direct.query('SELECT sealed_at, unreferenced_since FROM chunks WHERE id = $1', [begun])).rows[0];
    if (row) {
      assert.equal(row.sealed_at, null);
      assert.notEqual(row.unreferenced_since, null);
    } else {
      const files = await fs.readdir(path.join(fg.dataDir, 'backends'), { recursive: true });
      assert.deepEqual(files.filter((f) => f.includes(begun)), [], 'no blob of the removed chunk is left on the local-disk backends');
    }
  } finally {
    release();
    proxy.restore();
  }
});

test('a PutObject commit that reaches PostgreSQL only after the gateway gave up on it commits nothing: the PUT answered 503 never appears', { timeout: 60_000 }, async () => {
  const once = oneAttempt();
  try {
    // The commit statement is held in the network; the gateway times out and answers 503, then
    // the statement (and the gateway's close behind it) reaches the server and runs.
    proxy.blackholeWhen((chunk) => chunk.includes('fedgate_commit_version'));
    const e = await s3Error(once.send(new PutObjectCommand({ Bucket: 'pgdown', Key: 'late-put', Body: randomBytes(64 * 1024) })));
    assert.deepEqual([e.status, e.name], [503, 'ServiceUnavailable']);
    proxy.restore();
    await new Promise((r) => setTimeout(r, 500));
    await assertNeverStored(s3, direct, 'pgdown', 'late-put');
  } finally {
    proxy.restore();
  }
});

test('a PutObject whose chunk begin ran late, then whose commit is held past the timeout: the late commit is refused too', { timeout: 60_000 }, async () => {
  const once = oneAttempt();
  try {
    // The begin reaches the server 0.7 of the timeout late (waiting for a pool connection, or in
    // the network) and is answered in time. Timed from before the begin was sent, the commit's
    // deadline on the server would then reach past the moment the gateway gives up on it.
    proxy.blackholeWhen((chunk) => chunk.includes('fedgate_begin_chunk'));
    const put = s3Error(once.send(new PutObjectCommand({ Bucket: 'pgdown', Key: 'late-begin', Body: randomBytes(64 * 1024) })));
    await new Promise((r) => setTimeout(r, DB_TIMEOUT_MS * 0.7));
    proxy.restore();
    proxy.blackholeWhen((chunk) => chunk.includes('fedgate_commit_version'));
    const e = await put;
    assert.deepEqual([e.status, e.name], [503, 'ServiceUnavailable']);
    proxy.restore();
    await new Promise((r) => setTimeout(r, DB_TIMEOUT_MS));
    await assertNeverStored(s3, direct, 'pgdown', 'late-begin');
  } finally {
    proxy.restore();
  }
});

test('a CompleteMultipartUpload whose COMMIT reaches PostgreSQL only after the gateway gave up on it commits nothing; the upload can be completed again', { timeout: 60_000 }, async () => {
  const once = oneAttempt();
  try {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'pgdown', Key: 'late-mpu' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: 'pgdown', Key: 'late-mpu', UploadId, PartNumber: 1, Body: 'the only part' }));
    const complete = new CompleteMultipartUploadCommand({ Bucket: 'pgdown', Key: 'late-mpu', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } });
    // Its statements run and are answered; the COMMIT that follows the version commit is held
    // in the network while the gateway waits for it and times out.
    proxy.blackholeWhen((chunk, previous) => chunk.includes('COMMIT\0') && previous !== null && previous.includes('fedgate_commit_version'));
    const e = await s3Error(once.send(complete));
    assert.deepEqual([e.status, e.name], [503, 'ServiceUnavailable']);
    proxy.restore();
    await new Promise((r) => setTimeout(r, 500));
    await assertNeverStored(s3, direct, 'pgdown', 'late-mpu');
    // Rolled back whole: the upload is still there, and completing it again works.
    await s3.send(complete);
    assert.equal(await readBack('late-mpu'), 'the only part');
  } finally {
    proxy.restore();
  }
});

test('the AI proxy answers 503 with its error body while PostgreSQL is down, not 502 with a socket error', { timeout: 60_000 }, async () => {
  const { store, kv } = openAiState({ pool: fg.rt.pool, vault: fg.rt.vault });
  const ai = await startAiProxy({ store, kv, audit: fg.rt.audit, log: createLogger('silent'), createDetector }, { port: 0, host: '127.0.0.1' });
  try {
    proxy.refuse();
    // A token the proxy has not seen: looking it up needs the database.
    const res = await fetch(`http://127.0.0.1:${ai.port}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer fgt_${'x'.repeat(43)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { type?: string; code?: string; message: string } };
    assert.match(JSON.stringify(body.error), /service_unavailable/);
    assert.doesNotMatch(body.error.message, /127\.0\.0\.1|ECONN/);
  } finally {
    proxy.restore();
    await ai.close(100);
    await store.close();
  }
});

test('a connection reset between two statements of a transaction fails that transaction, and the process lives on', { timeout: 60_000 }, async () => {
  // pg's Client emits 'error' when its connection breaks while it is checked out of the pool,
  // where pg-pool keeps no listener: unhandled, that 'error' ends the process (node:test reports
  // it as a failure of this file).
  const pool = createPool({ connectionString: fg.rt.config.databaseUrl!, max: 1 });
  try {
    await assert.rejects(
      withTransaction(pool, async (tx) => {
        await tx.query('SELECT 1');
        proxy.refuse();
        await new Promise((r) => setTimeout(r, 200));
        await tx.query('SELECT 2');
      }),
      (e: unknown) => isDatabaseUnreachable(e),
    );
    proxy.restore();
    const r = await withTransaction(pool, (tx) => tx.query<{ n: number }>('SELECT 3 AS n'));
    assert.equal(r.rows[0].n, 3);
  } finally {
    proxy.restore();
    await pool.end();
  }
});

test('only errors from the database connection count as "database unreachable": a socket error from elsewhere does not', async () => {
  const pool = createPool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectTimeoutMs: 2000 });
  try {
    const refused = await pool.query('SELECT 1').then(
      () => assert.fail('connected to port 1'),
      (e: unknown) => e,
    );
    assert.equal((refused as { code?: string }).code, 'ECONNREFUSED');
    assert.equal(isDatabaseUnreachable(refused), true);
  } finally {
    await pool.end();
  }
  // What a client of the gateway that went away mid-request looks like (node:http's 'aborted').
  assert.equal(isDatabaseUnreachable(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })), false);
  assert.equal(isDatabaseUnreachable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', syscall: 'connect' })), false);
});

test('every new pool connection has its idle-in-transaction timeout before its first statement, and none is queued behind the SET', async () => {
  const pool = createPool({ connectionString: directUrl, max: 4, idleInTransactionTimeoutMs: 1234 });
  try {
    // Four statements at once on an empty pool: four new connections, each handed out only after its SET.
    const rows = await Promise.all([1, 2, 3, 4].map(() => pool.query<{ t: string; pid: number }>("SELECT current_setting('idle_in_transaction_session_timeout') AS t, pg_backend_pid() AS pid")));
    assert.equal(new Set(rows.map((r) => r.rows[0]!.pid)).size, 4);
    for (const r of rows) assert.equal(r.rows[0]!.t, '1234ms');
  } finally {
    await pool.end();
  }
  // pg 8 warns (and pg 9 will fail) when a statement is queued on a connection that is still busy,
  // which is what a SET sent from the pool's 'connect' event did with the first query behind it.
  const queued = warnings.filter((w) => /already executing a query/.test(w.message));
  assert.deepEqual(queued.map((w) => w.message), []);
});
