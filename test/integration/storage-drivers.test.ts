// One conformance suite for every StorageBackend driver, run against a local
// directory, a real s3rver and a real moto_server (no mocks).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  BlobNotFoundError,
  createLocalDiskBackend,
  createS3Backend,
  IncompleteBodyError,
  InvalidLocatorError,
  type StorageBackend,
} from '../../shared/storage/index.ts';
import { motoUnavailable, startMoto, startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';

const BUCKET = 's3gw-conformance-test';

/** `data` in `chunk`-sized pieces, like a network stream. */
function chunked(data: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
    })(),
  );
}

/** Yields `first`, then waits forever (until destroyed). */
function stalling(first: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(first);
      }
    },
  });
}

async function keys(b: StorageBackend, bucket: string, prefix?: string): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  for await (const o of b.list(bucket, prefix)) out.push(o);
  return out;
}

interface Fixture {
  backend: StorageBackend;
  /** Extra check that nothing (not even a temp file) is left in the bucket. */
  leftovers(): Promise<string[]>;
  close(): Promise<void>;
}

function driverSuite(name: string, setup: () => Promise<Fixture>, skip: string | false = false) {
  describe(`${name} driver`, { skip }, () => {
    let fx: Fixture;
    let b: StorageBackend;
    before(async () => {
      fx = await setup();
      b = fx.backend;
      await b.ensureBucket(BUCKET);
    });
    after(async () => {
      await fx?.close();
    });

    test('ensureBucket is idempotent', async () => {
      await b.ensureBucket(BUCKET);
      await b.ensureBucket(BUCKET);
    });

    test('a 0-byte blob round-trips', async () => {
      const loc = { bucket: BUCKET, key: 'empty' };
      await b.put(loc, Readable.from([]), 0);
      assert.deepEqual(await b.head(loc), { size: 0 });
      assert.equal((await buffer(await b.get(loc))).length, 0);
      await b.delete(loc);
    });

    test('a 20 MiB random blob round-trips byte for byte', async () => {
      const data = randomBytes(20 * 1024 * 1024);
      const loc = { bucket: BUCKET, key: 'big' };
      await b.put(loc, chunked(data), data.length);
      assert.deepEqual(await b.head(loc), { size: data.length });
      const got = await buffer(await b.get(loc));
      assert.equal(got.length, data.length);
      assert.ok(got.equals(data), 'bytes read back differ from bytes written');
      await b.delete(loc);
    });

    test('inclusive byte ranges return exactly the bytes asked for', async () => {
      const data = randomBytes(1000);
      const loc = { bucket: BUCKET, key: 'ranged' };
      await b.put(loc, Readable.from([data]), data.length);
      assert.ok((await buffer(await b.get(loc, { start: 0, end: 0 }))).equals(data.subarray(0, 1)));
      assert.ok((await buffer(await b.get(loc, { start: 100, end: 199 }))).equals(data.subarray(100, 200)));
      assert.ok((await buffer(await b.get(loc, { start: 999, end: 999 }))).equals(data.subarray(999)));
      // Past the end: served up to the last byte, as S3 does.
      assert.ok((await buffer(await b.get(loc, { start: 990, end: 5000 }))).equals(data.subarray(990)));
      await assert.rejects(b.get(loc, { start: 1000, end: 1001 }), RangeError);
      await b.delete(loc);
    });

    test('head and get of a missing blob report absence', async () => {
      const loc = { bucket: BUCKET, key: 'never-written' };
      assert.equal(await b.head(loc), null);
      await assert.rejects(b.get(loc), BlobNotFoundError);
      await assert.rejects(b.get({ bucket: 's3gw-no-such-bucket', key: 'x' }), BlobNotFoundError);
    });

    test('delete is idempotent', async () => {
      const loc = { bucket: BUCKET, key: 'deleted' };
      await b.put(loc, Readable.from([Buffer.from('x')]), 1);
      await b.delete(loc);
      await b.delete(loc);
      assert.equal(await b.head(loc), null);
    });

    test('list returns keys with sizes, filtered by prefix, in key order', async () => {
      const bucket = `${BUCKET}-list`;
      await b.ensureBucket(bucket);
      for (const [k, n] of [['p-b', 3], ['p-a', 2], ['q-c', 1]] as const) {
        await b.put({ bucket, key: k }, Readable.from([Buffer.alloc(n, 1)]), n);
      }
      assert.deepEqual(await keys(b, bucket), [
        { key: 'p-a', size: 2 },
        { key: 'p-b', size: 3 },
        { key: 'q-c', size: 1 },
      ]);
      assert.deepEqual(await keys(b, bucket, 'p-'), [
        { key: 'p-a', size: 2 },
        { key: 'p-b', size: 3 },
      ]);
      assert.deepEqual(await keys(b, 's3gw-no-such-bucket'), []);
      for (const k of ['p-a', 'p-b', 'q-c']) await b.delete({ bucket, key: k });
      await b.deleteBucket(bucket);
      await b.deleteBucket(bucket);
    });

    test('a short body is rejected with IncompleteBody and leaves nothing', async () => {
      const loc = { bucket: BUCKET, key: 'short' };
      await assert.rejects(b.put(loc, chunked(randomBytes(50_000)), 100_000), (err: unknown) => {
        assert.ok(err instanceof IncompleteBodyError);
        assert.equal(err.code, 'IncompleteBody');
        assert.equal(err.received, 50_000);
        return true;
      });
      assert.equal(await b.head(loc), null);
      assert.deepEqual(await fx.leftovers(), []);
    });

    test('a long body is rejected with IncompleteBody and leaves nothing', async () => {
      const loc = { bucket: BUCKET, key: 'long' };
      await assert.rejects(b.put(loc, chunked(randomBytes(150_000), 50_000), 100_000), (err: unknown) => {
        assert.ok(err instanceof IncompleteBodyError);
        assert.equal(err.code, 'IncompleteBody');
        return true;
      });
      assert.equal(await b.head(loc), null);
      assert.deepEqual(await fx.leftovers(), []);
    });

    test('aborting a put mid-body rejects and leaves nothing', async () => {
      const loc = { bucket: BUCKET, key: 'aborted' };
      const ctl = new AbortController();
      const p = b.put(loc, stalling(randomBytes(100_000)), 1_000_000, ctl.signal);
      setTimeout(() => ctl.abort(new Error('client went away')), 200);
      await assert.rejects(p, /client went away|aborted/i);
      assert.equal(await b.head(loc), null);
      assert.deepEqual(await fx.leftovers(), []);
    });

    test('a source error rejects the put with that error and leaves nothing', async () => {
      const loc = { bucket: BUCKET, key: 'source-error' };
      const src = stalling(randomBytes(100_000));
      setTimeout(() => src.destroy(new Error('signature mismatch in chunk 2')), 200);
      await assert.rejects(b.put(loc, src, 1_000_000), /signature mismatch in chunk 2/);
      assert.equal(await b.head(loc), null);
      assert.deepEqual(await fx.leftovers(), []);
    });

    test('health reports ok with a round-trip time', async () => {
      const h = await b.health();
      assert.equal(h.ok, true, h.error);
      assert.equal(typeof h.rttMs, 'number');
      assert.ok(h.rttMs >= 0);
    });
  });
}

