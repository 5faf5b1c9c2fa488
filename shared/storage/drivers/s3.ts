// A StorageBackend on any S3-compatible endpoint. Requests go out signed by the SDK's
// SigV4 signer as plain HTTP (s3-wire.ts); listings use @aws-sdk/client-s3, loaded on
// first use.
//
// What goes on the wire, and why (design/MACHINE.md, "S3 servers"):
// - Plain, length-known bodies: `Content-Length: size`, `x-amz-content-sha256:
//   UNSIGNED-PAYLOAD` (a body of up to REPLAYABLE_PUT_MAX bytes, held in memory anyway,
//   is signed with its SHA-256), never `Content-Encoding: aws-chunked` or trailers: s3rver stores
//   aws-chunked framing inside the object and Ceph RGW refuses streaming trailers. A
//   stream body is piped straight to the socket, so a 256 MiB blob costs no more than
//   the socket's buffers.
// - No `Expect: 100-continue`: it costs a round trip per PUT, and with the SDK's handler
//   a fresh non-keep-alive connection as well.
// - No retries here: the quorum writer and the workers decide about retries; a hidden
//   retry would re-read a body stream that is already consumed. The one exception is a
//   request that meets a keep-alive socket the server has just closed (s3-wire.ts): it is
//   sent again on a new connection when its body can be, which is why a PUT of up to
//   REPLAYABLE_PUT_MAX bytes is gathered into a Buffer before it is sent.
// - Idle keep-alive sockets are dropped after IDLE_SOCKET_MS, or a second before the
//   server's `Keep-Alive: timeout` hint if that is sooner (Node's agent applies the hint
//   only when it has a timeout of its own).
// - Timeouts: a backend whose process is stopped (SIGSTOP) still completes the TCP
//   handshake from the kernel backlog and then says nothing. Socket inactivity fails a
//   silent one (also mid-body), and every call here also carries its own deadline (or,
//   for PUT, an inactivity watchdog) so that no promise can outlive `timeoutMs` of silence.
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { pipeline, type Readable } from 'node:stream';
import { BlobNotFoundError, type BackendHealth, type BlobLocator, type ByteRange, type StorageBackend } from '../types.ts';
import { BackendTimeoutError, describeError, InvalidLocatorError } from '../errors.ts';
import { ExactLength } from './exact-length.ts';
import { exactRangeBody } from './range-body.ts';
import { IDLE_SOCKET_MS } from './http1-get.ts';
import { S3Wire } from './s3-wire.ts';

/** PutObject bodies up to this size are gathered first, so a stale socket's failure can be retried. */
const REPLAYABLE_PUT_MAX = 64 * 1024;

const escapeXml = (v: string) => v.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

export interface S3BackendOptions {
  name: string;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Silence after which an operation fails (connect, no response, stalled transfer). */
  timeoutMs: number;
  /** Path-style URLs (`endpoint/bucket/key`); default true, as IP / localhost endpoints need. */
  forcePathStyle?: boolean;
  /** Keep-alive connections per origin; default 64. */
  maxSockets?: number;
}

interface SdkError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function errName(err: unknown): string {
  const e = err as SdkError | null;
  return e?.name ?? e?.Code ?? '';
}

function status(err: unknown): number | undefined {
  return (err as SdkError | null)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  return ['NoSuchKey', 'NotFound', 'NoSuchBucket'].includes(errName(err)) || status(err) === 404;
}

function isNoSuchBucket(err: unknown): boolean {
  return errName(err) === 'NoSuchBucket';
}

function checkLocator(loc: BlobLocator): void {
  if (!loc.bucket || loc.bucket.includes('/') || loc.bucket.includes('\0')) throw new InvalidLocatorError('bucket', loc.bucket);
  if (!loc.key || loc.key.includes('\0')) throw new InvalidLocatorError('key', loc.key);
}

type Sdk = typeof import('@aws-sdk/client-s3');

class S3Backend implements StorageBackend {
  readonly name: string;
  private readonly opts: S3BackendOptions;
  private readonly region: string;
  private readonly timeoutMs: number;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  /** Every call but listings, see s3-wire.ts. */
  private readonly wire: S3Wire;
  /** The SDK client for listings, created (and the SDK loaded) on first use. */
  private client: Promise<{ client: InstanceType<Sdk['S3Client']>; sdk: Sdk }> | null = null;

