// A GET that outlives the backend timeout must still deliver every byte: the timeout
// bounds the wait for a backend's first byte, not the length of a transfer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';

const TIMEOUT_MS = 1000;
let fg: TestFedgate;
before(async () => {
  fg = await startTestFedgate({ timeoutMs: TIMEOUT_MS });
});
after(async () => fg?.stop());

test('GetObject read slowly over longer than the backend timeout returns all bytes', async () => {
  const s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'slow' }));
  const data = randomBytes(24 * 1024 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: 'slow', Key: 'big', Body: data }));
  const got = await s3.send(new GetObjectCommand({ Bucket: 'slow', Key: 'big' }));
  const body = got.Body as Readable;
  const chunks: Buffer[] = [];
  let n = 0;
  const t0 = Date.now();
  for await (const c of body) {
    chunks.push(c as Buffer);
    n += (c as Buffer).length;
    // Stall twice, well past the timeout, once the gateway has filled its buffers.
    if (chunks.length === 8 || chunks.length === 64) await new Promise((r) => setTimeout(r, TIMEOUT_MS * 2));
  }
  assert.ok(Date.now() - t0 > TIMEOUT_MS * 3, 'the transfer really outlived the backend timeout');
  assert.equal(n, data.length);
  assert.ok(Buffer.concat(chunks).equals(data));
});
