// A StorageBackend on any S3-compatible endpoint, through @aws-sdk/client-s3.
//
// What we make the SDK send, and why (design/MACHINE.md, "S3 servers"):
// - Plain, length-known bodies: `Content-Length: size`, `x-amz-content-sha256:
//   UNSIGNED-PAYLOAD`, no `Content-Encoding: aws-chunked`. s3rver stores aws-chunked
//   framing inside the object and Ceph RGW refuses streaming trailers, so the flexible
//   checksum feature is limited to operations that require it
//   (requestChecksumCalculation 'WHEN_REQUIRED') and a middleware refuses to send any
//   aws-chunked request. The SDK pipes a stream body straight to the socket, so a
//   256 MiB blob costs no more than the socket's buffers.
// - No `Expect: 100-continue`: with it, @smithy/node-http-handler uses a fresh
//   non-keep-alive agent per request and waits for the interim response — an extra
//   round trip and a new TCP connection for every large PUT.
// - maxAttempts 1: the quorum writer and the workers decide about retries; a hidden
//   SDK retry would re-read a body stream that is already consumed.
// - Timeouts: a backend whose process is stopped (SIGSTOP) still completes the TCP
//   handshake from the kernel backlog and then says nothing. connectionTimeout covers a
//   dead host, socketTimeout (socket inactivity) a silent one, and every call here also
//   carries its own deadline (or, for PUT, an inactivity watchdog) so that no promise
//   can outlive `timeoutMs` of silence.
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { pipeline, type Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { BlobNotFoundError, type BackendHealth, type BlobLocator, type ByteRange, type StorageBackend } from '../types.ts';
import { BackendTimeoutError, describeError, InvalidLocatorError } from '../errors.ts';
import { ExactLength } from './exact-length.ts';
import { exactRangeBody } from './range-body.ts';

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

/** Refuse, loudly, any request the SDK would send with aws-chunked framing (see header comment). */
const plainPayloadGuard =
  (next: (args: any) => Promise<any>) =>
  async (args: any): Promise<any> => {
    const headers: Record<string, string> = args.request?.headers ?? {};
    for (const [k, v] of Object.entries(headers)) {
      const name = k.toLowerCase();
      if (
        (name === 'content-encoding' && String(v).includes('aws-chunked')) ||
        name === 'x-amz-decoded-content-length' ||
        name === 'x-amz-trailer'
      ) {
        throw new Error(`refusing to send an aws-chunked request (${name}: ${v}); backends need plain length-known bodies`);
      }
    }
    return next(args);
  };

/** A stream body is never hashed by the signer; say so explicitly instead of relying on the default. */
const unsignedStreamPayload =
  (next: (args: any) => Promise<any>) =>
  async (args: any): Promise<any> => {
    const req = args.request;
    if (req?.body && typeof req.body.pipe === 'function' && req.headers) {
      req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    }
    return next(args);
  };

class S3Backend implements StorageBackend {
  readonly name: string;
  private readonly client: S3Client;
  private readonly region: string;
  private readonly timeoutMs: number;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(opts: S3BackendOptions) {
    this.name = opts.name;
    this.region = opts.region;
    this.timeoutMs = opts.timeoutMs;
    const maxSockets = opts.maxSockets ?? 64;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets });
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      forcePathStyle: opts.forcePathStyle ?? true,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
      expectContinueHeader: false,
      // The SDK prints a console warning for every failed streaming request when it has
      // no logger; failures reach the caller as errors, so that line is only noise.
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
      requestHandler: {
        httpAgent: this.httpAgent,
        httpsAgent: this.httpsAgent,
        connectionTimeout: opts.timeoutMs,
        socketTimeout: opts.timeoutMs,
      },
    });
    this.client.middlewareStack.add(unsignedStreamPayload, { step: 'build', name: 'fedgateUnsignedStreamPayload' });
    this.client.middlewareStack.add(plainPayloadGuard, { step: 'finalizeRequest', priority: 'low', name: 'fedgatePlainPayloadGuard' });
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

  async ensureBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.call('HeadBucket', signal, (s) => this.client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: s }));
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    // us-east-1 is the one region that must not be named in CreateBucketConfiguration
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html).
    const cfg = this.region && this.region !== 'us-east-1' ? { LocationConstraint: this.region as BucketLocationConstraint } : undefined;
    try {
      await this.call('CreateBucket', signal, (s) =>
        this.client.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: cfg }), { abortSignal: s }),
      );
    } catch (err) {
      const n = errName(err);
      if (n === 'BucketAlreadyOwnedByYou') return;
      // BucketAlreadyExists is also what some servers answer to their own bucket under a
      // race; a HeadBucket that succeeds proves it is ours (a foreign one answers 403).
      if (n === 'BucketAlreadyExists') {
        await this.call('HeadBucket', signal, (s) => this.client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: s }));
        return;
      }
      throw err;
    }
  }

  async deleteBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.call('DeleteBucket', signal, (s) => this.client.send(new DeleteBucketCommand({ Bucket: bucket }), { abortSignal: s }));
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
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(new BackendTimeoutError(this.name, 'PutObject', this.timeoutMs)), this.timeoutMs);
    };
    guard.onProgress = arm;
    arm();
    // pipeline (unlike pipe) forwards a source error into the guard, and the guard's
    // error reaches `fail`, which aborts the HTTP request: the server sees fewer than
    // Content-Length bytes, and a compliant one stores nothing (for the others, see
    // the cleanup below).
    pipeline(body, guard, (err) => {
      if (err) fail(err);
    });
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: guard, ContentLength: size, ContentType: 'application/octet-stream' }),
        { abortSignal: ctl.signal },
      );
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
      const out = await this.call('GetObject', signal, (s) =>
        this.client.send(
          new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
          { abortSignal: s },
        ),
      );
      const body = out.Body as Readable;
      return range ? exactRangeBody(body, range, out.ContentRange, out.ContentLength) : body;
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(loc, this.name);
      if (errName(err) === 'InvalidRange' || status(err) === 416) throw new RangeError(`range ${range?.start}-${range?.end} not satisfiable`);
      throw err;
    }
  }

  async head(loc: BlobLocator, signal?: AbortSignal): Promise<{ size: number } | null> {
    checkLocator(loc);
    try {
      const out = await this.call('HeadObject', signal, (s) =>
        this.client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: s }),
      );
      return { size: out.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async delete(loc: BlobLocator, signal?: AbortSignal): Promise<void> {
    checkLocator(loc);
    try {
      await this.call('DeleteObject', signal, (s) =>
        this.client.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: s }),
      );
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
        out = await this.call('ListObjectsV2', signal, (s) =>
          this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }), {
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
      await this.call('ListBuckets', signal, (s) => this.client.send(new ListBucketsCommand({}), { abortSignal: s }));
      return { ok: true, rttMs: performance.now() - t0 };
    } catch (err) {
      return { ok: false, rttMs: performance.now() - t0, error: describeError(err) };
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

export function createS3Backend(opts: S3BackendOptions): StorageBackend {
  if (!opts.endpoint) throw new Error(`s3 backend ${opts.name} needs an endpoint`);
  if (!(opts.timeoutMs > 0)) throw new Error(`s3 backend ${opts.name} needs a positive timeoutMs`);
  return new S3Backend(opts);
}
