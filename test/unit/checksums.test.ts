import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { checksumBase64, createHasher, hmacSha256 } from '../../shared/checksums/index.ts';
import { createOffThreadHasher } from '../../shared/checksums/off-thread.ts';

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

test('the off-thread hasher gives the same MD5 / SHA-1 / SHA-256 for every split of the input, jobs interleaved', async () => {
  const { createHash, randomBytes } = await import('node:crypto');
  const MiB = 1024 * 1024;
  const inputs = [0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 12_345].map((n) => randomBytes(n));
  const pieces = [1, 4096, 65_536, 999_983, 2 * MiB];
  const jobs: Promise<void>[] = [];
  for (const alg of ['MD5', 'SHA1', 'SHA256'] as const) {
    for (const data of inputs) {
      for (const piece of pieces) {
        if (piece === 1 && data.length > 65_536) continue;
        const h = createOffThreadHasher(alg);
        for (let i = 0; i < data.length; i += piece) h.update(data.subarray(i, i + piece));
        const expected = createHash(alg.toLowerCase()).update(data).digest('hex');
        jobs.push(h.digest().then((d) => assert.equal(d.toString('hex'), expected, `${alg} ${data.length} bytes in ${piece}-byte pieces`)));
      }
    }
  }
  await Promise.all(jobs);
});

test('a disposed off-thread hasher refuses more input and leaves later jobs exact', async () => {
  const { createHash, randomBytes } = await import('node:crypto');
  const dropped = createOffThreadHasher('MD5');
  dropped.update(randomBytes(1_500_000));
  dropped.dispose?.();
  assert.throws(() => dropped.update(Buffer.from('x')), /after digest\(\) or dispose\(\)/);
  const data = randomBytes(2_000_000);
  const h = createOffThreadHasher('MD5');
  h.update(data);
  assert.equal((await h.digest()).toString('hex'), createHash('md5').update(data).digest('hex'));
});

test('an idle hash worker does not keep the process alive', async () => {
  const { execFile } = await import('node:child_process');
  const script = `import { createOffThreadHasher } from ${JSON.stringify(new URL('../../shared/checksums/off-thread.ts', import.meta.url).href)};
const h = createOffThreadHasher('MD5'); h.update(Buffer.alloc(3_000_000, 1));
console.log((await h.digest()).toString('hex'));`;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  const { createHash } = await import('node:crypto');
  assert.equal(out.trim(), createHash('md5').update(Buffer.alloc(3_000_000, 1)).digest('hex'));
});

test('hmacSha256 gives the RFC 4231 HMAC-SHA256 whatever form the key takes (string, Buffer, a Uint8Array view, KeyObject)', () => {
  // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
  const want = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843';
  const inner = Buffer.from('xxJefexx', 'latin1');
  const view = new Uint8Array(inner.buffer, inner.byteOffset + 2, 4);
  for (const key of ['Jefe', Buffer.from('Jefe'), view, createSecretKey(Buffer.from('Jefe'))]) {
    assert.equal(hmacSha256(key).update('what do ya want for nothing?').digest('hex'), want);
  }
});
