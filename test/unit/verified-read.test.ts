import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32c } from '@node-rs/crc32';
import { ReplicaMismatchError, verifiedRead } from '../../shared/dataplane/verify.ts';
import { MAX_HASH_BACKLOG_BYTES } from '../../shared/checksums/off-thread.ts';
import { backlogWatchingBody } from '../helpers/hash-backlog.ts';

function pieces(data: Buffer, size: number): Readable {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return Readable.from(out, { objectMode: false });
}

async function consume(r: Readable): Promise<{ got: Buffer; err: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of r) chunks.push(c as Buffer);
    return { got: Buffer.concat(chunks), err: null };
  } catch (err) {
    return { got: Buffer.concat(chunks), err };
  }
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const crc = (b: Buffer) => (crc32c(b) >>> 0).toString(16).padStart(8, '0');
/** The record as a chunk written now has it (CRC-32C and MD5), or as an older chunk (MD5 only). */
const record = (b: Buffer, withCrc: boolean) => ({ size: b.length, md5: md5(b), crc32c: withCrc ? crc(b) : '' });

for (const withCrc of [true, false]) {
  const digest = withCrc ? 'CRC-32C' : 'MD5';
  for (const size of [100_000, 5 * 1024 * 1024]) {
    test(`bytes that match the record pass through whole (${size} bytes, ${digest})`, async () => {
      const data = randomBytes(size);
      const { got, err } = await consume(verifiedRead(pieces(data, 65_536), record(data, withCrc), () => assert.fail('no mismatch')));
      assert.equal(err, null);
      assert.ok(got.equals(data));
    });

    test(`other bytes of the right length never come out whole, and the mismatch is told first (${size} bytes, ${digest})`, async () => {
      const data = randomBytes(size);
      const altered = Buffer.from(data);
      altered[size - 1] ^= 1;
      const told: string[] = [];
      const { got, err } = await consume(verifiedRead(pieces(altered, 65_536), record(data, withCrc), async (why) => void told.push(why)));
      assert.ok(err instanceof ReplicaMismatchError);
      assert.ok(got.length < size, `held back the end: ${got.length} of ${size} bytes came out`);
      assert.equal(told.length, 1);
      assert.ok(told[0].includes(digest), told[0]);
    });
  }
}

test('a short or a long body is a mismatch, whatever its MD5', async () => {
  const data = randomBytes(200_000);
  const short = await consume(verifiedRead(pieces(data.subarray(0, 199_999), 65_536), record(data, true), () => {}));
  assert.ok(short.err instanceof ReplicaMismatchError);
  assert.match((short.err as Error).message, /199999 of 200000 bytes/);
  const long = await consume(verifiedRead(pieces(Buffer.concat([data, Buffer.from('x')]), 65_536), record(data, true), () => {}));
  assert.ok(long.err instanceof ReplicaMismatchError);
  assert.ok(long.got.length < data.length);
});

test('destroying the verified stream destroys the replica stream', async () => {
  const source = new Readable({ read() {} });
  const v = verifiedRead(source, record(Buffer.alloc(10), false), () => {});
  v.destroy();
  await new Promise((r) => source.once('close', r));
  assert.ok(source.destroyed);
});

test('a body read whole is checked in one call: the right bytes pass, others are named', async () => {
  const { mismatchOf } = await import('../../shared/dataplane/verify.ts');
  const data = randomBytes(4096);
  const altered = Buffer.from(data);
  altered[7] ^= 0x80;
  for (const withCrc of [true, false]) {
    assert.equal(mismatchOf(data, record(data, withCrc)), null);
    assert.match(mismatchOf(altered, record(data, withCrc)) ?? '', withCrc ? /CRC-32C/ : /MD5/);
    assert.match(mismatchOf(data.subarray(1), record(data, withCrc)) ?? '', /4095 of 4096 bytes/);
  }
});

test('a replica read checked by MD5 on the hash worker holds the read back instead of queueing the body for the worker', async () => {
  const block = randomBytes(1024 * 1024);
  const replica = backlogWatchingBody(block, 256);
  // A chunk written before CRC-32C was recorded: only its MD5 is known.
  const expected = { size: replica.size, md5: replica.md5, crc32c: '' };
  let n = 0;
  for await (const c of verifiedRead(replica.body, expected, () => assert.fail('no mismatch'))) n += (c as Buffer).length;
  assert.equal(n, expected.size);
  assert.ok(replica.peak() <= MAX_HASH_BACKLOG_BYTES + block.length, `the hash worker had ${replica.peak() / 2 ** 20} MiB queued`);
});
