// The s3 driver's GET reader (shared/storage/drivers/http1-get.ts) against real servers:
// node:http, and raw sockets that frame answers the ways HTTP/1.1 allows (and some it
// does not). What a user would notice: the bytes of a body arrive exactly, a connection is
// reused only when that is safe, a stalled or aborted body fails instead of hanging, and a
// slow reader does not make the gateway buffer the object.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { Http1GetPool, Http1ProtocolError } from '../../shared/storage/drivers/http1-get.ts';

class Timeout extends Error {}

function pool(port: number, timeoutMs = 5000): Http1GetPool {
  return new Http1GetPool({ host: '127.0.0.1', port, timeoutMs, onTimeout: () => new Timeout('backend silent') });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

/** Runs `fn` with the pool, then closes it (and whatever else `after` closes). */
async function withPool(p: Http1GetPool, fn: (p: Http1GetPool) => Promise<void>, after?: () => void): Promise<void> {
  try {
    await fn(p);
  } finally {
    p.close();
    after?.();
  }
}

const never = new AbortController().signal;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('http1 GET reader against node:http', () => {
  const big = randomBytes(48 * 1024 * 1024 + 12345);
  const small = randomBytes(3000);
  let server: http.Server;
  let port: number;
  const connections: net.Socket[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-length': String(big.length), etag: '"b"' });
        // Written in uneven pieces, so reads straddle the server's writes.
        for (let i = 0; i < big.length; i += 100_003) res.write(big.subarray(i, i + 100_003));
        res.end();
      } else if (req.url === '/chunked') {
        // No Content-Length: node:http frames it chunked, with a trailer.
        res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: 'x-done' });
        for (let i = 0; i < small.length; i += 7) res.write(small.subarray(i, i + 7));
        res.addTrailers({ 'x-done': 'yes' });
        res.end();
      } else if (req.url === '/empty') {
        res.writeHead(200, { 'content-length': '0' }).end();
      } else if (req.url === '/missing') {
        res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
      } else if (req.url === '/hang') {
        // Never answers: the reader's timeout must end the GET.
      } else if (req.url === '/headers') {
        res.writeHead(200, { 'content-length': '2', 'x-echo-range': req.headers.range ?? '', 'x-many': ['a', 'b'] }).end('ok');
      } else {
        res.writeHead(200, { 'content-length': String(small.length) }).end(small);
      }
    });
    server.on('connection', (s) => connections.push(s));
    port = await listen(server);
  });
  after(() => server.close());

  test('a 48 MiB body arrives byte for byte, and the keep-alive socket is reused for the next GET', async () => {
    await withPool(pool(port), async (p) => {
      const before = connections.length;
      const a = await p.get('/big', { host: 'x' }, never);
      assert.equal(a.statusCode, 200);
      assert.equal(a.headers['content-length'], String(big.length));
      assert.equal(a.headers['etag'], '"b"');
      const got = await buffer(a.body);
      assert.equal(got.length, big.length);
      assert.equal(md5(got), md5(big));
      const b = await p.get('/small', { host: 'x' }, never);
      assert.ok((await buffer(b.body)).equals(small));
      assert.equal(connections.length - before, 1, 'the second GET should have used the same connection');
      assert.equal(p.idleCount(), 1);
    });
  });

  test('a socket reused for 30 GETs collects no listeners: no MaxListenersExceededWarning, and a GET on it still times out', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await withPool(pool(port, 300), async (p) => {
        const before = connections.length;
        for (let i = 0; i < 30; i++) assert.ok((await buffer((await p.get('/small', { host: 'x' }, never)).body)).equals(small));
        assert.equal(connections.length - before, 1, 'all 30 GETs should have used one connection');
        // Warnings are emitted on the next tick.
        await sleep(10);
        assert.deepEqual(
          warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
          [],
        );
        // The one listener the socket keeps still turns its silence into the pool's timeout error.
        await assert.rejects(p.get('/hang', { host: 'x' }, never), Timeout);
        assert.equal(p.idleCount(), 0);
      });
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('ten GETs at once each get their own bytes', async () => {
    await withPool(pool(port), async (p) => {
      const bodies = await Promise.all(Array.from({ length: 10 }, (_, i) => p.get(i % 2 ? '/big' : '/small', { host: 'x' }, never).then((r) => buffer(r.body))));
      for (const [i, got] of bodies.entries()) assert.equal(md5(got), md5(i % 2 ? big : small), `body ${i}`);
    });
  });

  test('a chunked answer with a trailer is decoded, and the socket stays usable', async () => {
    await withPool(pool(port), async (p) => {
      const r = await p.get('/chunked', { host: 'x' }, never);
      assert.equal(r.headers['transfer-encoding'], 'chunked');
      assert.ok((await buffer(r.body)).equals(small));
      const again = await p.get('/small', { host: 'x' }, never);
      assert.ok((await buffer(again.body)).equals(small));
      assert.equal(p.idleCount(), 1);
    });
  });

  test('request headers go out as given; repeated answer headers are joined', async () => {
    await withPool(pool(port), async (p) => {
      const r = await p.get('/headers', { host: 'x', range: 'bytes=0-1' }, never);
      assert.equal(r.headers['x-echo-range'], 'bytes=0-1');
      assert.equal(r.headers['x-many'], 'a, b');
      assert.equal((await buffer(r.body)).toString(), 'ok');
      const e = await p.get('/empty', { host: 'x' }, never);
      assert.equal((await buffer(e.body)).length, 0);
      const m = await p.get('/missing', { host: 'x' }, never);
      assert.equal(m.statusCode, 404);
      assert.match((await buffer(m.body)).toString(), /NoSuchKey/);
    });
  });

  test('a header value with a line break is refused before anything is sent', async () => {
    await withPool(pool(port), async (p) => {
      await assert.rejects(p.get('/small', { host: 'x', 'x-bad': 'a\r\nx-injected: 1' }, never), TypeError);
    });
  });

  test('a reader that does not read holds the socket back: at most 512 KiB wait in the gateway', async () => {
    await withPool(pool(port), async (p) => {
      const r = await p.get('/big', { host: 'x' }, never);
      await sleep(400);
      // What the stream holds is bounded by its high-water mark (one 256 KiB slab) plus one
      // read (at most a slab); the rest waits in the kernel's socket buffers and in the server.
      assert.ok(r.body.readableLength <= 512 * 1024, `buffered ${r.body.readableLength}`);
      assert.equal(md5(await buffer(r.body)), md5(big));
    });
  });

  test('a body destroyed by its reader closes the socket instead of returning it to the pool', async () => {
    await withPool(pool(port), async (p) => {
      const r = await p.get('/big', { host: 'x' }, never);
      await new Promise<void>((resolve) => r.body.once('readable', () => resolve()));
      r.body.destroy();
      await sleep(50);
      assert.equal(p.idleCount(), 0);
      const next = await p.get('/small', { host: 'x' }, never);
      assert.ok((await buffer(next.body)).equals(small));
    });
  });

  test("aborting a GET whose answer is complete (unread) does not touch the next GET on the same socket", async () => {
    const first = new AbortController();
    await withPool(pool(port), async (p) => {
      // 3000 bytes come with the head: the answer is complete and the socket back in the pool
      // before anyone reads the body.
      const r1 = await p.get('/small', { host: 'x' }, first.signal);
      await sleep(20);
      const r2 = await p.get('/big', { host: 'x' }, never);
      first.abort(new Error('the first client went away'));
      assert.equal(md5(await buffer(r2.body)), md5(big));
      assert.ok((await buffer(r1.body)).equals(small));
    });
  });

  test('an abort mid-body fails the body with the abort reason', async () => {
    const ctl = new AbortController();
    await withPool(pool(port), async (p) => {
      const r = await p.get('/big', { host: 'x' }, ctl.signal);
      const reason = new Error('client went away');
      r.body.once('data', () => ctl.abort(reason));
      await assert.rejects(buffer(r.body), (err) => err === reason);
      assert.equal(p.idleCount(), 0);
    });
  });
});

