// A 256 MiB quorum write through three local-disk backends: the writer's own buffers
// (measured by its meter, not by RSS timing) stay bounded whatever the size. Prints
// the throughput next to a plain fs write of the same bytes (no timing assertion).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DEFAULT_MAX_LAG_BYTES, quorumWrite, type QuorumMeter } from '../../shared/quorum/index.ts';
import { createLocalDiskBackend } from '../../shared/storage/index.ts';

const SIZE = 256 * 1024 * 1024;
const CHUNK = 64 * 1024;
const BUCKET = 's3gw-memory-test';

/** SIZE bytes in CHUNK pieces, cut from one random MiB at shifting offsets (cheap to generate). */
function source(seed: Buffer): Readable {
  let sent = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (sent >= SIZE) {
        this.push(null);
        return;
      }
      const off = (sent / CHUNK) % (seed.length / CHUNK - 1);
      this.push(seed.subarray(off * CHUNK + (sent % 7), off * CHUNK + (sent % 7) + CHUNK));
      sent += CHUNK;
    },
  });
}

function digest(seed: Buffer): string {
  const h = createHash('md5');
  for (let sent = 0; sent < SIZE; sent += CHUNK) {
    const off = (sent / CHUNK) % (seed.length / CHUNK - 1);
    h.update(seed.subarray(off * CHUNK + (sent % 7), off * CHUNK + (sent % 7) + CHUNK));
  }
  return h.digest('hex');
}

let root: string;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fedgate-quorum-mem-'));
});
after(() => rm(root, { recursive: true, force: true }));

test('a 256 MiB quorum write over 3 local disks never buffers more than N × (maxLag + one chunk)', async () => {
  const seed = randomBytes(1024 * 1024 + CHUNK);
  const backends = ['d1', 'd2', 'd3'].map((name) => createLocalDiskBackend({ name, root: path.join(root, name) }));
  for (const b of backends) await b.ensureBucket(BUCKET);
  const meter: QuorumMeter = { bufferedBytes: 0, maxBufferedBytes: 0, maxTargetBufferedBytes: 0 };
  const rss0 = process.memoryUsage().rss;

  const t0 = performance.now();
  const r = await quorumWrite({
    source: source(seed),
    size: SIZE,
    targets: backends.map((backend) => ({ backendId: backend.name, backend, loc: { bucket: BUCKET, key: 'big' } })),
    writeQuorum: 2,
    checksums: [],
    timeoutMs: 30_000,
    meter,
  });
  const answeredMs = performance.now() - t0;
  const late = await r.stragglers;
  const allMs = performance.now() - t0;
  const rssDelta = process.memoryUsage().rss - rss0;

  const bound = DEFAULT_MAX_LAG_BYTES + CHUNK;
  assert.ok(meter.maxTargetBufferedBytes <= bound, `one target queued ${meter.maxTargetBufferedBytes} bytes`);
  assert.ok(meter.maxBufferedBytes <= 3 * bound, `the writer queued ${meter.maxBufferedBytes} bytes`);
  assert.equal(r.md5, digest(seed));
  assert.ok(r.acked.length >= 2);
  for (const id of r.acked) {
    const b = backends.find((x) => x.name === id)!;
    assert.deepEqual(await b.head({ bucket: BUCKET, key: 'big' }), { size: SIZE });
  }

  const t1 = performance.now();
  await pipeline(source(seed), createWriteStream(path.join(root, 'plain'), { flush: true }));
  const plainMs = performance.now() - t1;
  // The same physical work as the quorum write (three copies) without the writer.
  const t2 = performance.now();
  await Promise.all([1, 2, 3].map((i) => pipeline(source(seed), createWriteStream(path.join(root, `plain-${i}`), { flush: true }))));
  const plain3Ms = performance.now() - t2;

  const mib = SIZE / 1024 / 1024;
  const lines = [
    `quorum write 256 MiB x3 local-disk: answered in ${answeredMs.toFixed(0)} ms (${((mib / answeredMs) * 1000).toFixed(0)} MiB/s), all targets done in ${allMs.toFixed(0)} ms`,
    `plain fs write 256 MiB: ${plainMs.toFixed(0)} ms (${((mib / plainMs) * 1000).toFixed(0)} MiB/s); quorum/plain time ratio ${(answeredMs / plainMs).toFixed(2)}`,
    `3 parallel plain fs writes of 256 MiB: ${plain3Ms.toFixed(0)} ms; quorum/3-plain time ratio ${(allMs / plain3Ms).toFixed(2)}`,
    `acked ${r.acked.join(',')}; stragglers ${JSON.stringify(late)}; failed ${JSON.stringify(r.failed)}`,
    `writer buffers: max total ${(meter.maxBufferedBytes / 1024 / 1024).toFixed(2)} MiB, max per target ${(meter.maxTargetBufferedBytes / 1024 / 1024).toFixed(2)} MiB; RSS delta ${(rssDelta / 1024 / 1024).toFixed(0)} MiB (informational)`,
  ];
  for (const l of lines) console.log(`# ${l}`);
});
