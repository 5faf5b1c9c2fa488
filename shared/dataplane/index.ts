// The data plane: where chunks go (placement), how they get there (the quorum
// writer), how they come back (failover reads) and how they leave (removal).
// Used by the gateway's handlers and by the workers alike.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { MetadataError, type BlobState, type BucketRow, type ChecksumAlgorithm, type ChecksumSet, type ChunkRow, type DoomedBlob, type MetadataStore, type ScrubCandidate, type SealedChunk, type VersionPart } from '../../metadata/types.ts';
import { BlobNotFoundError, type BlobLocator, type ByteRange } from '../storage/types.ts';
import type { Logger } from '../observability/logger.ts';
import { physicalBucketName, physicalKey, placeForRead, placeStandard } from '../placement/index.ts';
import { quorumWrite, QuorumError } from '../quorum/index.ts';
import { CodedError } from '../errors/index.ts';
import { describeError } from '../storage/errors.ts';
import { BackendSet, type LiveBackend } from './backends.ts';
import { checkable, mismatchOf, ReplicaMismatchError, verifiedRead } from './verify.ts';
import { ResumingRead } from './resume.ts';
import { integrity, type FoundBy } from '../observability/integrity-metrics.ts';

export { BackendSet, type LiveBackend, type DriverFactory } from './backends.ts';

/** How long a write waits, after its quorum, for the remaining copies before it commits without them. */
export const STRAGGLER_GRACE_MS = 20;

/** One replica of a chunk, on a loaded backend. */
interface Replica {
  backend: LiveBackend;
  loc: BlobLocator;
}

export interface DataPlaneDeps {
  store: MetadataStore;
  backends: BackendSet;
  /** Deployment secret for namespace hashing (never the vault master key itself). */
  namingSecret: Buffer;
  timeoutMs: number;
  /**
   * The GC's grace period (FEDGATE_GC_GRACE_MS): a write still streaming renews its chunk every
   * sixth of it, so an upload that takes longer than the grace is not collected under its feet.
   */
  gcGraceMs: number;
  /** Check whole-chunk reads against the recorded digest (verify.ts); default true. */
  verifyReads?: boolean;
  log: Logger;
  /** Hand a chunk to the replication queue (a failed or straggling target). */
  enqueueRepair(chunkId: string): Promise<void>;
}

export interface WrittenChunk {
  sealed: SealedChunk;
  md5: string;
  checksums: ChecksumSet;
  /** Call once the metadata commit succeeded (true) or failed (false); `commit` does it itself. */
  settle(committed: boolean): void;
  /**
   * Run the metadata commit that makes this chunk visible, then settle. A commit that fails
   * because the chunk is gone (the write stalled, e.g. a paused process, for longer than the GC's
   * grace period after its last renewal, and the GC removed it) answers 503, which clients retry,
   * not the commit's NotFound (NoSuchKey).
   */
  commit<T>(fn: (sealed: SealedChunk) => Promise<T>): Promise<T>;
}

/** A write whose chunk the GC removed (it stalled for longer than the grace period, while streaming or before its commit): 503, which clients retry. */
function chunkRemoved(): CodedError {
  return new CodedError('ServiceUnavailable', "The write outlasted the garbage collector's grace period and its data was removed; nothing was stored");
}

/** Enough for every (tenant, bucket, provider) a gateway serves at once; deriving a name again costs an HMAC (~7 µs here). */
const MAX_CACHED_NAMES = 10_000;

export class DataPlane {
  private readonly d: DataPlaneDeps;
  /** (bucket id, backend id) pairs whose physical bucket is known to exist. */
  private readonly ensured = new Set<string>();
  /** Physical bucket names already derived (an HMAC each); bounded, cleared when full. */
  private readonly names = new Map<string, string>();

  constructor(deps: DataPlaneDeps) {
    this.d = deps;
  }

  get backends(): BackendSet {
    return this.d.backends;
  }

  physicalBucket(tenantId: string, bucketName: string, backend: LiveBackend): string {
    // NUL cannot occur in a tenant id or a bucket name (physicalBucketName refuses it).
    const k = `${tenantId}\0${bucketName}\0${backend.row.provider}`;
    let name = this.names.get(k);
    if (name === undefined) {
      name = physicalBucketName(this.d.namingSecret, tenantId, bucketName, backend.row.provider);
      if (this.names.size >= MAX_CACHED_NAMES) this.names.clear();
      this.names.set(k, name);
    }
    return name;
  }

