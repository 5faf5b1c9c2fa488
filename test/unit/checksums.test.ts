import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checksumBase64, createHasher } from '../../shared/checksums/index.ts';

// Reference values: the check value "123456789" of each CRC catalogue entry
// (https://reveng.sourceforge.io/crc-catalogue/), and the NIST SHA vectors for "abc".
test('checksums match the published check values', async () => {
  const nine = Buffer.from('123456789');
  assert.equal((await digestHex('CRC32', nine)), 'cbf43926');
  assert.equal((await digestHex('CRC32C', nine)), 'e3069283');
  assert.equal((await digestHex('CRC64NVME', nine)), 'ae8b14860a799888');
  assert.equal(await checksumBase64('SHA256', Buffer.from('abc')), Buffer.from('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'hex').toString('base64'));
  assert.equal(await checksumBase64('SHA1', Buffer.from('abc')), Buffer.from('a9993e364706816aba3e25717850c26c9cd0d89d', 'hex').toString('base64'));
});

test('a hasher fed in pieces equals one fed at once', async () => {
  const data = Buffer.alloc(100_000, 7);
  for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
    const h = createHasher(alg);
    for (let i = 0; i < data.length; i += 333) h.update(data.subarray(i, i + 333));
    assert.equal((await h.digest()).toString('base64'), await checksumBase64(alg, data), alg);
  }
});

async function digestHex(alg: 'CRC32' | 'CRC32C' | 'CRC64NVME', data: Buffer): Promise<string> {
  const h = createHasher(alg);
  h.update(data);
  return (await h.digest()).toString('hex');
}
