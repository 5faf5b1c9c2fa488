// ResumingRead on its own, with the ways a replica's body can break off that the s3rver tests
// cannot easily produce: a chain of breaks, answers of the wrong length (ending cleanly too soon,
// going on too long), and a read given up while a resume is pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ResumingRead } from '../../shared/dataplane/resume.ts';

const DATA = randomBytes(300_000);
const noWrongLength = (why: string) => assert.fail(`reported a wrong length: ${why}`);

/** `data` in `size`-byte pieces, then an error if `fail` is given. */
function replica(data: Buffer, fail?: Error, size = 10_000): Readable {
  async function* pieces() {
    for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
    if (fail) throw fail;
  }
  return Readable.from(pieces(), { objectMode: false });
}

test('an answer that ends cleanly too soon is reported as the wrong length and carried on from the next replica', async () => {
  const asked: number[] = [];
  const wrong: string[] = [];
  const read = new ResumingRead(replica(DATA.subarray(0, 120_000)), DATA.length, async (offset) => {
    asked.push(offset);
    return replica(DATA.subarray(offset));
  }, (why) => wrong.push(why));
  assert.ok((await buffer(read)).equals(DATA));
  assert.deepEqual(asked, [120_000]);
  assert.deepEqual(wrong, ["the replica's answer ended after 120000 of 300000 bytes"]);
});

test('a chain of breaks: each resume starts where the one before stopped', async () => {
  const asked: number[] = [];
  const read = new ResumingRead(replica(DATA.subarray(0, 50_000), new Error('ECONNRESET')), DATA.length, async (offset) => {
    asked.push(offset);
    return asked.length === 1 ? replica(DATA.subarray(offset, 210_000), new Error('timeout')) : replica(DATA.subarray(offset));
  }, noWrongLength);
  assert.ok((await buffer(read)).equals(DATA));
  assert.deepEqual(asked, [50_000, 210_000]);
});

test('when no replica can take over, the stream fails with the reason of the last break', async () => {
  const read = new ResumingRead(replica(DATA.subarray(0, 50_000), new Error('ECONNRESET')), DATA.length, async (_offset, why) => {
    throw why;
  }, noWrongLength);
  await assert.rejects(buffer(read), /ECONNRESET/);
});

test('an answer that goes on past the bytes asked for is reported, and the rest comes from the next replica', async () => {
  const wrong: string[] = [];
  const asked: number[] = [];
  // The first replica's copy is longer; its 7,000-byte pieces overshoot the end within one.
  const read = new ResumingRead(replica(Buffer.concat([DATA, randomBytes(10_000)]), undefined, 7_000), DATA.length, async (offset) => {
    asked.push(offset);
    return replica(DATA.subarray(offset));
  }, (why) => wrong.push(why));
  assert.ok((await buffer(read)).equals(DATA), 'the overshooting piece must not be passed on');
  assert.deepEqual(asked, [294_000]);
  assert.deepEqual(wrong, ['the replica sent more than the 300000 bytes asked for']);
});

test('an answer that goes on after every byte asked for is out ends the read there (the whole-chunk check judges the bytes)', async () => {
  const wrong: string[] = [];
  const read = new ResumingRead(replica(Buffer.concat([DATA, randomBytes(10_000)])), DATA.length, async () => assert.fail('nothing is left to resume'), (why) => wrong.push(why));
  assert.ok((await buffer(read)).equals(DATA));
  assert.deepEqual(wrong, ['the replica sent more than the 300000 bytes asked for']);
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
  }, noWrongLength);
  read.resume();
  await opening;
  read.destroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(late?.destroyed, 'the late replica stream was left open');
});
