// GET over plain HTTP/1.1 on raw keep-alive sockets, for the s3 driver's object reads
// (`S3Wire.get`, http: endpoints only; https stays on node:https).
//
// Why not node:http for these: a large GET through the gateway is CPU-bound on a small
// machine (bench/README.md, "Reading the numbers"), and node:http's client spent ~2.5 s of
// CPU per GiB in a process that only forwarded a response body, undici ~1.9, this reader
// ~1.1 with 1 MiB reads (same run, same in-memory origin; numbers in issue #2's notes). In
// the gateway the gain is smaller and noisy (see BIG_SLAB). The difference is how the
// bytes arrive: node:http and undici hand over the kernel's 64 KiB reads one by one through
// their parsers (undici also copies each into WASM memory). Here the socket reads into large
// slabs we own (`net.Socket`'s `onread` with a buffer function): one read takes whatever the
// kernel holds, up to 256 KiB, the body is a view of the slab (no copy), and the framing
// (Content-Length, chunked, or until close) is parsed in place.
//
// What it does not do: TLS, pipelining, request bodies, upgrades. Keep-alive sockets are
// reused LIFO and closed after the server's `Keep-Alive: timeout` hint (less a second) or 4 s;
// a request that fails on a reused socket before any byte of the answer arrived is sent once
// more on a new one (a GET is idempotent; the server may have closed the idle socket just as
// we wrote to it). Active connections are not capped: the gateway's own request concurrency
// bounds them (Go's http.Transport does the same by default).
import net from 'node:net';
import { Readable } from 'node:stream';

/** Largest response head accepted (status line + headers). */
const MAX_HEAD_BYTES = 64 * 1024;
/** Slab for a response's first read (the head and a small body fit); later reads of a large body use BIG_SLAB. */
const SMALL_SLAB = 64 * 1024;
/**
 * 256 KiB, not 1 MiB: in the gateway (A/B, two gateways on the same s3rvers, 256 MiB GETs),
 * 1 MiB slabs came with bursts of V8 major collections (external-memory pressure; ~14 per GET
 * in some repetitions) that made CPU per GiB bimodal, 1.0 or 3+ s. 256 KiB: medians 1.7–1.9
 * s/GiB against 1.9–3.3 for node:http's client; 128 KiB: 2.5.
 */
const BIG_SLAB = 256 * 1024;
/** A slab with less room than this left is replaced before the next read. */
const MIN_READ = 64 * 1024;
/** An idle keep-alive socket is closed after this long, or a second before the server's hint if sooner (s3.ts's agents too). */
export const IDLE_SOCKET_MS = 4000;

export interface Http1Response {
  statusCode: number;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Readable;
}

export interface Http1GetOptions {
  host: string;
  port: number;
  /** Socket silence after which a request (or a body mid-stream) fails. */
  timeoutMs: number;
  onTimeout: () => Error;
  /** Idle keep-alive sockets kept; default 64. */
  maxIdle?: number;
}

/** The server broke HTTP/1.1 framing (or the connection) in a way that is not a timeout. */
export class Http1ProtocolError extends Error {
  readonly code: string;
  constructor(message: string, code = 'HPE_INVALID') {
    super(message);
    this.name = 'Http1ProtocolError';
    this.code = code;
  }
}

/** A failure on a reused socket before any answer: sent again once on a new socket. */
class RetryableError extends Error {
  override readonly cause: Error;
  constructor(cause: Error) {
    super(cause.message);
    this.cause = cause;
  }
}

type Framing = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'eof' };

/** One request in flight on a connection. */
interface Exchange {
  resolve: (r: Http1Response) => void;
  reject: (e: Error) => void;
  /** Bytes of the answer seen so far (0: a failure may be retried on a fresh socket). */
  received: number;
  head: Buffer | null;
  body: Readable | null;
  framing: Framing;
  keepAlive: boolean;
  idleMs: number;
  // chunked decoding
  chunkLeft: number;
  chunkState: 'size' | 'data' | 'crlf' | 'trailer';
  line: string;
  done: boolean;
}

class Connection {
  readonly socket: net.Socket;
  private slab: Buffer | null = null;
  private slabUsed = 0;
  /** Size of the next slab: small until a response says its body is large. */
  private nextSlab = SMALL_SLAB;
  ex: Exchange | null = null;
  reused = false;
  idleTimer: NodeJS.Timeout | null = null;
  /** The error the current exchange fails with when the socket falls silent. */
  private silence: (() => Error) | null = null;
  private readonly pool: Http1GetPool;