  /** Make sure the bucket's physical bucket exists on `backend` and is recorded. */
  async ensurePhysicalBucket(bucket: BucketRow, tenantId: string, backend: LiveBackend): Promise<string> {
    const name = this.physicalBucket(tenantId, bucket.name, backend);
    const key = `${bucket.id}:${backend.row.id}`;
    if (!this.ensured.has(key)) {
      await backend.driver.ensureBucket(name, AbortSignal.timeout(this.d.timeoutMs));
      await this.d.store.addBucketBackend(bucket.id, backend.row.id, name);
      this.ensured.add(key);
    }
    return name;
  }

  forgetBucket(bucketId: string): void {
    for (const k of this.ensured) if (k.startsWith(`${bucketId}:`)) this.ensured.delete(k);
  }

  /**
   * StandardClass targets: 3 distinct active backends over ≥ 2 regions. Healthy ones
   * first; when fewer than 3 are healthy, unhealthy ones fill the set so the write can
   * still reach quorum and the missing copy is replicated when that backend returns.
   */
  private choose(): { targets: LiveBackend[]; writeQuorum: number } {
    const active = this.d.backends.all().filter((b) => b.row.state === 'active');
    const view = (pretendHealthy: boolean) =>
      active.map((b) => ({ id: b.row.id, region: b.row.region, healthy: pretendHealthy || b.healthy, state: b.row.state, rttMs: b.healthy ? b.rttMs : null }));
    let placed = placeStandard(view(false));
    if (!placed.ok) placed = placeStandard(view(true));
    if (!placed.ok) throw new CodedError('ServiceUnavailable', `No compliant placement: ${placed.reasons.join('; ')}`);
    const targets = placed.targets.map((id) => this.d.backends.get(id)!);
    const healthy = targets.filter((t) => t.healthy).length;
    if (healthy < placed.writeQuorum) {
      throw new CodedError('ServiceUnavailable', `Only ${healthy} of the ${targets.length} placement targets are reachable; a write needs ${placed.writeQuorum}`);
    }
    return { targets, writeQuorum: placed.writeQuorum };
  }

