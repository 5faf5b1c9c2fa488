// The hot path (design/ARCHITECTURE.md, "The quorum writer"; PRODUCT.md §1.3, "Quorum
// writes"): one source stream is teed to N backend puts, each fed through its own
// bounded buffer, with MD5 and the requested checksums computed once on the way in.
//
// Pacing (pacing.ts). Targets advance together while they keep up; one that holds
// the source back for most of a window while W others have room stops pacing it, so
// the client proceeds at the speed of the W-th fastest target. A target further
// behind than `maxLagBytes`, one that makes no progress for `timeoutMs` while it has
// work, and one whose put fails are cut loose (aborted, counted failed): a slow or
// hung provider never throttles the others for long, and the data plane turns it
// into a replication job. Memory is at most N × (maxLagBytes + one chunk) whatever
// the object size.
//
// Outcomes. Resolve once the source ended with exactly `size` bytes and W targets
// acknowledged; the rest finish in the background and report through `stragglers`.
// When W acknowledgements become impossible, or the source fails (client disconnect,
// bad signature chunk, wrong length), or the caller aborts: abort every target,
// delete whatever any target may have stored (bounded by timeoutMs), and reject.
// The source is never destroyed here: on rejection it is left paused and unread, so
// the caller decides whether to drain it or close the connection.
import { Readable } from 'node:stream';
import type { ChecksumAlgorithm, ChecksumSet } from '../../metadata/types.ts';
import { createHasher, type Hasher } from '../checksums/index.ts';
import { md5HasherFor } from '../checksums/off-thread.ts';
import type { BlobLocator, StorageBackend } from '../storage/types.ts';
import { describeError, IncompleteBodyError } from '../storage/errors.ts';
import { QuorumError } from './errors.ts';
import { Pacer, type PacedTarget } from './pacing.ts';
import { transferred } from '../observability/gc-pacer.ts';

export interface QuorumTarget {
  backendId: string;
  backend: StorageBackend;
  loc: BlobLocator;
}

export interface QuorumResult {
  size: number;
  /** Hex MD5 of the bytes (the single-part ETag). */
  md5: string;
  /** Hex CRC-32C of the bytes, always computed: Fedgate's own integrity check of later reads. */
  crc32c: string;
  /** Base64 values for the algorithms asked for. */
  checksums: ChecksumSet;
  /** Targets that stored the blob before we answered. */
  acked: string[];
  failed: { backendId: string; error: string }[];
  /**
   * Outcomes of the targets still in flight at resolution, once each has finished or
   * failed and every cut-loose target's put has settled (never rejects; each wait is
   * bounded by 3 × timeoutMs).
   */
  stragglers: Promise<{ backendId: string; ok: boolean; error?: string }[]>;
}

/** Instrumentation a caller (tests, metrics) can pass in; the writer keeps it current. */
export interface QuorumMeter {
  /** Bytes currently queued for targets (sum over targets; a chunk queued for 3 counts 3 times). */
  bufferedBytes: number;
  maxBufferedBytes: number;
  /** Largest queue any single target reached. */
  maxTargetBufferedBytes: number;
}