/** A server on raw sockets: `answer` gets every request head and the socket to answer on. */
async function rawServer(answer: (socket: net.Socket, head: string, nth: number) => void): Promise<{ port: number; close: () => void; accepted: () => number }> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    let nth = 0;
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let end;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        answer(socket, head, nth++);
      }
    });
  });
  const port = await listen(server);
  return {
    port,
    accepted: () => accepted,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('http1 GET reader against hand-framed answers', () => {
  test('a head that arrives a few bytes at a time, after a 100 Continue, is parsed', async () => {
    const answer = Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A:  spaced  \r\n\r\nhello world', 'latin1');
    const srv = await rawServer(async (s) => {
      for (let i = 0; i < answer.length; i += 3) {
        s.write(answer.subarray(i, i + 3));
        await sleep(1);
      }
    });
    await withPool(pool(srv.port), async (p) => {
      const r = await p.get('/', { host: 'x' }, never);
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['x-a'], 'spaced');
      assert.equal((await buffer(r.body)).toString(), 'hello world');
    }, () => srv.close());
  });

  test('without Content-Length or chunking the body runs to the close, and the socket is not reused', async () => {
    const srv = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\n\r\nall of it'));
    await withPool(pool(srv.port), async (p) => {
      const r = await p.get('/', { host: 'x' }, never);
      assert.equal((await buffer(r.body)).toString(), 'all of it');
      await sleep(20);
      assert.equal(p.idleCount(), 0);
    }, () => srv.close());
  });

  test('Connection: close and HTTP/1.0 answers are not reused', async () => {
    const srv = await rawServer((s, _h, nth) => {
      s.write(nth % 2 ? 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok' : 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok');
    });
    await withPool(pool(srv.port), async (p) => {
      for (let i = 0; i < 2; i++) {
        const r = await p.get('/', { host: 'x' }, never);
        assert.equal((await buffer(r.body)).toString(), 'ok');
        assert.equal(p.idleCount(), 0);
      }
      assert.equal(srv.accepted(), 2);
    }, () => srv.close());
  });

  test('a kept-alive socket the server closes as the next GET goes out: the GET is sent once more on a new socket', async () => {
    // The server answers the first request on each connection and drops the connection on
    // the second without a word, as a server whose idle timeout just fired does.
    const srv = await rawServer((s, _h, nth) => {
      if (nth === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst');
      else s.destroy();
    });
    await withPool(pool(srv.port), async (p) => {
      assert.equal((await buffer((await p.get('/', { host: 'x' }, never)).body)).toString(), 'first');
      assert.equal(p.idleCount(), 1);
      const r = await p.get('/', { host: 'x' }, never);
      assert.equal((await buffer(r.body)).toString(), 'first');
      assert.equal(srv.accepted(), 2);
    }, () => srv.close());
  });

  test('a new socket closed before the answer is a failure, not a retry', async () => {
    const srv = await rawServer((s) => s.destroy());
    await withPool(pool(srv.port), async (p) => {
      await assert.rejects(p.get('/', { host: 'x' }, never), (err: Error & { code?: string }) => err.code === 'ECONNRESET' || err instanceof Http1ProtocolError);
      assert.equal(srv.accepted(), 1);
    }, () => srv.close());
  });

  test('a body that stops mid-way fails within timeoutMs with the timeout error', async () => {
    const srv = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(1000)));
    await withPool(pool(srv.port, 300), async (p) => {
      const r = await p.get('/', { host: 'x' }, never);
      const t0 = Date.now();
      await assert.rejects(buffer(r.body), Timeout);
      assert.ok(Date.now() - t0 < 2000);
    }, () => srv.close());
  });

  test('a server that never answers fails the GET within timeoutMs', async () => {
    const srv = await rawServer(() => {});
    await withPool(pool(srv.port, 300), async (p) => {
      await assert.rejects(p.get('/', { host: 'x' }, never), Timeout);
    }, () => srv.close());
  });

  test('a body cut short by the server errors, it never ends as if complete', async () => {
    const srv = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    await withPool(pool(srv.port), async (p) => {
      const r = await p.get('/', { host: 'x' }, never);
      await assert.rejects(buffer(r.body), /closed the connection mid-body/);
    }, () => srv.close());
  });

  test('a truncated chunked body errors too', async () => {
    const srv = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nab'));
    await withPool(pool(srv.port), async (p) => {
      const r = await p.get('/', { host: 'x' }, never);
      await assert.rejects(buffer(r.body), /mid-body/);
    }, () => srv.close());
  });

  test('garbage instead of a status line, or bad chunk framing, is a protocol error', async () => {
    const srv = await rawServer((s, head) => {
      if (head.startsWith('GET /garbage')) s.write('SSH-2.0-OpenSSH\r\n\r\n');
      else s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    });
    await withPool(pool(srv.port), async (p) => {
      await assert.rejects(p.get('/garbage', { host: 'x' }, never), Http1ProtocolError);
      const r = await p.get('/chunks', { host: 'x' }, never);
      await assert.rejects(buffer(r.body), /invalid chunk size/);
    }, () => srv.close());
  });
});
