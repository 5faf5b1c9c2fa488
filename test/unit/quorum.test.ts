// The quorum writer's decisions (pacing, cut-loose, quorum arithmetic, cleanup) against
// in-memory StorageBackends whose speed and failures the test controls. The same
// writer is exercised against real S3 servers in test/integration/quorum.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { checksumBase64 } from '../../shared/checksums/index.ts';
import { MAX_HASH_BACKLOG_BYTES } from '../../shared/checksums/off-thread.ts';
import { backlogWatchingBody } from '../helpers/hash-backlog.ts';
import { quorumWrite, QuorumError, IncompleteBodyError, type QuorumMeter, type QuorumTarget } from '../../shared/quorum/index.ts';
import type { BackendHealth, BlobLocator, StorageBackend } from '../../shared/storage/index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Mode = 'ok' | 'reject' | 'hang';

/** A blob store in memory: `delayMs` per chunk read makes it slow, `hang` never reads. */
class MemoryBackend implements StorageBackend {
  readonly name: string;
  readonly blobs = new Map<string, Buffer>();
  readonly deleted: string[] = [];
  mode: Mode;
  delayMs: number;
  constructor(name: string, mode: Mode = 'ok', delayMs = 0) {
    this.name = name;
    this.mode = mode;
    this.delayMs = delayMs;
  }
  async ensureBucket(): Promise<void> {}
  async deleteBucket(): Promise<void> {}
  async put(loc: BlobLocator, body: Readable, size: number, signal?: AbortSignal): Promise<void> {
    if (this.mode === 'reject') {
      body.destroy();
      throw new Error(`${this.name} refused the connection`);
    }
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => {
        body.destroy();
        reject(signal?.reason ?? new Error('aborted'));
      };
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => {});
    if (this.mode === 'hang') return aborted;
    const read = (async () => {
      const parts: Buffer[] = [];
      for await (const c of body) {
        parts.push(c as Buffer);
        if (this.delayMs) await sleep(this.delayMs);
      }
      const all = Buffer.concat(parts);
      if (all.length !== size) throw new Error(`short body ${all.length}/${size}`);
      if (signal?.aborted) throw signal.reason;
      this.blobs.set(`${loc.bucket}/${loc.key}`, all);
    })();
    return Promise.race([read, aborted]);
  }
  async get(): Promise<Readable> {
    throw new Error('not used');
  }
  async head(loc: BlobLocator): Promise<{ size: number } | null> {
    const b = this.blobs.get(`${loc.bucket}/${loc.key}`);
    return b ? { size: b.length } : null;
  }
  async delete(loc: BlobLocator): Promise<void> {
    this.deleted.push(`${loc.bucket}/${loc.key}`);
    this.blobs.delete(`${loc.bucket}/${loc.key}`);
  }
  async *list(): AsyncIterable<{ key: string; size: number }> {}
  async health(): Promise<BackendHealth> {
    return { ok: true, rttMs: 0 };
  }
}

const LOC = { bucket: 's3gw-unit', key: 'chunk-1' };

function targetsOf(...backends: MemoryBackend[]): QuorumTarget[] {
  return backends.map((backend) => ({ backendId: backend.name, backend, loc: LOC }));
}

function chunked(data: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
    })(),
  );
}

function stored(b: MemoryBackend): Buffer | undefined {
  return b.blobs.get(`${LOC.bucket}/${LOC.key}`);
}