  /** Stream one chunk to its targets with a write quorum. Nothing is visible until the caller commits metadata. */
  async writeChunk(opts: { tenantId: string; bucket: BucketRow; source: Readable; size: number; checksums: ChecksumAlgorithm[]; signal?: AbortSignal }): Promise<WrittenChunk> {
    const { targets, writeQuorum } = this.choose();
    const chunkId = randomUUID();
    const key = physicalKey(chunkId);
    // Each target's physical bucket, or why it could not be made sure of (for the 503's log line).
    const ensured = await Promise.all(
      targets.map((t) =>
        this.ensurePhysicalBucket(opts.bucket, opts.tenantId, t).then(
          (name) => ({ name, error: '' }),
          (err: unknown) => ({ name: null, error: `bucket not reachable: ${describeError(err)}` }),
        ),
      ),
    );
    const blobs = targets.map((t, i) => ({ backendId: t.row.id, physicalBucket: ensured[i].name ?? this.physicalBucket(opts.tenantId, opts.bucket.name, t), physicalKey: key }));
    await this.d.store.beginChunk({ chunkId, bucketId: opts.bucket.id, blobs });
    // The commit's deadline on the server counts from here (SealedChunk.begunAtMs): after the
    // begin's answer, so after the server stamped the chunk's created_at, however late the begin
    // ran (it may wait for a pool connection, or in the network).
    const begunAtMs = performance.now();
    const live = targets.filter((_, i) => ensured[i].name !== null);
    const unreachable = targets.flatMap((t, i) => (ensured[i].name === null ? [{ backendId: t.row.id, error: ensured[i].error }] : []));
    const preFailed = unreachable.map((u) => u.backendId);
    const lease = this.leaseChunk(chunkId, opts.signal);
    let result;
    try {
      if (live.length < writeQuorum) {
        opts.source.resume();
        throw new QuorumError(`only ${live.length} targets reachable`, unreachable);
      }
      result = await quorumWrite({
        source: opts.source,
        size: opts.size,
        targets: live.map((t) => ({ backendId: t.row.id, backend: t.driver, loc: { bucket: blobs[targets.indexOf(t)].physicalBucket, key } as BlobLocator })),
        writeQuorum,
        checksums: opts.checksums,
        timeoutMs: this.d.timeoutMs,
        signal: lease.signal,
      });
    } catch (err) {
      // The writer already tried to delete what it wrote; this makes sure. A blob on a backend
      // that cannot be reached right now stays on the doomed list for the GC; if PostgreSQL
      // cannot be reached, the chunk row stays, garbage the GC collects after the grace period.
      await this.removeChunk(chunkId).catch(() => {});
      // A failed target may have lost its physical bucket (a wiped backend): check it again next time.
      for (const t of targets) this.ensured.delete(`${opts.bucket.id}:${t.row.id}`);
      if (err instanceof QuorumError) {
        this.d.log.warn({ chunkId, failed: err.failed }, 'write quorum not reached');
        throw new CodedError('ServiceUnavailable', 'The write could not reach its quorum of backends; nothing was stored');
      }
      throw err;
    } finally {
      // The commit follows at once; the last renewal left it most of the grace period.
      lease.stop();
    }
    // A failed target may have lost its physical bucket (a backend wiped and restarted): check again next time.
    for (const f of result.failed) this.ensured.delete(`${opts.bucket.id}:${f.backendId}`);
    // The last copy usually lands within milliseconds of the quorum: give it a short grace so
    // its state goes into the same commit instead of a transaction of its own. A slow or hung
    // target is still left behind after the grace, so the answer still comes at W.
    const late = await Promise.race([result.stragglers, new Promise<null>((r) => setTimeout(() => r(null), STRAGGLER_GRACE_MS))]);
    const states = new Map<string, BlobState>();
    for (const t of targets) states.set(t.row.id, 'writing');
    for (const id of result.acked) states.set(id, 'ok');
    for (const f of result.failed) states.set(f.backendId, 'missing');
    for (const id of preFailed) states.set(id, 'missing');
    for (const o of late ?? []) states.set(o.backendId, o.ok ? 'ok' : 'missing');
    const sealed: SealedChunk = {
      chunkId,
      size: result.size,
      md5: result.md5,
      crc32c: result.crc32c,
      checksums: result.checksums,
      blobStates: [...states].map(([backendId, state]) => ({ backendId, state })),
      begunAtMs,
    };
    const settle = (committed: boolean) => {
      void result.stragglers.then(async () => {
        if (!committed) {
          await this.removeChunk(chunkId).catch((e) => this.d.log.warn({ chunkId, err: (e as Error).message }, 'cleanup of an uncommitted chunk failed; GC will retry'));
          return;
        }
        let repair = result.failed.length > 0 || preFailed.length > 0 || (late ?? []).some((o) => !o.ok);
        if (late === null) {
          for (const o of await result.stragglers) {
            await this.d.store.setBlobState(chunkId, o.backendId, o.ok ? 'ok' : 'missing').catch(() => {});
            if (!o.ok) repair = true;
          }
        }
        if (repair) await this.d.enqueueRepair(chunkId).catch((e) => this.d.log.error({ chunkId, err: (e as Error).message }, 'could not enqueue repair; the healer will find it'));
      });
    };
    const commit = async <T>(fn: (sealed: SealedChunk) => Promise<T>): Promise<T> => {
      let committed = false;
      try {
        const out = await fn(sealed);
        committed = true;
        return out;
      } catch (err) {
        throw await this.whyNotCommitted(chunkId, err);
      } finally {
        settle(committed);
      }
    };
    return { sealed, md5: result.md5, checksums: result.checksums, settle, commit };
  }

  /** A commit's NotFound for a chunk the GC removed meanwhile becomes a 503; anything else stays as it is. */
  private async whyNotCommitted(chunkId: string, err: unknown): Promise<unknown> {
    if (!(err instanceof MetadataError) || err.code !== 'NotFound') return err;
    if ((await this.d.store.getChunk(chunkId).catch(() => undefined)) !== null) return err;
    this.d.log.warn({ chunkId }, 'a write stalled for longer than the GC grace period before its commit; its chunk was removed');
    return chunkRemoved();
  }

