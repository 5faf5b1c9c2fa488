// The CRC combination behind FULL_OBJECT multipart checksums, checked against the
// CRC of the concatenated bytes computed directly by shared/checksums.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createHasher } from '../../shared/checksums/index.ts';
import { CRC_SPECS, combineCrcDigests, crcCombine, isCombinable, type CombinableAlgorithm } from '../../shared/checksums/combine.ts';

const ALGS: CombinableAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME'];

async function digest(alg: CombinableAlgorithm, data: Uint8Array): Promise<Buffer> {
  const h = createHasher(alg);
  h.update(data);
  return h.digest();
}

for (const alg of ALGS) {
  test(`combining ${alg} of parts equals the ${alg} of their concatenation`, async () => {
    // Sizes cover empty parts, single bytes, odd lengths and a multi-MiB part (len bits beyond 2^20).
    const sizes = [0, 1, 7, 4096, 65_537, 3 * 1024 * 1024 + 5, 0, 13];
    const parts = sizes.map((n) => randomBytes(n));
    const combined = combineCrcDigests(alg, await Promise.all(parts.map(async (p) => ({ digest: await digest(alg, p), length: p.length }))));
    assert.equal(combined.toString('hex'), (await digest(alg, Buffer.concat(parts))).toString('hex'));
  });

  test(`${alg} combination of two random splits matches, 50 trials`, async () => {
    const data = randomBytes(20_000);
    for (let i = 0; i < 50; i++) {
      const cut = Math.floor(Math.random() * (data.length + 1));
      const a = data.subarray(0, cut);
      const b = data.subarray(cut);
      const got = combineCrcDigests(alg, [
        { digest: await digest(alg, a), length: a.length },
        { digest: await digest(alg, b), length: b.length },
      ]);
      assert.equal(got.toString('hex'), (await digest(alg, data)).toString('hex'), `cut at ${cut}`);
    }
  });
}

test('crcCombine reproduces the CRC-32 check value of "123456789" from "1234" and "56789"', async () => {
  // Check value from https://reveng.sourceforge.io/crc-catalogue/ (CRC-32/ISO-HDLC: cbf43926).
  const crcA = BigInt('0x' + (await digest('CRC32', Buffer.from('1234'))).toString('hex'));
  const crcB = BigInt('0x' + (await digest('CRC32', Buffer.from('56789'))).toString('hex'));
  assert.equal(crcCombine(CRC_SPECS.CRC32, crcA, crcB, 5).toString(16), 'cbf43926');
});

test('no parts combine to the CRC of nothing, zero', () => {
  assert.equal(combineCrcDigests('CRC32', []).toString('hex'), '00000000');
  assert.equal(combineCrcDigests('CRC64NVME', []).toString('hex'), '0000000000000000');
});

test('a digest of the wrong width is refused', () => {
  assert.throws(() => combineCrcDigests('CRC64NVME', [{ digest: Buffer.alloc(4), length: 1 }]), RangeError);
});

test('only the CRC algorithms are combinable', () => {
  assert.deepEqual(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'].filter(isCombinable), ['CRC32', 'CRC32C', 'CRC64NVME']);
});