driverSuite('local-disk', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'fedgate-local-disk-'));
  const backend = createLocalDiskBackend({ name: 'disk', root });
  return {
    backend,
    leftovers: async () => (await readdir(path.join(root, BUCKET))).filter((n) => n.includes('.tmp-')),
    close: () => rm(root, { recursive: true, force: true }),
  };
});

function s3Fixture(start: () => Promise<S3ServerHandle>) {
  return async (): Promise<Fixture> => {
    const srv = await start();
    const backend = createS3Backend({
      name: srv.kind,
      endpoint: srv.endpoint,
      region: srv.region,
      accessKeyId: srv.accessKeyId,
      secretAccessKey: srv.secretAccessKey,
      timeoutMs: 5000,
    });
    return {
      backend,
      // Only keys from the suite's own finished writes may remain; the tests delete them.
      leftovers: async () => (await keys(backend, BUCKET)).map((o) => o.key),
      close: async () => {
        await backend.close?.();
        await srv.stop();
      },
    };
  };
}

driverSuite('s3 (s3rver)', s3Fixture(startS3rver));
driverSuite('s3 (moto)', s3Fixture(startMoto), motoUnavailable() ?? false);

describe('local-disk driver refuses locators that could escape its root', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'fedgate-local-disk-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  for (const [what, loc] of [
    ['a key with ..', { bucket: 'b', key: '..' }],
    ['a key with a slash', { bucket: 'b', key: 'a/b' }],
    ['a key with NUL', { bucket: 'b', key: 'a\0b' }],
    ['a bucket with a slash', { bucket: '../etc', key: 'k' }],
    ['a bucket named ..', { bucket: '..', key: 'k' }],
  ] as const) {
    test(`${what} is refused with InvalidLocatorError`, async () => {
      const b = createLocalDiskBackend({ name: 'disk', root });
      await assert.rejects(b.put(loc, Readable.from([Buffer.from('x')]), 1), InvalidLocatorError);
      await assert.rejects(b.get(loc), InvalidLocatorError);
      await assert.rejects(b.head(loc), InvalidLocatorError);
      await assert.rejects(b.delete(loc), InvalidLocatorError);
    });
  }
});