  constructor(opts: S3BackendOptions) {
    this.name = opts.name;
    this.opts = opts;
    this.region = opts.region;
    this.timeoutMs = opts.timeoutMs;
    const maxSockets = opts.maxSockets ?? 64;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, timeout: IDLE_SOCKET_MS });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, timeout: IDLE_SOCKET_MS });
    this.wire = new S3Wire({
      endpoint: opts.endpoint,
      region: opts.region,
      accessKeyId: opts.accessKeyId,
      secretAccessKey: opts.secretAccessKey,
      forcePathStyle: opts.forcePathStyle ?? true,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      timeoutMs: opts.timeoutMs,
      onTimeout: (what) => new BackendTimeoutError(this.name, what, this.timeoutMs),
    });
  }

  private sdk(): Promise<{ client: InstanceType<Sdk['S3Client']>; sdk: Sdk }> {
    this.client ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      client: new sdk.S3Client({
        endpoint: this.opts.endpoint,
        region: this.opts.region,
        forcePathStyle: this.opts.forcePathStyle ?? true,
        credentials: { accessKeyId: this.opts.accessKeyId, secretAccessKey: this.opts.secretAccessKey },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 1,
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
        requestHandler: { httpAgent: this.httpAgent, httpsAgent: this.httpsAgent, connectionTimeout: this.timeoutMs, socketTimeout: this.timeoutMs },
      }),
    }));
    return this.client;
  }

  /**
   * Run one request under `timeoutMs` and the caller's signal. The deadline ends when
   * the response headers arrive; the caller's signal stays wired to the request, so it
   * can still abort a GET body that is streaming.
   */
  private async call<T>(what: string, signal: AbortSignal | undefined, fn: (s: AbortSignal) => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    const timer = new AbortController();
    const t = setTimeout(() => timer.abort(new BackendTimeoutError(this.name, what, this.timeoutMs)), this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timer.signal]) : timer.signal;
    try {
      return await fn(combined);
    } catch (err) {
      if (combined.aborted) throw combined.reason;
      throw err;
    } finally {
      clearTimeout(t);
    }
  }

  /** A bucket-level call on the wire; its (empty or tiny) answer body is discarded. */
  private async bucketCall(what: string, method: 'HEAD' | 'PUT' | 'DELETE' | 'GET', bucket: string, signal: AbortSignal | undefined, body?: Buffer): Promise<void> {
    const res = await this.call(what, signal, (s) => this.wire.send({ method, bucket, key: '', body, signal: s, what }));
    res.resume();
  }

  async ensureBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.bucketCall('HeadBucket', 'HEAD', bucket, signal);
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    // us-east-1 is the one region that must not be named in CreateBucketConfiguration
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html).
    const cfg =
      this.region && this.region !== 'us-east-1'
        ? Buffer.from(
            `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${escapeXml(this.region)}</LocationConstraint></CreateBucketConfiguration>`,
          )
        : undefined;
    try {
      await this.bucketCall('CreateBucket', 'PUT', bucket, signal, cfg);
    } catch (err) {
      const n = errName(err);
      if (n === 'BucketAlreadyOwnedByYou') return;
      // BucketAlreadyExists is also what some servers answer to their own bucket under a
      // race; a HeadBucket that succeeds proves it is ours (a foreign one answers 403).
      if (n === 'BucketAlreadyExists') {
        await this.bucketCall('HeadBucket', 'HEAD', bucket, signal);
        return;
      }
      throw err;
    }
  }

  async deleteBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.bucketCall('DeleteBucket', 'DELETE', bucket, signal);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  async put(loc: BlobLocator, body: Readable, size: number, signal?: AbortSignal): Promise<void> {
    let guard: ExactLength;
    try {
      checkLocator(loc);
      guard = new ExactLength(size);
      signal?.throwIfAborted();
    } catch (err) {
      body.destroy();
      throw err;
    }
    const ctl = new AbortController();
    let failure: unknown = null;
    const fail = (err: unknown) => {
      failure ??= err;
      ctl.abort(err);
    };
    const onAbort = () => fail(signal?.reason ?? new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    // Inactivity watchdog: re-armed by every chunk, and after the last one it bounds the
    // wait for the server's answer. A slow client upstream also stalls it, which is what
    // any S3 server would do to an idle upload too (RequestTimeout).
    // One timer for the whole put, pushed back with refresh() (a 256 MiB body is 4096 chunks).
    const timer = setTimeout(() => fail(new BackendTimeoutError(this.name, 'PutObject', this.timeoutMs)), this.timeoutMs);
    guard.onProgress = () => timer.refresh();
    // pipeline (unlike pipe) forwards a source error into the guard, and the guard's
    // error reaches `fail`, which aborts the HTTP request: the server sees fewer than
    // Content-Length bytes, and a compliant one stores nothing (for the others, see
    // the cleanup below).
    pipeline(body, guard, (err) => {
      if (err) fail(err);
    });
    try {
      const payload = size <= REPLAYABLE_PUT_MAX ? Buffer.concat(await guard.toArray({ signal: ctl.signal })) : guard;
      const res = await this.wire.send({
        method: 'PUT',
        bucket: loc.bucket,
        key: loc.key,
        headers: { 'content-type': 'application/octet-stream' },
        body: payload,
        contentLength: size,
        signal: ctl.signal,
        what: 'PutObject',
      });
      res.resume();
      if (failure !== null) throw failure;
    } catch (err) {
      // Decide the reported cause before tearing down: destroying the streams below
      // makes the pipeline report a premature close, which is a consequence.
      const reason = failure ?? err;
      guard.destroy();
      body.destroy();
      // Awaited, so the put has not settled — and nobody acts on its failure — until
      // the cleanup is done.
      await this.purge(loc);
      throw reason;
    } finally {
      guard.onProgress = null;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Remove whatever a failed PUT may have left. If every byte went out the server may
   * have committed the blob before we gave up, and some servers keep a truncated
   * object when the connection drops mid-body (s3rver creates the object file when it
   * starts reading, possibly after our DELETE arrived on another connection). So:
   * delete, look again, and repeat a few times, within one timeoutMs overall; a
   * backend that does not answer ends the attempt (GC finds what is left).
   */
  private async purge(loc: BlobLocator): Promise<void> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    for (let round = 1; round <= 3; round++) {
      try {
        await this.delete(loc, deadline);
        await new Promise((r) => setTimeout(r, 20 * round));
        if ((await this.head(loc, deadline)) === null) return;
      } catch {
        return;
      }
    }
  }

  async get(loc: BlobLocator, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    checkLocator(loc);
    if (range && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start)) {
      throw new RangeError(`invalid range ${range.start}-${range.end}`);
    }
    try {
      // The deadline covers the wait for the response headers; afterwards only the
      // caller's signal and the socket inactivity timeout apply to the streaming body.
      const res = await this.call('GetObject', signal, (s) =>
        this.wire.get({
          bucket: loc.bucket,
          key: loc.key,
          headers: range ? { range: `bytes=${range.start}-${range.end}` } : undefined,
          signal: s,
          what: 'GetObject',
        }),
      );
      const contentLength = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
      const contentRange = res.headers['content-range'];
      return range ? exactRangeBody(res.body, range, typeof contentRange === 'string' ? contentRange : undefined, contentLength) : res.body;
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(loc, this.name);
      if (errName(err) === 'InvalidRange' || status(err) === 416) throw new RangeError(`range ${range?.start}-${range?.end} not satisfiable`);
      throw err;
    }
  }

  async head(loc: BlobLocator, signal?: AbortSignal): Promise<{ size: number } | null> {
    checkLocator(loc);
    try {
      const res = await this.call('HeadObject', signal, (s) => this.wire.send({ method: 'HEAD', bucket: loc.bucket, key: loc.key, signal: s, what: 'HeadObject' }));
      res.resume();
      return { size: Number(res.headers['content-length'] ?? 0) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async delete(loc: BlobLocator, signal?: AbortSignal): Promise<void> {
    checkLocator(loc);
    try {
      const res = await this.call('DeleteObject', signal, (s) => this.wire.send({ method: 'DELETE', bucket: loc.bucket, key: loc.key, signal: s, what: 'DeleteObject' }));
      res.resume();
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  async *list(bucket: string, prefix?: string, signal?: AbortSignal): AsyncIterable<{ key: string; size: number }> {
    let token: string | undefined;
    do {
      let out;
      try {
        const { client, sdk } = await this.sdk();
        out = await this.call('ListObjectsV2', signal, (s) =>
          client.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }), {
            abortSignal: s,
          }),
        );
      } catch (err) {
        if (isNoSuchBucket(err)) return;
        throw err;
      }
      for (const o of out.Contents ?? []) {
        if (o.Key !== undefined) yield { key: o.Key, size: o.Size ?? 0 };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async health(signal?: AbortSignal): Promise<BackendHealth> {
    const t0 = performance.now();
    try {
      await this.bucketCall('ListBuckets', 'GET', '', signal);
      return { ok: true, rttMs: performance.now() - t0 };
    } catch (err) {
      return { ok: false, rttMs: performance.now() - t0, error: describeError(err) };
    }
  }

  async close(): Promise<void> {
    if (this.client) (await this.client).client.destroy();
    this.wire.close();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

export function createS3Backend(opts: S3BackendOptions): StorageBackend {
  if (!opts.endpoint) throw new Error(`s3 backend ${opts.name} needs an endpoint`);
  if (!(opts.timeoutMs > 0)) throw new Error(`s3 backend ${opts.name} needs a positive timeoutMs`);
  return new S3Backend(opts);
}
