// The s3 driver's requests — GetObject, PutObject, HeadObject, DeleteObject, and the bucket
// calls HeadBucket, CreateBucket, DeleteBucket, ListBuckets — as plain HTTP requests signed
// by the SDK's own SigV4 signer (@smithy/signature-v4).
//
// Why not S3Client.send for these: every blob read or write is one of these four calls,
// and the client's middleware stack (endpoint rules, schema serde, retry bookkeeping)
// costs ~1.2 ms of CPU per call, against ~0.35 ms for the same signed request sent
// directly (measured against s3rver on the benchmark machine). A small PUT costs three
// backend calls, so the stack was most of the gateway's CPU per request. Loading the
// client also costs ~33 MiB of resident memory, so only the rare listing (ListObjectsV2,
// with its pagination and XML) still uses S3Client, imported on first use.
//
// What goes on the wire is what the SDK sent for us before (see s3.ts): path-style (or
// virtual-host) URLs, `x-amz-content-sha256: UNSIGNED-PAYLOAD` with a plain, length-known
// stream body for PUT (a Buffer body is signed with its SHA-256), the empty-payload hash for
// the others, no Expect, keep-alive sockets.
//
// Stale keep-alive sockets: a server closes an idle connection when it likes (Node's server
// after 5 s, announced as `Keep-Alive: timeout=5`), and a request written just as it does
// fails with ECONNRESET ("socket hang up") or EPIPE. The driver's agents drop idle sockets
// first (IDLE_SOCKET_MS, as http1-get.ts does); and a request that still fails that way on a reused socket,
// before any answer, is sent once more on a new connection when its body can be sent again
// (none, or a Buffer). Without both, 32 PUTs after ~5 s of quiet each found two or three of
// their backends' sockets closed under them, and answered 503 (issue #2's notes).
import { createHash, type Hash, type Hmac } from 'node:crypto';
import { hmacSha256 } from '../../checksums/index.ts';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { parseXmlDocument, type XmlElement } from '../../xml/parse.ts';
import { Http1GetPool } from './http1-get.ts';

/** An S3 error answer, shaped like the SDK's (name / Code / $metadata) so callers treat both alike. */
export class S3WireError extends Error {
  readonly Code: string;
  readonly $metadata: { httpStatusCode: number };
  constructor(code: string, statusCode: number, message: string) {
    super(message || code);
    this.name = code;
    this.Code = code;
    this.$metadata = { httpStatusCode: statusCode };
  }
}

/** A request broke on a reused keep-alive socket before any answer came back (the server had closed it). */
class StaleSocketError extends Error {
  override readonly cause: Error;
  constructor(cause: Error) {
    super(cause.message);
    this.cause = cause;
  }
}

/** node:crypto in the shape @smithy/signature-v4 asks for (what @smithy/hash-node does). */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

