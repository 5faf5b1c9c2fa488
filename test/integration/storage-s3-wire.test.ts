// What the s3 driver puts on the wire, and how it behaves when a backend goes silent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { BackendTimeoutError, BlobNotFoundError, createS3Backend, type StorageBackend } from '../../shared/storage/index.ts';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { cephRgwUnavailable, startCephRgw } from '../helpers/ceph-rgw.ts';
import { motoUnavailable, startMoto, startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';

function chunked(data: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
    })(),
  );
}

function driverFor(srv: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }, timeoutMs: number): StorageBackend {
  return createS3Backend({ name: 'wire', endpoint: srv.endpoint, region: srv.region, accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey, timeoutMs });
}

type Received = { headers: http.IncomingHttpHeaders; body: Buffer };

/** A driver against a plain HTTP server that records every request (headers and body) and answers 200. */
async function withRecordingServer(fn: (b: StorageBackend, seen: Received[]) => Promise<void>): Promise<void> {
  const seen: Received[] = [];
  const srv = http.createServer(async (req, res) => {
    seen.push({ headers: req.headers, body: await buffer(req) });
    res.writeHead(200, { ETag: '"0"' });
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  const b = driverFor({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, 5000);
  try {
    await fn(b, seen);
  } finally {
    await b.close?.();
    srv.close();
  }
}

describe('s3 driver PUT wire format', () => {
  test('a stream body goes out as a plain length-known payload: Content-Length, UNSIGNED-PAYLOAD, no aws-chunked, no Expect', () =>
    withRecordingServer(async (b, seen) => {
      const data = randomBytes(3 * 1024 * 1024);
      await b.put({ bucket: 's3gw-wire', key: 'k' }, chunked(data), data.length);
      assert.equal(seen.length, 1);
      const { headers, body } = seen[0];
      assert.equal(headers['content-length'], String(data.length));
      assert.equal(headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
      assert.equal(headers['content-encoding'], undefined);
      assert.equal(headers['x-amz-decoded-content-length'], undefined);
      assert.equal(headers['x-amz-trailer'], undefined);
      assert.equal(headers['expect'], undefined);
      assert.equal(headers['transfer-encoding'], undefined);
      assert.ok(body.equals(data), 'the server received different bytes');
    }));

  test('a body of up to 64 KiB is signed with its SHA-256 (the backend can check it); one byte more goes UNSIGNED-PAYLOAD', () =>
    withRecordingServer(async (b, seen) => {
      const small = randomBytes(64 * 1024);
      const over = randomBytes(64 * 1024 + 1);
      await b.put({ bucket: 's3gw-wire', key: 'small' }, chunked(small, 1000), small.length);
      await b.put({ bucket: 's3gw-wire', key: 'over' }, chunked(over, 1000), over.length);
      assert.equal(seen.length, 2);
      assert.equal(seen[0].headers['x-amz-content-sha256'], createHash('sha256').update(small).digest('hex'));
      assert.match(String(seen[0].headers['authorization']), /SignedHeaders=[^,]*x-amz-content-sha256/);
      assert.equal(seen[0].headers['content-length'], String(small.length));
      assert.ok(seen[0].body.equals(small), 'the server received different bytes');
      assert.equal(seen[1].headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
      assert.ok(seen[1].body.equals(over), 'the server received different bytes');
    }));

  test('s3rver stores exactly the bytes sent (no aws-chunked framing inside the object)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-s3rver-wire-'));
    const srv = await startS3rver({ dir });
    const b = driverFor(srv, 5000);
    try {
      await b.ensureBucket('s3gw-wire');
      const data = randomBytes(1024 * 1024 + 17);
      await b.put({ bucket: 's3gw-wire', key: 'blob' }, chunked(data), data.length);
      // s3rver's filesystem store keeps the object body in `<bucket>/<key>._S3rver_object`.
      const onDisk = await readFile(path.join(dir, 's3gw-wire', 'blob._S3rver_object'));
      assert.equal(onDisk.length, data.length);
      assert.ok(onDisk.equals(data));
    } finally {
      await b.close?.();
      await srv.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a body that keeps arriving for longer than timeoutMs in all is not timed out: the watchdog measures silence', async () => {
    const srv = await startS3rver();
    const timeoutMs = 400;
    const b = driverFor(srv, timeoutMs);
    try {
      await b.ensureBucket('s3gw-wire');
      // 12 pieces, one every 100 ms: ~1.2 s in all, three times the timeout, never 400 ms silent.
      const data = randomBytes(12 * 1000);
      const body = Readable.from(
        (async function* () {
          for (let i = 0; i < 12; i++) {
            await new Promise((r) => setTimeout(r, 100));
            yield data.subarray(i * 1000, (i + 1) * 1000);
          }
        })(),
      );
      const t0 = performance.now();
      await b.put({ bucket: 's3gw-wire', key: 'trickle' }, body, data.length);
      assert.ok(performance.now() - t0 > 2 * timeoutMs, 'the body did not take longer than the timeout: the test proves nothing');
      assert.ok((await buffer(await b.get({ bucket: 's3gw-wire', key: 'trickle' }))).equals(data));
    } finally {
      await b.close?.();
      await srv.stop();
    }
  });
});

/**
 * A TCP relay to `port` that can act as a server closing an idle keep-alive connection just
 * as the next request arrives: with `closeReused`, a connection that has already carried an
 * answer is reset when the client sends anything more. `closes` records which side ended
 * each connection first, with the time since that connection's last answer.
 */
async function relay(port: number, closeReused: boolean) {
  let accepted = 0;
  const closes: { by: 'client' | 'server'; idleMs: number }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    let answeredAt = 0;
    let ended = false;
    const end = (by: 'client' | 'server') => {
      if (!ended) closes.push({ by, idleMs: performance.now() - answeredAt });
      ended = true;
      client.end();
      upstream.end();
    };
    client.on('data', (d) => {
      if (closeReused && answeredAt > 0) {
        ended = true;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      answeredAt = performance.now();
      client.write(d);
    });
    client.on('end', () => end('client'));
    upstream.on('end', () => end('server'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted: () => accepted,
    closes,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('s3 driver and keep-alive sockets the server closes (s3rver behind a relay)', () => {
  let srv: S3ServerHandle;
  /** Straight to s3rver, to see what the calls through the relay left there. */
  let direct: StorageBackend;
  before(async () => {
    srv = await startS3rver();
    direct = driverFor(srv, 5000);
    await direct.ensureBucket('s3gw-wire');
  });
  after(async () => {
    await direct?.close?.();
    await srv?.stop();
  });

  /** A driver whose calls go through a fresh relay to s3rver. */
  async function throughRelay(closeReused: boolean, fn: (b: StorageBackend, r: Awaited<ReturnType<typeof relay>>) => Promise<void>): Promise<void> {
    const r = await relay(srv.port, closeReused);
    const b = driverFor({ ...srv, endpoint: r.endpoint }, 5000);
    try {
      await fn(b, r);
    } finally {
      await b.close?.();
      r.close();
    }
  }

  test('a small PUT, HEAD and DELETE on a socket closed under them are sent once more on a new connection', () =>
    throughRelay(true, async (b, r) => {
      const data = randomBytes(4096);
      await b.put({ bucket: 's3gw-wire', key: 'small-1' }, chunked(data), data.length);
      // Each call below finds the pooled socket of the call before and has it reset.
      await b.put({ bucket: 's3gw-wire', key: 'small-2' }, chunked(data), data.length);
      assert.deepEqual(await b.head({ bucket: 's3gw-wire', key: 'small-2' }), { size: data.length });
      await b.delete({ bucket: 's3gw-wire', key: 'small-1' });
      assert.equal(r.accepted(), 4, 'every call after the first needed a second connection');
      assert.ok((await buffer(await direct.get({ bucket: 's3gw-wire', key: 'small-2' }))).equals(data), 's3rver stored different bytes');
      assert.equal(await direct.head({ bucket: 's3gw-wire', key: 'small-1' }), null);
    }));

  test('a streamed PUT (past 64 KiB) on such a socket is not replayed: it fails, and leaves no object', () =>
    throughRelay(true, async (b) => {
      await b.head({ bucket: 's3gw-wire', key: 'warm' });
      const data = randomBytes(1024 * 1024);
      await assert.rejects(b.put({ bucket: 's3gw-wire', key: 'large' }, chunked(data), data.length), (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET' || err.code === 'EPIPE');
      assert.equal(await direct.head({ bucket: 's3gw-wire', key: 'large' }), null);
    }));

  test("an idle pooled socket is closed by the driver a second before the server's Keep-Alive hint (s3rver: 5 s)", () =>
    throughRelay(false, async (b, r) => {
      await b.head({ bucket: 's3gw-wire', key: 'idle' });
      const t0 = performance.now();
      while (r.closes.length === 0 && performance.now() - t0 < 8000) await new Promise((res) => setTimeout(res, 50));
      assert.equal(r.closes.length, 1);
      const [c] = r.closes;
      assert.equal(c.by, 'client', `the server closed the idle connection first, after ${c.idleMs.toFixed(0)} ms`);
      assert.ok(c.idleMs > 3500 && c.idleMs < 4800, `closed after ${c.idleMs.toFixed(0)} ms idle`);
    }));
});

// The data path signs its own requests (s3-wire.ts, with the SDK's signer): prove it on
// servers that verify every SigV4 signature — Ceph RGW and Fedgate's own S3 endpoint
// (s3rver does not verify, moto runs without auth here). Keys with characters S3 encodes
// in the path, ranges, HEAD and DELETE, and a wrong secret refused.
interface VerifyingServer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

function verifyingSuite(kind: string, start: () => Promise<VerifyingServer>, skip: string | false) {
  describe(`s3 driver data path against a signature-verifying ${kind}`, { skip }, () => {
    let srv: VerifyingServer;
    let b: StorageBackend;
    before(async () => {
      srv = await start();
      b = createS3Backend({ name: 'verifying', endpoint: srv.endpoint, region: 'us-east-1', accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey, timeoutMs: 5000 });
      await b.ensureBucket('wire-verified');
    });
    after(async () => {
      await b?.close?.();
      await srv?.stop();
    });

    for (const key of ['plain-chunk-id', "dir/sub dir/a+b=c&d!'()*~é€.bin", 'percent%2Fliteral', 'trailing/slash/']) {
      test(`put, get, range get, head and delete of ${JSON.stringify(key)} are accepted and exact`, async () => {
        const loc = { bucket: 'wire-verified', key };
        const data = randomBytes(300 * 1024 + 3);
        await b.put(loc, chunked(data), data.length);
        assert.ok((await buffer(await b.get(loc))).equals(data));
        assert.ok((await buffer(await b.get(loc, { start: 1000, end: 70_000 }))).equals(data.subarray(1000, 70_001)));
        assert.deepEqual(await b.head(loc), { size: data.length });
        await b.delete(loc);
        assert.equal(await b.head(loc), null);
        await assert.rejects(b.get(loc), BlobNotFoundError);
      });
    }

    test('a wrong secret is refused with SignatureDoesNotMatch on every data-path call', async () => {
      const bad = createS3Backend({ name: 'bad', endpoint: srv.endpoint, region: 'us-east-1', accessKeyId: srv.accessKeyId, secretAccessKey: 'not-the-secret', timeoutMs: 5000 });
      try {
        const loc = { bucket: 'wire-verified', key: 'k' };
        await assert.rejects(bad.put(loc, chunked(Buffer.from('x')), 1), { name: 'SignatureDoesNotMatch' });
        await assert.rejects(bad.get(loc), { name: 'SignatureDoesNotMatch' });
        await assert.rejects(bad.delete(loc), { name: 'SignatureDoesNotMatch' });
        // HEAD answers carry no body: only the status (403) is left to report.
        await assert.rejects(bad.head(loc), (err: Error & { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode === 403);
      } finally {
        await bad.close?.();
      }
    });
  });
}

/** Under CI every server must be there (.ci/run installs Ceph RGW); elsewhere a missing one skips. */
const rgwSkip = process.env.CI === 'true' ? false : ((await cephRgwUnavailable()) ?? false);
/** One Ceph RGW for both of its suites (it takes ~15 s to come up); stopped once the file is done. */
let rgw: Promise<S3ServerHandle> | null = null;
const sharedRgw = () => (rgw ??= startCephRgw());
const keepRunning = (h: S3ServerHandle): S3ServerHandle => ({ ...h, stop: async () => {} });
after(async () => {
  if (rgw) await (await rgw).stop();
});

verifyingSuite('Ceph RGW', async () => keepRunning(await sharedRgw()), rgwSkip);
verifyingSuite(
  'Fedgate',
  async () => {
    const fg: TestFedgate = await startTestFedgate();
    return { endpoint: fg.endpoint, accessKeyId: fg.accessKeyId, secretAccessKey: fg.secretAccessKey, stop: () => fg.stop() };
  },
  false,
);

const TIMEOUT = 1000;
const MARGIN = 1500;

async function elapsed(p: Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const t0 = performance.now();
  try {
    await p;
    return { ms: performance.now() - t0, err: null };
  } catch (err) {
    return { ms: performance.now() - t0, err };
  }
}

function pausedSuite(kind: string, start: () => Promise<S3ServerHandle>, skip: string | false) {
  describe(`s3 driver against a paused (SIGSTOP) ${kind}`, { skip }, () => {
    let srv: S3ServerHandle;
    let b: StorageBackend;
    const bucket = 's3gw-paused';
    const loc = { bucket, key: 'present' };
    // More than the socket buffers between the server and the driver can hold (receive buffers
    // grow to 32 MiB on some machines: with 8 MiB the whole body had arrived before the pause).
    const data = randomBytes(48 * 1024 * 1024);
    before(async () => {
      srv = await start();
      // Set up with a patient driver (Ceph RGW creates its pools on the first bucket, which
      // takes seconds); the tests use the 1 s one.
      const setup = driverFor(srv, 60_000);
      await setup.ensureBucket(bucket);
      await setup.put(loc, chunked(data), data.length);
      await setup.close?.();
      b = driverFor(srv, TIMEOUT);
    });
    after(async () => {
      srv?.resume();
      await b?.close?.();
      await srv?.stop();
    });

    for (const [op, run, bound] of [
      ['head', () => b.head(loc), TIMEOUT],
      ['get', () => b.get(loc), TIMEOUT],
      ['delete', () => b.delete({ bucket, key: 'absent' }), TIMEOUT],
      ['list', async () => { for await (const _ of b.list(bucket)) void _; }, TIMEOUT],
      ['ensureBucket', () => b.ensureBucket(bucket), TIMEOUT],
      // The watchdog fires after TIMEOUT of silence, then the cleanup DELETE gets its own TIMEOUT.
      ['put', () => b.put({ bucket, key: 'during-pause' }, chunked(randomBytes(256 * 1024)), 256 * 1024), 2 * TIMEOUT],
    ] as const) {
      test(`${op} rejects with BackendTimeoutError within its bound instead of hanging`, async () => {
        srv.pause();
        try {
          const { ms, err } = await elapsed(run());
          assert.ok(err instanceof BackendTimeoutError, `expected BackendTimeoutError, got ${String(err)}`);
          assert.ok(ms >= TIMEOUT * 0.9 && ms < bound + MARGIN, `took ${ms.toFixed(0)} ms`);
        } finally {
          srv.resume();
        }
      });
    }

    test('health reports not ok within the timeout instead of hanging', async () => {
      srv.pause();
      try {
        const t0 = performance.now();
        const h = await b.health();
        assert.equal(h.ok, false);
        assert.match(h.error ?? '', /no progress/);
        assert.ok(performance.now() - t0 < TIMEOUT + MARGIN);
      } finally {
        srv.resume();
      }
    });

    test('a GET body that stops mid-stream errors within the timeout', async () => {
      const body = await b.get(loc);
      const it = body[Symbol.asyncIterator]();
      await it.next();
      srv.pause();
      try {
        const t0 = performance.now();
        await assert.rejects(
          (async () => {
            for (;;) if ((await it.next()).done) break;
          })(),
        );
        assert.ok(performance.now() - t0 < TIMEOUT + MARGIN);
      } finally {
        srv.resume();
      }
    });

    test('the backend answers again once resumed', async () => {
      assert.deepEqual(await b.head(loc), { size: data.length });
      const got = await buffer(await b.get(loc, { start: 0, end: 0 }));
      assert.ok(got.equals(data.subarray(0, 1)));
    });
  });
}

pausedSuite('s3rver', () => startS3rver(), false);
pausedSuite('moto', () => startMoto(), motoUnavailable() ?? false);
pausedSuite('Ceph RGW', async () => keepRunning(await sharedRgw()), rgwSkip);
