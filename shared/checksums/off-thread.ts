// MD5 / SHA-1 / SHA-256 of a large body on a worker thread, so that hashing runs beside the
// event loop that moves the bytes instead of in front of it (bench/README.md, "large PUT").
// The bytes are copied into 1 MiB batches (a memcpy, ~25 ms per 256 MiB) whose memory is
// transferred, not cloned, to one shared worker, which hands each batch back once hashed:
// a few batches go round and round instead of 256 per 256 MiB waiting for a GC in each
// thread. Jobs are told apart by id, and the worker keeps messages in order, so a job's
// digest covers exactly what update() was given. The worker holds the process open only
// while a job is running.
import { Worker } from 'node:worker_threads';
import { createHasher, type Hasher } from './index.ts';

const BATCH_BYTES = 1024 * 1024;
/** Batches kept for reuse; more are allocated only while the worker is behind. */
const POOL_MAX = 8;

// getBuiltinModule works whether the parent's flags make this eval script CommonJS or ESM.
const WORKER_SOURCE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const { createHash } = process.getBuiltinModule('node:crypto');
const jobs = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'start') jobs.set(m.id, createHash(m.alg));
  else if (m.op === 'data') {
    jobs.get(m.id)?.update(new Uint8Array(m.buf, 0, m.len));
    parentPort.postMessage({ ret: m.buf }, [m.buf]);
  }
  else if (m.op === 'drop') jobs.delete(m.id);
  else if (m.op === 'end') {
    const h = jobs.get(m.id);
    jobs.delete(m.id);
    const digest = h.digest();
    parentPort.postMessage({ id: m.id, digest: digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.length) });
  }
});
`;

type Waiter = { resolve: (b: Buffer) => void; reject: (e: Error) => void };

class HashWorker {
  private worker: Worker | null = null;
  private nextId = 1;
  private active = 0;
  private readonly waiting = new Map<number, Waiter>();
  private readonly pool: ArrayBuffer[] = [];

  batch(): Buffer {
    const ab = this.pool.pop();
    return ab ? Buffer.from(ab) : Buffer.allocUnsafeSlow(BATCH_BYTES);
  }

  private get(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, name: 'fedgate-hash' });
    w.unref();
    w.on('message', (m: { ret: ArrayBuffer } | { id: number; digest: ArrayBuffer }) => {
      if ('ret' in m) {
        if (this.pool.length < POOL_MAX) this.pool.push(m.ret);
        return;
      }
      const waiter = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      waiter?.resolve(Buffer.from(m.digest));
    });
    // A dead worker fails the digests it owed; the next job starts a new one.
    const lost = (err: Error) => {
      if (this.worker !== w) return;
      this.worker = null;
      this.active = 0;
      for (const waiter of this.waiting.values()) waiter.reject(err);
      this.waiting.clear();
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new Error(`hash worker exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  start(alg: string): { id: number; worker: Worker } {
    const worker = this.get();
    const id = this.nextId++;
    if (this.active++ === 0) worker.ref();
    worker.postMessage({ op: 'start', id, alg });
    return { id, worker };
  }

  done(worker: Worker): void {
    if (this.worker === worker && --this.active === 0) worker.unref();
  }

  awaitDigest(id: number): Promise<Buffer> {
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }
}

const shared = new HashWorker();

class OffThreadHasher implements Hasher {
  private readonly id: number;
  private readonly worker: Worker;
  private batch: Buffer | null = null;
  private filled = 0;
  private finished = false;

  constructor(alg: 'md5' | 'sha1' | 'sha256') {
    ({ id: this.id, worker: this.worker } = shared.start(alg));
  }

  update(data: Uint8Array): void {
    if (this.finished) throw new Error('update() after digest() or dispose()');
    let off = 0;
    while (off < data.length) {
      // A batch's memory is handed over to the worker and comes back once hashed.
      this.batch ??= shared.batch();
      const n = Math.min(data.length - off, BATCH_BYTES - this.filled);
      this.batch.set(data.subarray(off, off + n), this.filled);
      this.filled += n;
      off += n;
      if (this.filled === BATCH_BYTES) this.flush();
    }
  }

  private flush(): void {
    if (!this.batch || this.filled === 0) return;
    const buf = this.batch.buffer as ArrayBuffer;
    this.worker.postMessage({ op: 'data', id: this.id, buf, len: this.filled }, [buf]);
    this.batch = null;
    this.filled = 0;
  }

  async digest(): Promise<Buffer> {
    if (this.finished) throw new Error('digest() called twice');
    this.flush();
    this.finished = true;
    const result = shared.awaitDigest(this.id);
    this.worker.postMessage({ op: 'end', id: this.id });
    try {
      return await result;
    } finally {
      shared.done(this.worker);
    }
  }

  dispose(): void {
    if (this.finished) return;
    this.finished = true;
    this.batch = null;
    this.worker.postMessage({ op: 'drop', id: this.id });
    shared.done(this.worker);
  }
}

/** A hasher that does its work on the shared hash worker thread (same digests as createHasher). */
export function createOffThreadHasher(alg: 'MD5' | 'SHA1' | 'SHA256'): Hasher {
  return new OffThreadHasher(alg.toLowerCase() as 'md5' | 'sha1' | 'sha256');
}

/**
 * From this size on, MD5 runs on the hash worker thread, beside the loop that forwards the
 * bytes (PUT 256 MiB through Fedgate: see bench/README.md); below it the thread hop costs more
 * than the hashing.
 */
export const OFF_THREAD_MD5_BYTES = 4 * 1024 * 1024;

/** The MD5 hasher for a body of `size` bytes: on the hash worker from OFF_THREAD_MD5_BYTES on. */
export function md5HasherFor(size: number): Hasher {
  return size >= OFF_THREAD_MD5_BYTES ? createOffThreadHasher('MD5') : createHasher('MD5');
}
