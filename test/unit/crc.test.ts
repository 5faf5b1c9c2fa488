import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { CRC_IMPLEMENTATION, crc32, crc32c, createCrc64, createPortableCrc64, portableCrc32c } from '../../shared/checksums/crc.ts';

// aws-crt ships binaries for these; anywhere else the portable CRCs are expected.
const CRT_PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'];

test('the native CRCs are in use where aws-crt ships a binary (a failed load would fall back silently)', () => {
  const platform = `${process.platform}-${process.arch}`;
  assert.equal(CRC_IMPLEMENTATION, CRT_PLATFORMS.includes(platform) ? 'aws-crt' : '@node-rs/crc32 + @aws-sdk/crc64-nvme', platform);
});

const MiB = 1024 * 1024;
const INPUTS = [0, 1, 7, 8, 9, 63, 64, 65, 255, 4096, 65_537, MiB + 3].map((n) => randomBytes(n));

/** Split points at and around 8-byte words and 64-byte blocks (the CRC loops' strides), the middle and the ends. */
function splits(n: number): number[] {
  return [...new Set([0, 1, 3, 8, 13, 64, 100, Math.floor(n / 2), n - 1, n].filter((i) => i >= 0 && i <= n))];
}

test('CRC-32C: the native implementation equals the portable one for lengths from 0 to 1 MiB + 3, whole and continued across a split', () => {
  for (const data of INPUTS) {
    const whole = portableCrc32c(data);
    assert.equal(crc32c(data), whole, `${data.length} bytes`);
    for (const at of splits(data.length)) {
      assert.equal(crc32c(data.subarray(at), crc32c(data.subarray(0, at))), whole, `${data.length} bytes split at ${at}`);
    }
    // Unaligned views of a larger buffer, as the HTTP reader hands out slices of its slabs.
    if (data.length > 3) assert.equal(crc32c(data.subarray(3)), portableCrc32c(data.subarray(3)));
  }
});

test('CRC64NVME: the native implementation equals the portable one for lengths from 0 to 1 MiB + 3, whole and continued across a split', async () => {
  for (const data of INPUTS) {
    const want = createPortableCrc64();
    want.update(data);
    const whole = (await want.digest()).toString('hex');
    for (const at of splits(data.length)) {
      const h = createCrc64();
      h.update(data.subarray(0, at));
      h.update(data.subarray(at));
      assert.equal((await h.digest()).toString('hex'), whole, `${data.length} bytes split at ${at}`);
    }
  }
  const empty = createCrc64();
  assert.equal((await empty.digest()).toString('hex'), '0000000000000000');
});

test('CRC-32 equals node:zlib\'s for lengths from 0 to 1 MiB + 3, continued across a split', () => {
  for (const data of INPUTS) {
    const whole = zlibCrc32(data);
    for (const at of splits(data.length)) {
      assert.equal(crc32(data.subarray(at), crc32(data.subarray(0, at))), whole, `${data.length} bytes split at ${at}`);
    }
  }
});
