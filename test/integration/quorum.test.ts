// The quorum writer against three real S3 servers (two s3rver and one moto_server, or
// three s3rver where moto is not installed): crashes, a paused process, a failing
// source. No mocks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { quorumWrite, QuorumError, type QuorumTarget } from '../../shared/quorum/index.ts';
import { createS3Backend, type StorageBackend } from '../../shared/storage/index.ts';
import { motoUnavailable, startMoto, startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';

const BUCKET = 's3gw-quorum-test';
const TIMEOUT = 1500;

function chunked(data: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
    })(),
  );
}

describe('quorumWrite over real S3 servers', () => {
  const servers: S3ServerHandle[] = [];
  const drivers: StorageBackend[] = [];
  const names = ['s3rver-1', 's3rver-2', motoUnavailable() ? 's3rver-3' : 'moto'];

  before(async () => {
    servers.push(await startS3rver(), await startS3rver(), motoUnavailable() ? await startS3rver() : await startMoto());
    for (const [i, srv] of servers.entries()) {
      const d = createS3Backend({ name: names[i], endpoint: srv.endpoint, region: srv.region, accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey, timeoutMs: TIMEOUT });
      await d.ensureBucket(BUCKET);
      drivers.push(d);
    }
  });
  after(async () => {
    for (const s of servers) s.resume();
    await Promise.all(drivers.map((d) => d.close?.()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  const targets = (key: string): QuorumTarget[] => drivers.map((backend, i) => ({ backendId: names[i], backend, loc: { bucket: BUCKET, key } }));
  const heads = (key: string) => Promise.all(drivers.map((d) => d.head({ bucket: BUCKET, key })));

  /** Bring a killed server back (same port and data) and make sure its bucket exists. */
  async function revive(i: number): Promise<void> {
    await servers[i].restart();
    await drivers[i].ensureBucket(BUCKET);
  }

  test('all three up: every backend acks and holds the exact bytes', async () => {
    const key = randomUUID();
    const data = randomBytes(2 * 1024 * 1024 + 5);
    const r = await quorumWrite({ source: chunked(data), size: data.length, targets: targets(key), writeQuorum: 2, checksums: ['CRC32C'], timeoutMs: TIMEOUT });
    const late = await r.stragglers;
    assert.deepEqual([...r.acked, ...late.filter((s) => s.ok).map((s) => s.backendId)].sort(), [...names].sort());
    assert.equal(r.md5, createHash('md5').update(data).digest('hex'));
    for (const d of drivers) {
      const got = await buffer(await d.get({ bucket: BUCKET, key }));
      assert.ok(got.equals(data), `${d.name} returned different bytes`);
    }
  });

  test('one backend down: resolves with the other two acked and the dead one failed', async () => {
    await servers[1].kill();
    try {
      const key = randomUUID();
      const data = randomBytes(512 * 1024);
      const r = await quorumWrite({ source: chunked(data), size: data.length, targets: targets(key), writeQuorum: 2, checksums: [], timeoutMs: TIMEOUT });
      assert.deepEqual([...r.acked].sort(), [names[0], names[2]].sort());
      // The dead target's failure is reported at resolution or, when the two live ones were
      // quicker than its refusal, as a straggler right after; either way it is reported.
      const failures = [...r.failed, ...(await r.stragglers).filter((s) => !s.ok).map((s) => ({ backendId: s.backendId, error: s.error ?? '' }))];
      assert.equal(failures.length, 1);
      assert.equal(failures[0].backendId, names[1]);
      // Refused, or reset when a pooled keep-alive socket to the dead process is reused.
      assert.match(failures[0].error, /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/i);
    } finally {
      await revive(1);
    }
  });

  test('two backends down: QuorumError, and the live backend keeps no blob', async () => {
    await servers[0].kill();
    await servers[1].kill();
    try {
      const key = randomUUID();
      const data = randomBytes(512 * 1024);
      await assert.rejects(
        quorumWrite({ source: chunked(data), size: data.length, targets: targets(key), writeQuorum: 2, checksums: [], timeoutMs: TIMEOUT }),
        (err: unknown) => {
          assert.ok(err instanceof QuorumError);
          assert.deepEqual(err.failed.map((f) => f.backendId).sort(), [names[0], names[1]].sort());
          return true;
        },
      );
      assert.equal(await drivers[2].head({ bucket: BUCKET, key }), null);
    } finally {
      await revive(0);
      await revive(1);
    }
  });

  test('one backend paused (SIGSTOP): resolves promptly with two acked; the paused one is cut loose', async () => {
    const key = randomUUID();
    // Larger than the kernel's socket buffers plus maxLagBytes, so the paused server
    // really holds the source back and the pacer has to stop waiting for it.
    const data = randomBytes(24 * 1024 * 1024);
    servers[2].pause();
    try {
      const t0 = performance.now();
      const r = await quorumWrite({ source: chunked(data), size: data.length, targets: targets(key), writeQuorum: 2, checksums: [], timeoutMs: TIMEOUT });
      const answeredMs = performance.now() - t0;
      assert.ok(answeredMs < TIMEOUT + 1000, `answered after ${answeredMs.toFixed(0)} ms`);
      assert.deepEqual([...r.acked].sort(), [names[0], names[1]].sort());
      // Cut loose before the answer (too far behind) or after it (no progress): either way it is not counted.
      const late = await r.stragglers;
      const lost = [...r.failed.map((f) => f.backendId), ...late.filter((x) => !x.ok).map((x) => x.backendId)];
      assert.deepEqual(lost, [names[2]]);
      assert.equal(late.filter((x) => x.ok).length, 0);
      assert.ok(performance.now() - t0 < 4 * TIMEOUT + 1000, 'the straggler was not cut loose in bounded time');
    } finally {
      servers[2].resume();
    }
  });

  test('a failing source rejects with its own error and leaves nothing on any backend', async () => {
    const key = randomUUID();
    const boom = new Error('client disconnected');
    const source = Readable.from(
      (async function* () {
        yield randomBytes(256 * 1024);
        await new Promise((r) => setTimeout(r, 100));
        throw boom;
      })(),
    );
    await assert.rejects(quorumWrite({ source, size: 4 * 1024 * 1024, targets: targets(key), writeQuorum: 2, checksums: [], timeoutMs: TIMEOUT }), (e) => e === boom);
    assert.deepEqual(await heads(key), [null, null, null]);
  });

  test('a short source rejects with IncompleteBody and leaves nothing on any backend', async () => {
    const key = randomUUID();
    await assert.rejects(
      quorumWrite({ source: chunked(randomBytes(300_000)), size: 400_000, targets: targets(key), writeQuorum: 2, checksums: [], timeoutMs: TIMEOUT }),
      { code: 'IncompleteBody' },
    );
    assert.deepEqual(await heads(key), [null, null, null]);
  });
});
