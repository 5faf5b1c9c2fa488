// ResumingRead on its own, with the ways a replica's body can break off that the s3rver tests
// cannot easily produce: an answer that ends short without an error (a truncated file on a local
// disk), one that sends more than was asked for, and a read given up while a resume is pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ResumingRead } from '../../shared/dataplane/resume.ts';

const DATA = randomBytes(300_000);

/** `data` in 10,000-byte pieces, then an error if `fail` is given. */
function replica(data: Buffer, fail?: Error): Readable {
  async function* pieces() {
    for (let i = 0; i < data.length; i += 10_000) yield data.subarray(i, i + 10_000);
    if (fail) throw fail;
  }
  return Readable.from(pieces(), { objectMode: false });
}

test('an answer that ends short without an error is carried on from the next replica at the first byte not sent', async () => {
  const asked: number[] = [];
  const read = new ResumingRead(replica(DATA.subarray(0, 120_000)), DATA.length, async (offset) => {
    asked.push(offset);
    return replica(DATA.subarray(offset));
  });
  assert.ok((await buffer(read)).equals(DATA));
  assert.deepEqual(asked, [120_000]);
});

test('a chain of breaks: each resume starts where the one before stopped', async () => {
  const asked: number[] = [];
  const read = new ResumingRead(replica(DATA.subarray(0, 50_000), new Error('ECONNRESET')), DATA.length, async (offset) => {
    asked.push(offset);
    return asked.length === 1 ? replica(DATA.subarray(offset, 210_000), new Error('timeout')) : replica(DATA.subarray(offset));
  });
  assert.ok((await buffer(read)).equals(DATA));
  assert.deepEqual(asked, [50_000, 210_000]);
});

test('when no replica can take over, the stream fails with the reason of the last break', async () => {
  const read = new ResumingRead(replica(DATA.subarray(0, 50_000), new Error('ECONNRESET')), DATA.length, async (_offset, why) => {
    throw why;
  });
  await assert.rejects(buffer(read), /ECONNRESET/);
});

test('a replica that sends more than was asked for fails the read (never more bytes than the range)', async () => {
  const read = new ResumingRead(replica(DATA), DATA.length - 1, async () => assert.fail('nothing to resume'));
  await assert.rejects(buffer(read), /more than the 299999 bytes asked for/);
});

test('a read given up while a resume is pending destroys the replica that answers late', async () => {
  let late: Readable | undefined;
  let opened!: () => void;
  const opening = new Promise<void>((r) => (opened = r));
  const read = new ResumingRead(replica(DATA.subarray(0, 10_000), new Error('ECONNRESET')), DATA.length, async (offset) => {
    opened();
    await new Promise((r) => setTimeout(r, 50));
    late = replica(DATA.subarray(offset));
    return late;
  });
  read.resume();
  await opening;
  read.destroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(late?.destroyed, 'the late replica stream was left open');
});
