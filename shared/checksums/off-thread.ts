// MD5 / SHA-1 / SHA-256 of a large body on a worker thread, so that hashing runs beside the
// event loop that moves the bytes instead of in front of it (bench/README.md, "large PUT").
// The bytes are copied into 1 MiB batches (a memcpy, ~25 ms per 256 MiB) whose memory is
// transferred, not cloned, to one shared worker, which hands each batch back once hashed:
// a few batches go round and round instead of 256 per 256 MiB waiting for a GC in each
// thread. Jobs are told apart by id, and the worker keeps messages in order, so a job's
// digest covers exactly what update() was given. The worker holds the process open only
// while a job is running.
//
// Memory stays bounded however fast bytes arrive: what waits in the worker's queue is counted
// (hashBacklogBytes), and a writer that feeds a hasher from a stream pauses its source while the
// hasher says full() and resumes when drained() resolves — the worker is then the slowest stage
// of the pipeline, as a slow target is (MD5 runs at ~600 MB/s on one core: a client on a fast
// network outruns it).
import { Worker } from 'node:worker_threads';
import { createHasher, type Hasher } from './index.ts';

const BATCH_BYTES = 1024 * 1024;
/** Batches kept for reuse; more are allocated only while the worker is behind. */
const POOL_MAX = 8;
/**
 * Bytes queued for the worker, over all jobs, from which writers hold their sources back. Large
 * enough to ride out the worker being scheduled out for a few hundred ms on a busy machine (with
 * 8 MiB, large PUTs on 2 shared cores were ~10 % slower than without a bound; with 32 MiB the
 * same), small against the gateway's 200 MiB memory goal.
 */
export const MAX_HASH_BACKLOG_BYTES = 32 * BATCH_BYTES;

// getBuiltinModule works whether the parent's flags make this eval script CommonJS or ESM.
const WORKER_SOURCE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const { createHash } = process.getBuiltinModule('node:crypto');
const jobs = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'start') jobs.set(m.id, createHash(m.alg));
  else if (m.op === 'data') {
    jobs.get(m.id)?.update(new Uint8Array(m.buf, 0, m.len));
    parentPort.postMessage({ ret: m.buf, len: m.len }, [m.buf]);
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
  /** Bytes posted to the worker and not yet handed back. */
  backlog = 0;
  private drainWaiters: (() => void)[] = [];

  /** Resolves once the backlog is at most half the limit (at once when it is). */
  drained(): Promise<void> {
    if (this.backlog <= MAX_HASH_BACKLOG_BYTES / 2) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  private settleBacklog(): void {
    if (this.backlog > MAX_HASH_BACKLOG_BYTES / 2 || this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  post(worker: Worker, id: number, buf: ArrayBuffer, len: number): void {
    this.backlog += len;
    worker.postMessage({ op: 'data', id, buf, len }, [buf]);
  }

  batch(): Buffer {
    const ab = this.pool.pop();
    return ab ? Buffer.from(ab) : Buffer.allocUnsafeSlow(BATCH_BYTES);
  }

  private get(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, name: 'fedgate-hash' });
    w.unref();
    w.on('message', (m: { ret: ArrayBuffer; len: number } | { id: number; digest: ArrayBuffer }) => {
      if ('ret' in m) {
        if (this.pool.length < POOL_MAX) this.pool.push(m.ret);
        this.backlog -= m.len;
        this.settleBacklog();
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
      this.backlog = 0; // what it held is lost with it; the jobs that owed it fail
      this.settleBacklog();
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
    shared.post(this.worker, this.id, this.batch.buffer as ArrayBuffer, this.filled);
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

  full(): boolean {
    return shared.backlog >= MAX_HASH_BACKLOG_BYTES;
  }

  drained(): Promise<void> {
    return shared.drained();
  }

  dispose(): void {
    if (this.finished) return;
    this.finished = true;
    this.batch = null;
    this.worker.postMessage({ op: 'drop', id: this.id });
    shared.done(this.worker);
  }
}

/** Bytes handed to the hash worker and not hashed yet, over every job in this process. */
export function hashBacklogBytes(): number {
  return shared.backlog;
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