export interface QuorumWriteOptions {
  source: Readable;
  size: number;
  targets: QuorumTarget[];
  writeQuorum: number;
  /** Computed on the fly in addition to MD5. */
  checksums: ChecksumAlgorithm[];
  /** Per-target inactivity / acknowledgement timeout. */
  timeoutMs: number;
  /** A target further behind than this is cut loose (default 8 MiB). */
  maxLagBytes?: number;
  /** Queue length below which a target "has room" (default min(1 MiB, maxLagBytes)). */
  highWaterBytes?: number;
  /** Blame window of the pacer (default min(1000, timeoutMs) ms; see pacing.ts). */
  stallWindowMs?: number;
  signal?: AbortSignal;
  meter?: QuorumMeter;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export const DEFAULT_MAX_LAG_BYTES = 8 * 1024 * 1024;
const DEFAULT_HIGH_WATER_BYTES = 1024 * 1024;

type Outcome = { backendId: string; ok: boolean; error?: string };

interface TargetState extends PacedTarget {
  target: QuorumTarget;
  feed: Readable;
  ctl: AbortController;
  status: 'active' | 'acked' | 'failed';
  error?: string;
  pushed: number;
  lastConsumed: number;
  lastProgressAt: number;
  /** Settles when the driver's put settles (never rejects). */
  putDone: Promise<void>;
  outcome: Promise<Outcome>;
  report: (o: Outcome) => void;
}

export async function quorumWrite(opts: QuorumWriteOptions): Promise<QuorumResult> {
  const { source, size, targets, writeQuorum: W, timeoutMs, signal } = opts;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid size ${size}`);
  if (!Number.isInteger(W) || W < 1) throw new RangeError(`invalid write quorum ${W}`);
  if (!(timeoutMs > 0)) throw new RangeError(`invalid timeoutMs ${timeoutMs}`);
  if (new Set(targets.map((t) => t.backendId)).size !== targets.length) throw new RangeError('duplicate backend among quorum targets');
  if (targets.length < W) {
    throw new QuorumError(`${targets.length} targets cannot reach a write quorum of ${W}`, []);
  }
  signal?.throwIfAborted();
  const maxLag = opts.maxLagBytes ?? DEFAULT_MAX_LAG_BYTES;
  const highWater = Math.max(1, Math.min(opts.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES, maxLag));
  const meter = opts.meter;

  return new Promise<QuorumResult>((resolve, reject) => {
    const md5 = md5HasherFor(size);
    // CRC-32C is always computed (QuorumResult.crc32c); it is reported as a checksum only when asked for.
    const asked = new Set(opts.checksums);
    const hashers: [ChecksumAlgorithm, Hasher][] = [...new Set<ChecksumAlgorithm>([...asked, 'CRC32C'])].map((a) => [a, createHasher(a)]);
    let received = 0;
    let ended = false;
    let paused = false;
    let done = false;
    let digests: { md5: string; crc32c: string; checksums: ChecksumSet } | null = null;
    const failedBeforeAnswer: { backendId: string; error: string }[] = [];
    const states: TargetState[] = [];

    const activeStates = () => states.filter((s) => s.status === 'active');
    const ackedCount = () => states.filter((s) => s.status === 'acked').length;
    const pacer = new Pacer({ writeQuorum: W, highWater, windowMs: opts.stallWindowMs ?? Math.min(1000, timeoutMs) }, performance.now());

    const measure = () => {
      if (!meter) return;
      let total = 0;
      for (const s of states) {
        if (s.status !== 'active') continue;
        const n = s.feed.readableLength;
        total += n;
        if (n > meter.maxTargetBufferedBytes) meter.maxTargetBufferedBytes = n;
      }
      meter.bufferedBytes = total;
      if (total > meter.maxBufferedBytes) meter.maxBufferedBytes = total;
    };

    // An MD5 on the hash worker that falls behind holds the source back like a full target
    // does, so the bytes waiting for it stay bounded (off-thread.ts).
    const hashFull = () => md5.full?.() === true;

    const maybeResume = () => {
      if (done) return;
      const now = performance.now();
      pacer.account(states, paused, now);
      if (paused && pacer.canFlow(states) && !hashFull()) {
        paused = false;
        pacer.account(states, false, now);
        source.resume();
      }
    };

    // A driver's put settles only after its own cleanup (see drivers/s3.ts), so a
    // failure is reported once the put has settled: whoever acts on it (a replication
    // job writing the same locator) cannot be overtaken by that cleanup. Bounded, in
    // case a driver ignores its abort signal.
    const afterPut = (s: TargetState) => Promise.race([s.putDone, sleep(3 * timeoutMs)]);

    const markFailed = (s: TargetState, error: string) => {
      if (s.status !== 'active') return;
      s.status = 'failed';
      s.error = error;
      s.ctl.abort(new Error(error));
      s.feed.destroy();
      if (!done) failedBeforeAnswer.push({ backendId: s.target.backendId, error });
      void afterPut(s).then(() => s.report({ backendId: s.target.backendId, ok: false, error }));
      if (!done && ackedCount() + activeStates().length < W) {
        void fail(new QuorumError(`write quorum ${W} not reachable: ${failedBeforeAnswer.map((f) => `${f.backendId}: ${f.error}`).join('; ')}`, failedBeforeAnswer.slice()));
      } else {
        maybeResume();
      }
      stopTickerWhenIdle();
    };

    const markAcked = (s: TargetState) => {
      if (s.status !== 'active') return;
      s.status = 'acked';
      s.report({ backendId: s.target.backendId, ok: true });
      maybeAnswer();
      stopTickerWhenIdle();
    };

    // Inactivity watchdog. A target "has work" when bytes wait in its queue or, after
    // the source ended, while its acknowledgement is due; time without consumption or
    // acknowledgement while it has work counts against timeoutMs. Idle time caused by
    // a slow client does not.
    const tickMs = Math.max(10, Math.min(100, Math.floor(timeoutMs / 4)));
    const ticker: NodeJS.Timeout = setInterval(() => {
      const now = performance.now();
      pacer.account(states, paused, now);
      pacer.review(states, now);
      for (const s of states) {
        if (s.status !== 'active') continue;
        const consumed = s.pushed - s.feed.readableLength;
        const hasWork = s.feed.readableLength > 0 || ended;
        if (consumed > s.lastConsumed || !hasWork) {
          s.lastConsumed = consumed;
          s.lastProgressAt = now;
        } else if (now - s.lastProgressAt > timeoutMs) {
          markFailed(s, `no progress for ${timeoutMs} ms`);
        }
      }
      maybeResume();
    }, tickMs);
    function stopTickerWhenIdle() {
      if (states.every((s) => s.status !== 'active')) clearInterval(ticker);
    }

    // The 'error' listener stays: it is a no-op once done, and a source that errors
    // after we let go (client gone after a 503) must not become an uncaught exception.
    const detachSource = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    };

    /** Reject: stop everything, remove whatever may have been stored, then report `err`. */
    async function fail(err: unknown): Promise<void> {
      if (done) return;
      done = true;
      detachSource();
      md5.dispose?.();
      if (!source.destroyed) source.pause();
      for (const s of states) {
        if (s.status === 'active') {
          s.status = 'failed';
          s.error = 'aborted: the write failed';
          s.ctl.abort(err);
          s.feed.destroy();
          s.report({ backendId: s.target.backendId, ok: false, error: s.error });
        }
      }
      clearInterval(ticker);
      // Let aborted puts settle first so a delete cannot overtake a write still in
      // flight; both waits are bounded, a dead backend must not hold the answer.
      await Promise.all(
        states.map(async (s) => {
          await Promise.race([s.putDone, sleep(2 * timeoutMs)]);
          await Promise.race([s.target.backend.delete(s.target.loc, AbortSignal.timeout(timeoutMs)).catch(() => {}), sleep(timeoutMs)]);
        }),
      );
      reject(err);
    }

    function maybeAnswer() {
      if (done || !ended || digests === null || ackedCount() < W) return;
      done = true;
      detachSource();
      const inFlight = activeStates();
      const cut = states.filter((s) => s.status === 'failed');
      resolve({
        size,
        md5: digests.md5,
        crc32c: digests.crc32c,
        checksums: digests.checksums,
        acked: states.filter((s) => s.status === 'acked').map((s) => s.target.backendId),
        failed: failedBeforeAnswer.slice(),
        stragglers: Promise.all(cut.map(afterPut)).then(() => Promise.all(inFlight.map((s) => s.outcome))),
      });
    }

    function onData(chunk: Buffer | string) {
      if (done) return;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += buf.length;
      if (received > size) {
        void fail(new IncompleteBodyError(size, received));
        return;
      }
      md5.update(buf);
      for (const [, h] of hashers) h.update(buf);
      transferred(buf.length);
      const now = performance.now();
      for (const s of states) {
        if (s.status !== 'active') continue;
        if (s.feed.readableLength === 0) s.lastProgressAt = now; // idle until now: the clock starts here
        s.feed.push(buf);
        s.pushed += buf.length;
        if (s.feed.readableLength > maxLag) markFailed(s, `fell more than ${maxLag} bytes behind the other targets`);
      }
      measure();
      if (!done && (!pacer.canFlow(states) || hashFull())) {
        paused = true;
        source.pause();
        pacer.account(states, true, now);
        if (hashFull()) void md5.drained?.().then(maybeResume);
      }
    }

    function onEnd() {
      if (done) return;
      if (received !== size) {
        void fail(new IncompleteBodyError(size, received));
        return;
      }
      ended = true;
      const now = performance.now();
      for (const s of states) {
        if (s.status !== 'active') continue;
        s.lastProgressAt = now;
        s.feed.push(null);
      }
      void Promise.all([md5.digest(), ...hashers.map(([, h]) => h.digest())]).then(
        ([m, ...rest]) => {
          const checksums: ChecksumSet = {};
          let crc = '';
          hashers.forEach(([alg], i) => {
            if (asked.has(alg)) checksums[alg] = rest[i].toString('base64');
            if (alg === 'CRC32C') crc = rest[i].toString('hex');
          });
          digests = { md5: m.toString('hex'), crc32c: crc, checksums };
          maybeAnswer();
        },
        (err) => void fail(err),
      );
    }

    function onSourceError(err: Error) {
      void fail(err);
    }

    /** A source destroyed without an error and without 'end' (e.g. a dropped connection). */
    function onClose() {
      if (!ended) void fail(source.errored ?? new IncompleteBodyError(size, received));
    }

    function onAbort() {
      void fail(signal?.reason ?? new Error('aborted'));
    }

    for (const target of targets) {
      let report!: (o: Outcome) => void;
      const outcome = new Promise<Outcome>((r) => (report = r));
      const s: TargetState = {
        get active() {
          return s.status === 'active';
        },
        get queued() {
          return s.feed.readableLength;
        },
        lagging: false,
        stallMs: 0,
        target,
        ctl: new AbortController(),
        feed: new Readable({
          highWaterMark: highWater,
          read() {
            // The target's consumer wants more: it made progress. Readable calls _read
            // before it takes the bytes off the buffer, so look at the room once this
            // read() has returned.
            s.lastProgressAt = performance.now();
            process.nextTick(maybeResume);
          },
        }),
        status: 'active',
        pushed: 0,
        lastConsumed: 0,
        lastProgressAt: performance.now(),
        putDone: Promise.resolve(),
        outcome,
        report,
      };
      states.push(s);
    }
    for (const s of states) {
      let put: Promise<void>;
      try {
        put = s.target.backend.put(s.target.loc, s.feed, size, s.ctl.signal);
      } catch (err) {
        put = Promise.reject(err);
      }
      s.putDone = put.then(
        () => undefined,
        () => undefined,
      );
      put.then(
        () => markAcked(s),
        (err) => markFailed(s, describeError(err)),
      );
    }

    signal?.addEventListener('abort', onAbort, { once: true });
    source.on('error', onSourceError);
    source.on('close', onClose);
    if (source.readableEnded) {
      onEnd();
      return;
    }
    if (source.destroyed) {
      onClose();
      return;
    }
    source.on('end', onEnd);
    source.on('data', onData);
    source.resume();
  });
}
