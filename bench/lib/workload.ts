// Byte sources, byte sinks and timing loops shared by every benchmark case.
//
// Integrity is checked with CRC-32C (@node-rs/crc32, hardware-accelerated) rather
// than SHA-256: it catches wrong, missing or reordered bytes, and at several GB/s it
// adds almost nothing to the timed path on either side, so it cannot flatten the
// ratio the way a 500 MB/s hash would.
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { crc32c } from '@node-rs/crc32';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Chunk size for streamed bodies: large enough that per-chunk overhead is noise. */
const CHUNK = 1 * MiB;

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Wall-clock seconds one async call takes. */
export async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** A plain byte stream over an existing buffer (no copy: slices are views). */
export function bufferStream(buf: Buffer): Readable {
  let off = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (off >= buf.length) {
        this.push(null);
        return;
      }
      const end = Math.min(buf.length, off + CHUNK);
      this.push(buf.subarray(off, end));
      off = end;
    },
  });
}

/**
 * `size` bytes made by repeating `block`. The block length should not divide the
 * chunk size (use an odd length), so a dropped or repeated chunk changes the CRC.
 * Used for objects too big to hold in the client's memory.
 */
export function patternStream(size: number, block: Buffer): Readable {
  let off = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (off >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, size - off);
      const out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const at = (off + filled) % block.length;
        filled += block.copy(out, filled, at, Math.min(block.length, at + (n - filled)));
      }
      off += n;
      this.push(out);
    },
  });
}

/** CRC-32C of what patternStream(size, block) produces, computed without streaming. */
export function patternCrc(size: number, block: Buffer): number {
  let crc = 0;
  let left = size;
  while (left > 0) {
    const n = Math.min(left, block.length);
    crc = crc32c(block.subarray(0, n), crc);
    left -= n;
  }
  return crc;
}

/** CRC-32C of `buf`, continuing from `prev` (0 to start). */
export function crcOf(buf: Uint8Array, prev = 0): number {
  return crc32c(buf, prev);
}

/** A response body: a stream, or (plain-file side) the bytes already read. */
export type Body = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Read a body to the end, counting and checksumming as it goes. */
export async function drainCrc(body: Body): Promise<{ bytes: number; crc: number }> {
  let bytes = 0;
  let crc = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    crc = crc32c(chunk, crc);
  }
  return { bytes, crc };
}

/** Read a (small) body into one buffer. */
export async function drainBuffer(body: Body): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  return Buffer.concat(chunks);
}

export function assertBytes(what: string, got: { bytes: number; crc: number }, want: { bytes: number; crc: number }): void {
  if (got.bytes !== want.bytes || got.crc !== want.crc) {
    throw new Error(`${what}: wrong bytes (got ${got.bytes} B crc32c ${got.crc.toString(16)}, want ${want.bytes} B crc32c ${want.crc.toString(16)})`);
  }
}

/**
 * Run op(0..count-1) with at most `concurrency` in flight. Returns the wall time in
 * seconds and every op's latency in ms. The first failure stops new ops and is thrown.
 */
export async function runPool(count: number, concurrency: number, op: (i: number) => Promise<void>): Promise<{ seconds: number; latenciesMs: number[] }> {
  const latenciesMs: number[] = new Array(count);
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (failed === null) {
      const i = next++;
      if (i >= count) return;
      const t0 = performance.now();
      try {
        await op(i);
      } catch (e) {
        failed ??= e;
        return;
      }
      latenciesMs[i] = performance.now() - t0;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  if (failed !== null) throw failed;
  return { seconds, latenciesMs };
}

/** Split `total` ops into `rounds` nearly equal consecutive ranges. */
export function splitRounds(total: number, rounds: number): { start: number; count: number }[] {
  const out: { start: number; count: number }[] = [];
  let start = 0;
  for (let r = 0; r < rounds; r++) {
    const count = Math.floor(total / rounds) + (r < total % rounds ? 1 : 0);
    out.push({ start, count });
    start += count;
  }
  return out;
}