describe('quorumWrite', () => {
  test('all targets healthy: resolves with every target acked and MD5 / checksums of the bytes', async () => {
    const data = randomBytes(1024 * 1024 + 3);
    const bs = [new MemoryBackend('a'), new MemoryBackend('b'), new MemoryBackend('c')];
    const r = await quorumWrite({ source: chunked(data), size: data.length, targets: targetsOf(...bs), writeQuorum: 2, checksums: ['CRC32', 'SHA256'], timeoutMs: 2000 });
    const late = await r.stragglers;
    assert.deepEqual([...r.acked, ...late.filter((s) => s.ok).map((s) => s.backendId)].sort(), ['a', 'b', 'c']);
    assert.deepEqual(r.failed, []);
    assert.equal(r.size, data.length);
    assert.equal(r.md5, createHash('md5').update(data).digest('hex'));
    // Only the algorithms asked for are reported; the CRC-32C for Fedgate's own read checks comes apart.
    assert.deepEqual(r.checksums, { CRC32: await checksumBase64('CRC32', data), SHA256: await checksumBase64('SHA256', data) });
    assert.equal(r.crc32c, Buffer.from(await checksumBase64('CRC32C', data), 'base64').toString('hex'));
    for (const b of bs) assert.ok(stored(b)?.equals(data), `${b.name} holds different bytes`);
  });

  test('a 0-byte body is stored everywhere with the MD5 of nothing', async () => {
    const bs = [new MemoryBackend('a'), new MemoryBackend('b'), new MemoryBackend('c')];
    const r = await quorumWrite({ source: Readable.from([]), size: 0, targets: targetsOf(...bs), writeQuorum: 2, checksums: [], timeoutMs: 2000 });
    await r.stragglers;
    assert.equal(r.md5, 'd41d8cd98f00b204e9800998ecf8427e');
    for (const b of bs) assert.equal(stored(b)?.length, 0);
  });

  test('one target refusing still reaches a quorum of 2 and reports the failure', async () => {
    const bs = [new MemoryBackend('a'), new MemoryBackend('b', 'reject'), new MemoryBackend('c')];
    const data = randomBytes(300_000);
    const r = await quorumWrite({ source: chunked(data), size: data.length, targets: targetsOf(...bs), writeQuorum: 2, checksums: [], timeoutMs: 2000 });
    assert.deepEqual([...r.acked].sort(), ['a', 'c']);
    assert.deepEqual(r.failed, [{ backendId: 'b', error: 'b refused the connection' }]);
    assert.deepEqual(await r.stragglers, []);
  });

  test('two targets refusing: QuorumError listing both, and the blob the third stored is deleted', async () => {
    const bs = [new MemoryBackend('a'), new MemoryBackend('b', 'reject'), new MemoryBackend('c', 'reject')];
    const data = randomBytes(300_000);
    await assert.rejects(
      quorumWrite({ source: chunked(data), size: data.length, targets: targetsOf(...bs), writeQuorum: 2, checksums: [], timeoutMs: 2000 }),
      (err: unknown) => {
        assert.ok(err instanceof QuorumError);
        assert.deepEqual(err.failed.map((f) => f.backendId).sort(), ['b', 'c']);
        return true;
      },
    );
    assert.equal(stored(bs[0]), undefined);
    assert.ok(bs[0].deleted.includes(`${LOC.bucket}/${LOC.key}`));
  });

  test('a hung target does not hold the answer; it is reported as a failed straggler after the timeout', async () => {
    const bs = [new MemoryBackend('a'), new MemoryBackend('b'), new MemoryBackend('hung', 'hang')];
    const data = randomBytes(512 * 1024);
    const t0 = performance.now();
    const r = await quorumWrite({ source: chunked(data), size: data.length, targets: targetsOf(...bs), writeQuorum: 2, checksums: [], timeoutMs: 300 });
    assert.ok(performance.now() - t0 < 300, 'answered only after the hung target timed out');
    assert.deepEqual([...r.acked].sort(), ['a', 'b']);
    const late = await r.stragglers;
    assert.deepEqual(late, [{ backendId: 'hung', ok: false, error: 'no progress for 300 ms' }]);
  });

  test('a target more than maxLagBytes behind is cut loose instead of slowing the others', async () => {
    const meter: QuorumMeter = { bufferedBytes: 0, maxBufferedBytes: 0, maxTargetBufferedBytes: 0 };
    const slow = new MemoryBackend('slow', 'ok', 25);
    const bs = [new MemoryBackend('a'), new MemoryBackend('b'), slow];
    const data = randomBytes(4 * 1024 * 1024);
    const r = await quorumWrite({
      source: chunked(data),
      size: data.length,
      targets: targetsOf(...bs),
      writeQuorum: 2,
      checksums: [],
      timeoutMs: 5000,
      maxLagBytes: 512 * 1024,
      highWaterBytes: 128 * 1024,
      stallWindowMs: 200,
      meter,
    });
    assert.deepEqual([...r.acked].sort(), ['a', 'b']);
    assert.deepEqual(r.failed, [{ backendId: 'slow', error: `fell more than ${512 * 1024} bytes behind the other targets` }]);
    assert.ok(meter.maxTargetBufferedBytes <= 512 * 1024 + 64 * 1024, `a target queued ${meter.maxTargetBufferedBytes} bytes`);
    await r.stragglers;
    assert.equal(stored(slow), undefined);
  });

  test('with W equal to N the slowest target paces the source and memory stays within the per-target bound', async () => {
    const meter: QuorumMeter = { bufferedBytes: 0, maxBufferedBytes: 0, maxTargetBufferedBytes: 0 };
    const bs = [new MemoryBackend('a', 'ok', 1), new MemoryBackend('b', 'ok', 2), new MemoryBackend('c', 'ok', 3)];
    const data = randomBytes(3 * 1024 * 1024);
    const r = await quorumWrite({
      source: chunked(data),
      size: data.length,
      targets: targetsOf(...bs),
      writeQuorum: 3,
      checksums: [],
      timeoutMs: 5000,
      maxLagBytes: 512 * 1024,
      highWaterBytes: 128 * 1024,
      meter,
    });
    assert.deepEqual([...r.acked].sort(), ['a', 'b', 'c']);
    assert.ok(meter.maxTargetBufferedBytes <= 128 * 1024 + 64 * 1024, `a target queued ${meter.maxTargetBufferedBytes} bytes`);
    assert.ok(meter.maxBufferedBytes <= 3 * (128 * 1024 + 64 * 1024));
  });

  test('a body arriving faster than MD5 can hash it is held back: the hash worker never queues more than its bound', async () => {
    // Targets that take bytes as fast as they come and keep nothing; a source in memory, far
    // faster than one core's MD5 (~600 MB/s), as a client on a fast network would be.
    class Sink extends MemoryBackend {
      override async put(_loc: BlobLocator, body: Readable): Promise<void> {
        for await (const c of body) void c;
      }
    }
    const block = randomBytes(1024 * 1024);
    const src = backlogWatchingBody(block, 256);
    const r = await quorumWrite({ source: src.body, size: src.size, targets: targetsOf(new Sink('a'), new Sink('b'), new Sink('c')), writeQuorum: 2, checksums: [], timeoutMs: 5000 });
    assert.equal(r.md5, src.md5);
    // One 1 MiB chunk may be handed over after the check that paused the source.
    assert.ok(src.peak() <= MAX_HASH_BACKLOG_BYTES + block.length, `the hash worker had ${src.peak() / 2 ** 20} MiB queued`);
    await r.stragglers;
  });

  test('a client pausing longer than timeoutMs between chunks does not fail healthy targets', async () => {
    const bs = [new MemoryBackend('a'), new MemoryBackend('b'), new MemoryBackend('c')];
    const source = Readable.from(
      (async function* () {
        yield Buffer.alloc(1000, 1);
        await sleep(600);
        yield Buffer.alloc(1000, 2);
      })(),
    );
    const r = await quorumWrite({ source, size: 2000, targets: targetsOf(...bs), writeQuorum: 2, checksums: [], timeoutMs: 200 });
    assert.deepEqual(r.failed, []);
    const late = await r.stragglers;
    assert.equal(r.acked.length + late.filter((s) => s.ok).length, 3);
  });

  for (const [what, body, size] of [
    ['short', randomBytes(100_000), 200_000],
    ['long', randomBytes(300_000), 200_000],
  ] as const) {
    test(`a ${what} source is rejected with code IncompleteBody and nothing is stored`, async () => {
      const bs = [new MemoryBackend('a'), new MemoryBackend('b'), new MemoryBackend('c')];
      await assert.rejects(
        quorumWrite({ source: chunked(body), size, targets: targetsOf(...bs), writeQuorum: 2, checksums: [], timeoutMs: 2000 }),
        (err: unknown) => {
          assert.ok(err instanceof IncompleteBodyError);
          assert.equal(err.code, 'IncompleteBody');
          assert.equal(err.expected, size);
          return true;
        },
      );
      for (const b of bs) assert.equal(stored(b), undefined);
    });
  }

  test('a source error rejects with that same error, aborts every target and stores nothing', async () => {
    const bs = [new MemoryBackend('a'), new MemoryBackend('b'), new MemoryBackend('c')];
    const boom = new Error('SignatureDoesNotMatch in chunk 3');
    const source = Readable.from(
      (async function* () {
        yield Buffer.alloc(64 * 1024, 1);
        await sleep(50);
        throw boom;
      })(),
    );
    await assert.rejects(quorumWrite({ source, size: 1024 * 1024, targets: targetsOf(...bs), writeQuorum: 2, checksums: [], timeoutMs: 2000 }), (err) => err === boom);
    for (const b of bs) assert.equal(stored(b), undefined);
  });

  test('a source destroyed without an error (client gone) is IncompleteBody', async () => {
    const bs = [new MemoryBackend('a'), new MemoryBackend('b'), new MemoryBackend('c')];
    const source = new Readable({ read() {} });
    source.push(Buffer.alloc(1000));
    setTimeout(() => source.destroy(), 50);
    await assert.rejects(quorumWrite({ source, size: 5000, targets: targetsOf(...bs), writeQuorum: 2, checksums: [], timeoutMs: 2000 }), IncompleteBodyError);
    for (const b of bs) assert.equal(stored(b), undefined);
  });

  test('the caller aborting rejects with the abort reason and stores nothing', async () => {
    const bs = [new MemoryBackend('a'), new MemoryBackend('b'), new MemoryBackend('c')];
    const source = new Readable({ read() {} });
    source.push(Buffer.alloc(1000));
    const ctl = new AbortController();
    const reason = new Error('request cancelled');
    setTimeout(() => ctl.abort(reason), 50);
    await assert.rejects(
      quorumWrite({ source, size: 5000, targets: targetsOf(...bs), writeQuorum: 2, checksums: [], timeoutMs: 2000, signal: ctl.signal }),
      (err) => err === reason,
    );
    for (const b of bs) assert.equal(stored(b), undefined);
    assert.equal(source.destroyed, false, 'the source belongs to the caller and is left for it to close');
  });

  test('fewer targets than the write quorum is refused before any byte is read', async () => {
    const source = Readable.from([Buffer.alloc(10)]);
    await assert.rejects(
      quorumWrite({ source, size: 10, targets: targetsOf(new MemoryBackend('a')), writeQuorum: 2, checksums: [], timeoutMs: 1000 }),
      QuorumError,
    );
    assert.equal(source.readableDidRead, false);
  });
});