class NodeSha256 {
  private readonly secret: string | Uint8Array | undefined;
  private h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytes(secret);
    this.h = this.secret === undefined ? createHash('sha256') : hmacSha256(this.secret);
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
  reset(): void {
    this.h = this.secret === undefined ? createHash('sha256') : hmacSha256(this.secret);
  }
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** RFC 3986 encoding of an object key, '/' kept (S3's URI encoding of the path). */
function encodeKey(key: string): string {
  return key
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

export interface S3WireOptions {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
  /** Socket inactivity after which the request (and a streaming response body) fails. */
  timeoutMs: number;
  /** The error a silent socket turns into. */
  onTimeout: (what: string) => Error;
}

export interface WireRequest {
  method: 'GET' | 'PUT' | 'HEAD' | 'DELETE';
  /** '' addresses the service (ListBuckets). */
  bucket: string;
  /** '' addresses the bucket itself. */
  key: string;
  headers?: Record<string, string>;
  /** PUT only: a stream of exactly `contentLength` bytes (sent unsigned), or a small signed document. */
  body?: Readable | Buffer;
  contentLength?: number;
  signal: AbortSignal;
  what: string;
}

/** A GET's answer: status, headers (lower-case names), and the body still streaming. */
export interface WireGetResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

export class S3Wire {
  private readonly o: S3WireOptions;
  private readonly url: URL;
  private readonly signer: SignatureV4;
  /** Object GETs on plain-HTTP endpoints (http1-get.ts); null for https. */
  private readonly getPool: Http1GetPool | null;

  constructor(o: S3WireOptions) {
    this.o = o;
    this.url = new URL(o.endpoint);
    this.getPool =
      this.url.protocol === 'http:'
        ? new Http1GetPool({ host: this.url.hostname.replace(/^\[|\]$/g, ''), port: Number(this.url.port || 80), timeoutMs: o.timeoutMs, onTimeout: () => o.onTimeout('GetObject') })
        : null;
    this.signer = new SignatureV4({
      service: 's3',
      region: o.region || 'us-east-1',
      credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
      sha256: NodeSha256,
      // S3 signs the path as sent (already encoded once), like the SDK's S3 client does.
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  /**
   * Send one request. A 2xx answer resolves with the response (its body still to be read
   * or discarded by the caller); anything else rejects with S3WireError after reading the
   * (small) error body.
   */
  async send(r: WireRequest): Promise<http.IncomingMessage> {
    const { path, headers } = await this.sign(r);
    r.signal.throwIfAborted();
    return this.request(r, path, headers);
  }

  /**
   * GetObject: like send(), but on a plain-HTTP endpoint the answer is read by http1-get.ts
   * (large socket reads, no copies), which costs the gateway less CPU per GiB than node:http's
   * client (docs/ARCHITECTURE.md, "Backend drivers"). A 2xx resolves with the body streaming;
   * anything else rejects with S3WireError.
   */
  async get(r: Omit<WireRequest, 'method' | 'body' | 'contentLength'>): Promise<WireGetResponse> {
    const req: WireRequest = { ...r, method: 'GET' };
    if (!this.getPool) {
      const res = await this.send(req);
      return { statusCode: res.statusCode ?? 0, headers: res.headers, body: res };
    }
    const { path, headers } = await this.sign(req);
    r.signal.throwIfAborted();
    const res = await this.getPool.get(path, headers, r.signal);
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    throw await readError(res.statusCode, res.body, false);
  }

  close(): void {
    this.getPool?.close();
  }

  private async sign(r: WireRequest): Promise<{ path: string; headers: Record<string, string> }> {
    const base = this.url.pathname.replace(/\/+$/, '');
    const pathStyle = this.o.forcePathStyle || r.bucket === '';
    const hostname = pathStyle ? this.url.hostname : `${r.bucket}.${this.url.hostname}`;
    const object = r.key === '' ? '' : `/${encodeKey(r.key)}`;
    const path = (pathStyle ? `${base}${r.bucket === '' ? '' : `/${r.bucket}`}${object}` : `${base}${object}`) || '/';
    const host = this.url.port ? `${hostname}:${this.url.port}` : hostname;
    const document = Buffer.isBuffer(r.body) ? r.body : null;
    const headers: Record<string, string> = {
      host,
      'x-amz-content-sha256': document ? createHash('sha256').update(document).digest('hex') : r.body ? 'UNSIGNED-PAYLOAD' : EMPTY_SHA256,
      ...r.headers,
    };
    const length = document ? document.length : r.contentLength;
    if (length !== undefined) headers['content-length'] = String(length);
    const signed = await this.signer.sign({
      method: r.method,
      protocol: this.url.protocol,
      hostname,
      port: this.url.port ? Number(this.url.port) : undefined,
      path,
      query: {},
      headers,
    });
    return { path, headers: signed.headers };
  }

  private async request(r: WireRequest, path: string, headers: Record<string, string>): Promise<http.IncomingMessage> {
    const replayable = r.body === undefined || Buffer.isBuffer(r.body);
    try {
      return await this.attempt(r, path, headers, true);
    } catch (err) {
      if (!(err instanceof StaleSocketError)) throw err;
      if (!replayable || r.signal.aborted) throw err.cause;
      // A new connection (no agent): the pool may hold more sockets the server closed at the same moment.
      return this.attempt(r, path, headers, false);
    }
  }

  private attempt(r: WireRequest, path: string, headers: Record<string, string>, pooled: boolean): Promise<http.IncomingMessage> {
    const secure = this.url.protocol === 'https:';
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = (secure ? https : http).request({
        method: r.method,
        // Virtual-host style too connects to the endpoint; the bucket is named in Host.
        hostname: this.url.hostname,
        port: this.url.port || (secure ? 443 : 80),
        path,
        headers,
        agent: pooled ? (secure ? this.o.httpsAgent : this.o.httpAgent) : false,
        signal: r.signal,
      });
      let answered = false;
      // Socket inactivity, for the request and for a response body that stops mid-stream.
      req.setTimeout(this.o.timeoutMs, () => req.destroy(this.o.onTimeout(r.what)));
      req.once('error', (err: NodeJS.ErrnoException) => {
        if (r.signal.aborted) reject(r.signal.reason ?? err);
        else if (pooled && req.reusedSocket && !answered && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) reject(new StaleSocketError(err));
        else reject(err);
      });
      req.once('response', (res) => {
        answered = true;
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolve(res);
          return;
        }
        readError(status, res, r.method === 'HEAD').then(reject, reject);
      });
      if (r.body && !Buffer.isBuffer(r.body)) {
        const body = r.body;
        body.once('error', (err) => req.destroy(err));
        body.pipe(req);
      } else {
        req.end(r.body);
      }
    });
  }
}

/** The S3 error document's Code and Message (HEAD answers have no body: the status decides). */
async function readError(status: number, res: Readable, head: boolean): Promise<S3WireError> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    // An error document is small; anything past 64 KiB is not one and is not kept.
    if (size < 64 * 1024) chunks.push(c);
    size += c.length;
  }
  let doc: XmlElement | undefined;
  try {
    doc = head || size === 0 || size > 64 * 1024 ? undefined : parseXmlDocument(Buffer.concat(chunks));
  } catch {
    // Not XML (a proxy's HTML page, say): the status decides.
  }
  const field = (name: string) => (doc?.name === 'Error' ? doc.children.find((c) => c.name === name)?.text : undefined);
  const code = field('Code') || (status === 404 ? 'NotFound' : status === 416 ? 'InvalidRange' : `Http${status}`);
  return new S3WireError(code, status, field('Message') || `HTTP ${status}`);
}