  /**
   * Renew the grace period of a chunk being written (renewChunk) every sixth of the GC's grace,
   * for as long as its bytes stream. The returned signal aborts the write, with 503, when the
   * chunk is found removed (the writer stalled for longer than the grace period), or when
   * `signal` does.
   */
  private leaseChunk(chunkId: string, signal?: AbortSignal): { signal: AbortSignal; stop(): void } {
    const lost = new AbortController();
    const t = setInterval(
      () => {
        this.d.store.renewChunk(chunkId).then(
          (held) => {
            if (!held) lost.abort(chunkRemoved());
          },
          (e: Error) => this.d.log.warn({ chunkId, err: e.message }, 'could not renew a chunk being written; will retry'),
        );
      },
      Math.max(100, Math.floor(this.d.gcGraceMs / 6)),
    );
    t.unref();
    return { signal: signal ? AbortSignal.any([signal, lost.signal]) : lost.signal, stop: () => clearInterval(t) };
  }

  /** Replicas of a chunk in read order: 'ok' blobs on healthy backends first, lowest RTT first. */
  private readOrder(chunk: ChunkRow): Replica[] {
    const live = new Map(this.d.backends.all().map((b) => [b.row.id, b]));
    return placeForRead(chunk.blobs, live)
      .filter((b) => live.has(b.backendId))
      .map((b) => ({ backend: live.get(b.backendId)!, loc: { bucket: b.physicalBucket, key: b.physicalKey } }));
  }