  constructor(pool: Http1GetPool, host: string, port: number) {
    this.pool = pool;
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: () => this.room(),
        callback: (n: number, buf: Uint8Array) => this.onRead(n, buf),
      },
    });
    // A reused socket that breaks before any byte of the answer came back may have been
    // closed by the server while idle: the request is then worth one more try.
    this.socket.on('error', (err) => this.fail(err, this.mayRetry()));
    // One listener for the socket's life: socket.setTimeout(ms, cb) would add a `once`
    // listener per request that nothing removes (setTimeout(0) clears the timer, not the
    // listener), so a kept-alive socket collected one per GET.
    this.socket.on('timeout', () => {
      if (this.ex && this.silence) this.fail(this.silence());
    });
    this.socket.on('end', () => this.onEnd());
    this.socket.on('close', () => this.fail(new Http1ProtocolError('the backend closed the connection', 'ECONNRESET'), this.mayRetry()));
  }

  /** Where the next read lands: the unused rest of the current slab, or a new one. */
  private room(): Buffer {
    if (!this.slab || this.slab.length - this.slabUsed < MIN_READ) {
      this.slab = Buffer.allocUnsafeSlow(this.nextSlab);
      this.slabUsed = 0;
    }
    return this.slab.subarray(this.slabUsed);
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    // `buf` is what room() handed out; the bytes stay where they landed (no copy), and the
    // slab's next read starts behind them.
    const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
    if (this.slab && buf.buffer === this.slab.buffer) this.slabUsed = buf.byteOffset - this.slab.byteOffset + n;
    const ex = this.ex;
    if (!ex) {
      // Nothing asked: an idle keep-alive socket has no business receiving bytes.
      this.socket.destroy();
      return false;
    }
    try {
      this.feed(ex, chunk);
    } catch (err) {
      this.fail(err as Error);
      return false;
    }
    return !this.socket.isPaused();
  }

  private feed(ex: Exchange, chunk: Buffer): void {
    ex.received += chunk.length;
    let rest = chunk;
    // feedHead returns nothing while the head is incomplete, and what follows a 1xx head.
    while (rest.length > 0 && !ex.done) rest = ex.body === null ? this.feedHead(ex, rest) : this.feedBody(ex, rest);
    if (rest.length > 0) throw new Http1ProtocolError(`the backend sent ${rest.length} bytes after the response`);
  }

  /** Accumulates the head; once complete, answers the request and returns the bytes after it. */
  private feedHead(ex: Exchange, chunk: Buffer): Buffer {
    const prevLen = ex.head?.length ?? 0;
    const head = ex.head ? Buffer.concat([ex.head, chunk]) : chunk;
    // The end of the head may straddle two reads: search from 3 bytes before the new ones.
    const end = head.indexOf('\r\n\r\n', Math.max(0, prevLen - 3), 'latin1');
    if (end < 0) {
      if (head.length > MAX_HEAD_BYTES) throw new Http1ProtocolError(`response head over ${MAX_HEAD_BYTES} bytes`);
      ex.head = head;
      return Buffer.alloc(0);
    }
    const text = head.toString('latin1', 0, end);
    const rest = head.subarray(end + 4);
    ex.head = null;
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]);
    if (!m) throw new Http1ProtocolError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0].slice(0, 80))}`);
    const status = Number(m[2]);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      if (colon <= 0) throw new Http1ProtocolError(`malformed header line: ${JSON.stringify(lines[i].slice(0, 80))}`);
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    // 1xx (100 Continue, 103 Early Hints) precede the real answer.
    if (status >= 100 && status < 200) return rest;
    const connection = (headers['connection'] ?? '').toLowerCase();
    ex.keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const hint = /\btimeout=(\d+)/i.exec(headers['keep-alive'] ?? '');
    if (hint) ex.idleMs = Math.max(0, Number(hint[1]) * 1000 - 1000);
    const te = (headers['transfer-encoding'] ?? '').toLowerCase();
    if (status === 204 || status === 304) ex.framing = { kind: 'none' };
    else if (te !== '') {
      if (!/(^|,)\s*chunked\s*$/.test(te)) throw new Http1ProtocolError(`unsupported transfer-encoding ${te}`);
      ex.framing = { kind: 'chunked' };
    } else if (headers['content-length'] !== undefined) {
      if (!/^\d+$/.test(headers['content-length'])) throw new Http1ProtocolError(`invalid content-length ${headers['content-length']}`);
      ex.framing = { kind: 'length', left: Number(headers['content-length']) };
    } else {
      ex.framing = { kind: 'eof' };
      ex.keepAlive = false;
    }
    if (ex.framing.kind !== 'length' || ex.framing.left > SMALL_SLAB) this.nextSlab = BIG_SLAB;
    const body = new Readable({
      highWaterMark: BIG_SLAB,
      read: () => {
        if (this.ex === ex && this.socket.isPaused()) this.socket.resume();
      },
      destroy: (err, cb) => {
        // The reader gave up before the end: the rest of the answer is still on the wire.
        if (!ex.done) this.abandon(ex, err ?? new Http1ProtocolError('response body destroyed before its end', 'ABORT_ERR'));
        cb(err);
      },
    });
    // The body may fail before its reader has attached (a framing error in the same read as
    // the head): without a listener that 'error' would end the process. Readers see it all
    // the same, through pipeline(), finished() or async iteration, which check `errored`.
    body.on('error', () => {});
    ex.body = body;
    ex.resolve({ statusCode: status, headers, body });
    if (ex.framing.kind === 'none' || (ex.framing.kind === 'length' && ex.framing.left === 0)) this.finish(ex);
    return rest;
  }

  /** Hands body bytes to the reader; returns what is left past the end of the body. */
  private feedBody(ex: Exchange, chunk: Buffer): Buffer {
    const f = ex.framing;
    if (f.kind === 'eof') {
      this.push(ex, chunk);
      return Buffer.alloc(0);
    }
    if (f.kind === 'length') {
      const take = Math.min(f.left, chunk.length);
      f.left -= take;
      if (take > 0) this.push(ex, take === chunk.length ? chunk : chunk.subarray(0, take));
      if (f.left === 0) this.finish(ex);
      return chunk.subarray(take);
    }
    if (f.kind === 'none') return chunk;
    // chunked: size line, data, CRLF, ..., size 0, trailer lines, empty line.
    let rest = chunk;
    while (rest.length > 0 && !ex.done) {
      if (ex.chunkState === 'data') {
        const take = Math.min(ex.chunkLeft, rest.length);
        this.push(ex, rest.subarray(0, take));
        ex.chunkLeft -= take;
        rest = rest.subarray(take);
        if (ex.chunkLeft === 0) ex.chunkState = 'crlf';
        continue;
      }
      const nl = rest.indexOf(10);
      const upto = nl < 0 ? rest.length : nl + 1;
      ex.line += rest.toString('latin1', 0, upto);
      rest = rest.subarray(upto);
      if (ex.line.length > 8192) throw new Http1ProtocolError('chunked framing line too long');
      if (nl < 0) break;
      const line = ex.line.replace(/\r?\n$/, '');
      ex.line = '';
      if (ex.chunkState === 'crlf') {
        if (line !== '') throw new Http1ProtocolError('chunk data not followed by CRLF');
        ex.chunkState = 'size';
      } else if (ex.chunkState === 'size') {
        const size = /^([0-9a-fA-F]{1,12})(;.*)?$/.exec(line.trim());
        if (!size) throw new Http1ProtocolError(`invalid chunk size line ${JSON.stringify(line.slice(0, 40))}`);
        ex.chunkLeft = parseInt(size[1], 16);
        ex.chunkState = ex.chunkLeft === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        this.finish(ex); // end of trailers
      }
    }
    return rest;
  }

  private push(ex: Exchange, data: Buffer): void {
    if (!ex.body!.push(data)) this.socket.pause();
  }

  /** The whole answer is in: end the body and give the socket back (or close it). */
  private finish(ex: Exchange): void {
    ex.done = true;
    this.ex = null;
    this.socket.setTimeout(0);
    // Chunks already handed out keep their slab alive; an idle socket holds none.
    this.slab = null;
    ex.body!.push(null);
    if (ex.keepAlive && !this.socket.destroyed) {
      if (this.socket.isPaused()) this.socket.resume();
      this.pool.release(this, ex.idleMs);
    } else {
      this.socket.destroy();
    }
  }

  /** The reader or the caller gave up: the socket cannot be reused. */
  abandon(ex: Exchange, err: Error): void {
    if (this.ex !== ex) return;
    this.ex = null;
    ex.done = true;
    this.socket.destroy();
    if (ex.body === null) ex.reject(err);
  }

  private mayRetry(): boolean {
    return this.reused && this.ex !== null && this.ex.received === 0;
  }

  private onEnd(): void {
    const ex = this.ex;
    if (ex && ex.body !== null && ex.framing.kind === 'eof') {
      this.finish(ex);
      return;
    }
    this.fail(new Http1ProtocolError(ex?.body ? 'the backend closed the connection mid-body' : 'the backend closed the connection', 'ECONNRESET'), this.mayRetry());
  }

  /** The connection broke: fail whatever it was doing, and forget it. */
  private fail(err: Error, retryable = false): void {
    this.pool.forget(this);
    this.socket.destroy();
    const ex = this.ex;
    this.ex = null;
    if (!ex || ex.done) return;
    ex.done = true;
    if (ex.body === null) ex.reject(retryable ? new RetryableError(err) : err);
    else ex.body.destroy(err);
  }

  start(ex: Exchange, head: string, timeoutMs: number, onTimeout: () => Error): void {
    this.ex = ex;
    this.nextSlab = SMALL_SLAB;
    this.silence = onTimeout;
    this.socket.setTimeout(timeoutMs);
    this.socket.write(head, 'latin1');
  }
}

export class Http1GetPool {
  private readonly o: Http1GetOptions;
  private readonly idle: Connection[] = [];
  private readonly maxIdle: number;
  private closed = false;

  constructor(o: Http1GetOptions) {
    this.o = o;
    this.maxIdle = o.maxIdle ?? 64;
  }

  /** Send `GET path` with these headers; resolves at the response head, the body streaming. */
  async get(path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Http1Response> {
    if (/\s/.test(path)) throw new TypeError('request path has white space');
    let head = `GET ${path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) {
      if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new TypeError(`header ${k} has a line break`);
      head += `${k}: ${v}\r\n`;
    }
    head += '\r\n';
    try {
      return await this.attempt(head, signal, false);
    } catch (err) {
      if (err instanceof RetryableError && !signal.aborted) return this.attempt(head, signal, true);
      throw err instanceof RetryableError ? err.cause : err;
    }
  }

  private attempt(head: string, signal: AbortSignal, fresh: boolean): Promise<Http1Response> {
    signal.throwIfAborted();
    if (this.closed) throw new Http1ProtocolError('pool closed', 'ERR_CLOSED');
    let conn = fresh ? undefined : this.idle.pop();
    if (conn) {
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
      conn.idleTimer = null;
      conn.reused = true;
      conn.socket.ref();
    } else {
      conn = new Connection(this, this.o.host, this.o.port);
    }
    const c = conn;
    return new Promise<Http1Response>((resolve, reject) => {
      // Acts on this exchange only: once it is done, the socket may already carry another one.
      const onAbort = () => {
        if (ex.done) return;
        const reason = signal.reason instanceof Error ? signal.reason : new Http1ProtocolError('aborted', 'ABORT_ERR');
        if (ex.body) ex.body.destroy(reason);
        else c.abandon(ex, reason);
      };
      const ex: Exchange = {
        resolve: (r) => {
          r.body.once('close', () => signal.removeEventListener('abort', onAbort));
          resolve(r);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
        received: 0,
        head: null,
        body: null,
        framing: { kind: 'none' },
        keepAlive: false,
        idleMs: IDLE_SOCKET_MS,
        chunkLeft: 0,
        chunkState: 'size',
        line: '',
        done: false,
      };
      signal.addEventListener('abort', onAbort, { once: true });
      c.start(ex, head, this.o.timeoutMs, this.o.onTimeout);
    });
  }

  release(conn: Connection, idleMs: number): void {
    if (this.closed || this.idle.length >= this.maxIdle || idleMs <= 0) {
      conn.socket.destroy();
      return;
    }
    conn.idleTimer = setTimeout(() => {
      this.forget(conn);
      conn.socket.destroy();
    }, Math.min(idleMs, IDLE_SOCKET_MS));
    conn.idleTimer.unref();
    conn.socket.unref();
    this.idle.push(conn);
  }

  forget(conn: Connection): void {
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = null;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Idle sockets kept for reuse (for tests and metrics). */
  idleCount(): number {
    return this.idle.length;
  }

  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) {
      if (c.idleTimer) clearTimeout(c.idleTimer);
      c.socket.destroy();
    }
  }
}