  /** One replica's answer for a chunk (or a range of it); the deadline covers the response headers only. */
  private async openReplica(r: Replica, range?: ByteRange): Promise<Readable> {
    // A long body that keeps flowing must not be cut off. A backend that stalls mid-body is
    // caught by the driver's own socket-inactivity timeout.
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error(`no response within ${this.d.timeoutMs} ms`)), this.d.timeoutMs);
    try {
      return await r.backend.driver.get(r.loc, range, ctl.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A whole-chunk read is checked against the recorded size and CRC-32C or MD5 (verify.ts); a range
   * is not. Wrong bytes from the one replica read are that replica's; after a resume they may be
   * any of `used()`'s, so each of those is read back whole (as the scrubber does) to find which.
   */
  private checked(stream: Readable, chunk: ChunkRow, used: () => Replica[], range?: ByteRange): Readable {
    if (range !== undefined || this.d.verifyReads === false || !checkable(chunk)) return stream;
    return verifiedRead(stream, chunk, (why) => {
      const replicas = used();
      if (replicas.length === 1) return this.reportBadReplica(chunk.id, replicas[0].backend, 'corrupt', why, 'read');
      this.d.log.warn({ chunkId: chunk.id, why, backends: replicas.map((r) => r.backend.row.name) }, 'a resumed read got wrong bytes; checking each replica it read');
      const check = async () => {
        for (const r of replicas) {
          const c = { chunkId: chunk.id, backendId: r.backend.row.id, physicalBucket: r.loc.bucket, physicalKey: r.loc.key, size: chunk.size, md5: chunk.md5, crc32c: chunk.crc32c };
          await this.verifyReplica(c, 'read');
        }
      };
      check().catch((e: Error) => this.d.log.error({ chunkId: chunk.id, err: e.message }, 'could not check the replicas of a resumed read; the scrubber will'));
      return undefined;
    });
  }

  /**
   * A replica that answered with other bytes than were stored ('corrupt') or that lost
   * them ('missing') is no longer read, and its chunk goes to the repair queue.
   */
  async reportBadReplica(chunkId: string, backend: LiveBackend, state: 'corrupt' | 'missing', why: string, foundBy: FoundBy): Promise<void> {
    this.d.log.warn({ chunkId, backend: backend.row.name, state, why, foundBy }, 'replica is bad; marked for repair');
    integrity.badReplica(state, foundBy, backend.row.name);
    try {
      await this.d.store.setBlobState(chunkId, backend.row.id, state);
      await this.d.enqueueRepair(chunkId);
    } catch (e) {
      this.d.log.error({ chunkId, err: (e as Error).message }, 'could not mark a bad replica; the scrubber will find it again');
    }
  }

  /** A replica whose provider no longer has a blob it acknowledged has lost it: 'missing'. */
  private async noteFailedRead(chunk: ChunkRow, backend: LiveBackend, err: unknown): Promise<void> {
    if (err instanceof BlobNotFoundError) await this.reportBadReplica(chunk.id, backend, 'missing', err.message, 'read');
  }

  /**
   * Open one chunk (or a range of it), failing over between replicas before the first byte and
   * resuming on the next replica, from the first byte not yet sent, when a body breaks off
   * (resume.ts). A whole chunk is verified while it streams: a replica with wrong bytes makes
   * the stream fail before its last piece (and is marked corrupt), never a complete wrong answer.
   */
  async openChunk(chunk: ChunkRow, range?: ByteRange): Promise<Readable> {
    // One queue of replicas in read order serves the first open and every resume: a replica
    // is tried once per read.
    const queue = this.readOrder(chunk);
    const used: Replica[] = [];
    const errors: string[] = [];
    const start = range?.start ?? 0;
    const end = range?.end ?? chunk.size - 1;
    /** Bytes [from, end] from the next replica that answers; null when none is left. */
    const openNext = async (from: number): Promise<Readable | null> => {
      for (let r = queue.shift(); r; r = queue.shift()) {
        try {
          const stream = await this.openReplica(r, from === 0 && range === undefined ? undefined : { start: from, end });
          used.push(r);
          return stream;
        } catch (e) {
          await this.noteFailedRead(chunk, r.backend, e);
          errors.push(`${r.backend.row.name}: ${(e as Error).message}`);
        }
      }
      return null;
    };
    const first = await openNext(start);
    if (first === null) {
      this.d.log.warn({ chunkId: chunk.id, errors }, 'no replica could serve a read');
      throw new CodedError('ServiceUnavailable', 'No replica of this object is reachable right now');
    }
    const resume = async (offset: number, why: Error): Promise<Readable> => {
      const from = used[used.length - 1].backend;
      const next = await openNext(start + offset);
      const log = { chunkId: chunk.id, from: from.row.name, offset: start + offset, err: why.message };
      if (next === null) {
        this.d.log.warn({ ...log, errors }, 'a replica broke off mid-read and no other could take over');
        throw why;
      }
      this.d.log.warn({ ...log, to: used[used.length - 1].backend.row.name }, 'a replica broke off mid-read; resumed on another');
      integrity.readResumed(from.row.name);
      return next;
    };
    // Wrong length: the replica streaming now has a copy longer or shorter than was written.
    const wrongLength = (why: string) => void this.reportBadReplica(chunk.id, used[used.length - 1].backend, 'corrupt', why, 'read');
    return this.checked(new ResumingRead(first, end - start + 1, resume, wrongLength), chunk, () => used, range);
  }

  /** One chunk (or a range of it) read whole; any failure, wrong bytes included, moves on to the next replica. */
  private async readChunk(chunk: ChunkRow, range?: ByteRange): Promise<Buffer> {
    const expected = range ? range.end - range.start + 1 : chunk.size;
    const errors: string[] = [];
    for (const r of this.readOrder(chunk)) {
      try {
        const bytes = await buffer(await this.openReplica(r, range));
        // Whole and small: checked in one call once read, no stream stage needed.
        const wrong = range === undefined && this.d.verifyReads !== false && checkable(chunk) ? mismatchOf(bytes, chunk) : null;
        if (wrong !== null) {
          await this.reportBadReplica(chunk.id, r.backend, 'corrupt', wrong, 'read');
          throw new ReplicaMismatchError(wrong);
        }
        if (bytes.length !== expected) throw new Error(`answered ${bytes.length} of ${expected} bytes`);
        return bytes;
      } catch (e) {
        await this.noteFailedRead(chunk, r.backend, e);
        errors.push(`${r.backend.row.name}: ${(e as Error).message}`);
      }
    }
    this.d.log.warn({ chunkId: chunk.id, errors }, 'no replica could serve a read');
    throw new CodedError('ServiceUnavailable', 'No replica of this object is reachable right now');
  }

  private static pieces(parts: VersionPart[], range?: ByteRange): { chunk: ChunkRow; range?: ByteRange }[] {
    const total = parts.reduce((n, p) => n + p.size, 0);
    const start = range?.start ?? 0;
    const end = range?.end ?? total - 1;
    return parts
      .filter((p) => p.size > 0 && p.offset <= end && p.offset + p.size - 1 >= start)
      .map((p) => {
        const r = { start: Math.max(0, start - p.offset), end: Math.min(p.size - 1, end - p.offset) };
        return { chunk: p.chunk, range: r.start === 0 && r.end === p.chunk.size - 1 ? undefined : r };
      });
  }

  /**
   * A stream of bytes [range.start, range.end] of an object made of `parts`.
   * The first part is opened before this resolves, so a read that cannot be served
   * fails cleanly before any response header is sent.
   */
  async openObject(parts: VersionPart[], range?: ByteRange): Promise<Readable> {
    const pieces = DataPlane.pieces(parts, range);
    if (pieces.length === 0) return Readable.from([]);
    const first = await this.openChunk(pieces[0].chunk, pieces[0].range);
    if (pieces.length === 1) return first;
    const open = (i: number) => this.openChunk(pieces[i].chunk, pieces[i].range);
    async function* all(): AsyncGenerator<Buffer> {
      for (let i = 0; i < pieces.length; i++) yield* i === 0 ? first : await open(i);
    }
    return Readable.from(all(), { objectMode: false });
  }

  /**
   * The same bytes as openObject, read whole before anything is answered (small bodies):
   * every piece can then fail over to another replica at any point of its read.
   */
  async readObject(parts: VersionPart[], range?: ByteRange): Promise<Buffer> {
    const out: Buffer[] = [];
    for (const p of DataPlane.pieces(parts, range)) out.push(await this.readChunk(p.chunk, p.range));
    return Buffer.concat(out);
  }

  /**
   * Read one replica back whole and compare it with the chunk's recorded size and CRC-32C (or MD5)
   * (the scrubber, or a resumed read that got wrong bytes: `foundBy`). 'unreachable' is a backend
   * that did not answer: nothing is known then.
   */
  async verifyReplica(c: ScrubCandidate, foundBy: FoundBy = 'scrub'): Promise<'ok' | 'corrupt' | 'missing' | 'unreachable'> {
    const backend = this.d.backends.get(c.backendId);
    if (!backend) return 'unreachable';
    let mismatch: string | null = null;
    try {
      const stream = await this.openReplica({ backend, loc: { bucket: c.physicalBucket, key: c.physicalKey } });
      // Read and drop: only the digest is kept, whatever the size.
      for await (const _piece of verifiedRead(stream, c, (why) => (mismatch = why))) void _piece;
      return 'ok';
    } catch (e) {
      if (e instanceof BlobNotFoundError) {
        await this.reportBadReplica(c.chunkId, backend, 'missing', (e as Error).message, foundBy);
        return 'missing';
      }
      if (mismatch !== null) {
        await this.reportBadReplica(c.chunkId, backend, 'corrupt', mismatch, foundBy);
        return 'corrupt';
      }
      this.d.log.debug({ chunkId: c.chunkId, backend: backend.row.name, err: (e as Error).message }, `${foundBy}: replica unreachable`);
      return 'unreachable';
    }
  }

  /**
   * Remove an unreferenced chunk: first its rows, for good (doomChunk: the blobs go on the doomed
   * list, and nothing can reference the chunk any more), then its blobs on the backends. `graceMs`
   * (the GC): only a chunk unreferenced and created at least that long ago; null (a failed write
   * cleaning up after itself): any unreferenced one. False when the chunk is referenced and stays,
   * which a write whose commit took effect although its answer was lost finds here. Blobs on a
   * backend that cannot be reached stay on the doomed list for the GC's next round.
   */
  async removeChunk(chunkId: string, graceMs: number | null = null): Promise<boolean> {
    const doomed = await this.d.store.doomChunk(chunkId, graceMs);
    if (doomed === null) return false;
    await this.deleteDoomed(doomed);
    return true;
  }

  /**
   * Delete doomed blobs from their backends; returns how many are gone. One that could not be
   * deleted (its backend is away, or not loaded here) stays listed, behind the others.
   */
  async deleteDoomed(blobs: DoomedBlob[]): Promise<number> {
    const done = await Promise.all(
      blobs.map(async (b) => {
        const backend = this.d.backends.get(b.backendId);
        let deleted = false;
        try {
          if (backend) {
            await backend.driver.delete({ bucket: b.physicalBucket, key: b.physicalKey }, AbortSignal.timeout(this.d.timeoutMs));
            deleted = true;
          }
        } catch (e) {
          this.d.log.debug({ chunkId: b.chunkId, backend: backend?.row.name, err: (e as Error).message }, 'doomed blob not deleted yet');
        }
        await this.d.store.settleDoomedBlob(b, deleted);
        return deleted;
      }),
    );
    return done.filter(Boolean).length;
  }
}

export function createDataPlane(deps: DataPlaneDeps): DataPlane {
  return new DataPlane(deps);
}
