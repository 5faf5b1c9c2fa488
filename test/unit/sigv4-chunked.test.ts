// aws-chunked bodies (sigv4-streaming, sigv4-streaming-trailers): framing, chunk
// signatures, trailing checksums and the S3 error code for each way they can be wrong.
// Request headers are signed by the SDK signer; chunk signatures by a reference
// implementation of the documented chain written here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { checksumBase64 } from '../../shared/checksums/index.ts';
import type { ChecksumAlgorithm } from '../../shared/checksums/index.ts';
import { authenticate, createPayloadVerifier, SigV4Error } from '../../gateway/sigv4/index.ts';
import type { AuthResult } from '../../gateway/sigv4/index.ts';

const AKID = 'AKIDCHUNKED';
const SECRET = 'chunked-secret';
const NOW = new Date('2026-03-04T05:06:07Z');
const AMZ_DATE = '20260304T050607Z';
const SCOPE = '20260304/us-east-1/s3/aws4_request';
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const lookup = async (id: string): Promise<string | null> => (id === AKID ? SECRET : null);
const mac = (k: string | Buffer, d: string): Buffer => createHmac('sha256', k).update(d).digest();
const SIGNING_KEY = mac(mac(mac(mac('AWS4' + SECRET, '20260304'), 'us-east-1'), 's3'), 'aws4_request');
const sha = (d: string | Buffer): string => createHash('sha256').update(d).digest('hex');

async function authFor(mode: string, decodedLength: number, extra: Record<string, string> = {}): Promise<{ auth: AuthResult; headers: IncomingHttpHeaders }> {
  const s = new SignatureV4({ service: 's3', region: 'us-east-1', sha256: Sha256, uriEscapePath: false, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
  const req = new HttpRequest({
    method: 'PUT', protocol: 'http:', hostname: 'localhost', path: '/bkt/obj',
    headers: { host: 'localhost', 'x-amz-content-sha256': mode, 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decodedLength), ...extra },
  });
  const signed = await s.sign(req, { signingDate: NOW }) as HttpRequest;
  const headers: IncomingHttpHeaders = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { auth: await authenticate({ method: 'PUT', rawPath: '/bkt/obj', rawQuery: '', headers }, lookup, { now: NOW }), headers };
}

/** Signed framing per sigv4-streaming, with the optional signed trailer of sigv4-streaming-trailers. */
function signedBody(seed: string, chunks: Buffer[], trailer?: [string, string]): Buffer {
  const parts: Buffer[] = [];
  let prev = seed;
  for (const data of [...chunks, Buffer.alloc(0)]) {
    prev = createHmac('sha256', SIGNING_KEY).update(`AWS4-HMAC-SHA256-PAYLOAD\n${AMZ_DATE}\n${SCOPE}\n${prev}\n${EMPTY}\n${sha(data)}`).digest('hex');
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${prev}\r\n`), data);
    if (data.length > 0) parts.push(Buffer.from('\r\n'));
  }
  if (trailer) {
    const line = `${trailer[0]}:${trailer[1]}`;
    const sig = createHmac('sha256', SIGNING_KEY).update(`AWS4-HMAC-SHA256-TRAILER\n${AMZ_DATE}\n${SCOPE}\n${prev}\n${sha(line + '\n')}`).digest('hex');
    parts.push(Buffer.from(`${line}\r\nx-amz-trailer-signature:${sig}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** STREAMING-UNSIGNED-PAYLOAD-TRAILER framing as the JS SDK writes it. */
function unsignedBody(chunks: Buffer[], trailerLines: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const c of chunks) parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n'), ...trailerLines.map((l) => Buffer.from(`${l}\r\n`)), Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

async function run(auth: AuthResult, headers: IncomingHttpHeaders, body: Buffer, step = 8192) {
  const v = createPayloadVerifier(auth, headers);
  const out: Buffer[] = [];
  v.on('data', (d: Buffer) => out.push(d));
  const done = new Promise<void>((resolve, reject) => { v.on('end', resolve); v.on('error', reject); });
  for (let i = 0; i < body.length; i += step) v.write(body.subarray(i, i + step));
  v.end();
  await done;
  return { body: Buffer.concat(out), trailer: v.trailerChecksum };
}

async function fails(auth: AuthResult, headers: IncomingHttpHeaders, body: Buffer, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(run(auth, headers, body), (err: unknown) => {
    assert.ok(err instanceof SigV4Error, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const DATA = Buffer.from(Array.from({ length: 40000 }, (_, i) => (i * 7) & 0xff));
const PIECES = [DATA.subarray(0, 16384), DATA.subarray(16384, 32768), DATA.subarray(32768)];

test('unsigned-trailer bodies decode for every checksum algorithm and report the verified trailer', async () => {
  for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as ChecksumAlgorithm[]) {
    const name = `x-amz-checksum-${alg.toLowerCase()}`;
    const { auth, headers } = await authFor('STREAMING-UNSIGNED-PAYLOAD-TRAILER', DATA.length, { 'x-amz-trailer': name });
    const value = await checksumBase64(alg, DATA);
    for (const step of [1 << 20, 8192, 5]) {
      const { body, trailer } = await run(auth, headers, unsignedBody(PIECES, [`${name}:${value}`]), step);
      assert.ok(body.equals(DATA), `${alg} step ${step}`);
      assert.deepEqual(trailer, { algorithm: alg, value });
    }
  }
});

test('unsigned-trailer bodies: each defect gets its S3 error code', async () => {
  const name = 'x-amz-checksum-crc32';
  const { auth, headers } = await authFor('STREAMING-UNSIGNED-PAYLOAD-TRAILER', DATA.length, { 'x-amz-trailer': name });
  const value = await checksumBase64('CRC32', DATA);
  const good = unsignedBody(PIECES, [`${name}:${value}`]);
  const flipped = Buffer.from(good);
  flipped[100] ^= 1;
  await fails(auth, headers, flipped, 'BadDigest', /^The CRC32 you specified did not match the calculated checksum\.$/);
  await fails(auth, headers, unsignedBody(PIECES, [`${name}:AAAAAA==`]), 'BadDigest');
  await fails(auth, headers, unsignedBody(PIECES, [`${name}:not-base64!`]), 'InvalidRequest', /x-amz-checksum-crc32 trailing header is invalid/);
  await fails(auth, headers, unsignedBody(PIECES, []), 'MalformedTrailerError');
  await fails(auth, headers, unsignedBody(PIECES, [`x-amz-checksum-sha256:${value}`]), 'MalformedTrailerError');
  await fails(auth, headers, unsignedBody(PIECES, [`${name}:${value}`, 'x-amz-meta-late:1']), 'MalformedTrailerError');
  await fails(auth, headers, unsignedBody(PIECES, ['no colon here']), 'MalformedTrailerError');
  await fails(auth, headers, good.subarray(0, good.length - 30), 'IncompleteBody');
  await fails(auth, headers, good.subarray(0, 20000), 'IncompleteBody');
  await fails(auth, headers, Buffer.concat([good, Buffer.from('extra')]), 'IncompleteBody');
  await fails(auth, headers, Buffer.from(good.toString('latin1').replace('4000\r\n', 'zz00\r\n'), 'latin1'), 'IncompleteBody');
  await fails(auth, headers, Buffer.from(good.toString('latin1').replace(/\r\n4000\r\n/, 'XX4000\r\n'), 'latin1'), 'IncompleteBody');
  // More or fewer bytes than x-amz-decoded-content-length.
  await fails(auth, headers, unsignedBody([...PIECES, Buffer.from('x')], [`${name}:${value}`]), 'IncompleteBody');
  await fails(auth, headers, unsignedBody(PIECES.slice(0, 2), [`${name}:${value}`]), 'IncompleteBody');
});

test('a trailer declaration S3 does not accept is refused before the body is read', async () => {
  const { auth, headers } = await authFor('STREAMING-UNSIGNED-PAYLOAD-TRAILER', 1, { 'x-amz-trailer': 'x-amz-checksum-md5' });
  assert.throws(() => createPayloadVerifier(auth, headers), { code: 'InvalidRequest' });
  const two = await authFor('STREAMING-UNSIGNED-PAYLOAD-TRAILER', 1, { 'x-amz-trailer': 'x-amz-checksum-crc32,x-amz-checksum-sha1' });
  assert.throws(() => createPayloadVerifier(two.auth, two.headers), { code: 'InvalidRequest' });
  const signedNoTrailer = await authFor('STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 1, { 'x-amz-trailer': 'x-amz-checksum-crc32' });
  assert.throws(() => createPayloadVerifier(signedNoTrailer.auth, signedNoTrailer.headers), { code: 'MalformedTrailerError' });
});

test('signed chunks verify along the seed chain, with and without a signed trailer', async () => {
  const big = [Buffer.alloc(8192, 1), Buffer.alloc(9000, 2), Buffer.alloc(10, 3)];
  const total = 8192 + 9000 + 10;
  const plain = await authFor('STREAMING-AWS4-HMAC-SHA256-PAYLOAD', total);
  const decoded = await run(plain.auth, plain.headers, signedBody(plain.auth.signing.seedSignature, big), 333);
  assert.ok(decoded.body.equals(Buffer.concat(big)));

  const withTrailer = await authFor('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', total, { 'x-amz-trailer': 'x-amz-checksum-sha256' });
  const value = await checksumBase64('SHA256', Buffer.concat(big));
  const out = await run(withTrailer.auth, withTrailer.headers,
    signedBody(withTrailer.auth.signing.seedSignature, big, ['x-amz-checksum-sha256', value]));
  assert.deepEqual(out.trailer, { algorithm: 'SHA256', value });
});

test('signed chunks: tampering, reordering, missing signatures and short chunks are refused', async () => {
  const chunks = [Buffer.alloc(8192, 1), Buffer.alloc(8192, 2)];
  const { auth, headers } = await authFor('STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 16384);
  const seed = auth.signing.seedSignature;
  const good = signedBody(seed, chunks);
  const tampered = Buffer.from(good);
  tampered[200] ^= 0xff;
  await fails(auth, headers, tampered, 'SignatureDoesNotMatch');
  // Two correctly signed chunks sent in swapped order break the chain.
  const frame = '2000;chunk-signature='.length + 64 + 2 + 8192 + 2;
  const swapped = Buffer.concat([good.subarray(frame, 2 * frame), good.subarray(0, frame), good.subarray(2 * frame)]);
  await fails(auth, headers, swapped, 'SignatureDoesNotMatch');
  await fails(auth, headers, signedBody('0'.repeat(64), chunks), 'SignatureDoesNotMatch');
  await fails(auth, headers, Buffer.from(good.toString('latin1').replace(/;chunk-signature=[0-9a-f]{64}/, ''), 'latin1'), 'SignatureDoesNotMatch');
  await fails(auth, headers, good.subarray(0, good.length - 3), 'IncompleteBody');

  const short = await authFor('STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 8292);
  await fails(short.auth, short.headers, signedBody(short.auth.signing.seedSignature, [Buffer.alloc(100), Buffer.alloc(8192)]), 'InvalidChunkSizeError');

  const trailer = await authFor('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 16384, { 'x-amz-trailer': 'x-amz-checksum-crc32' });
  const crc = await checksumBase64('CRC32', Buffer.concat(chunks));
  const unsignedTrailer = signedBody(trailer.auth.signing.seedSignature, chunks).subarray(0, -2);
  await fails(trailer.auth, trailer.headers, Buffer.concat([unsignedTrailer, Buffer.from(`x-amz-checksum-crc32:${crc}\r\n\r\n`)]), 'SignatureDoesNotMatch');
  const wrongCrc = signedBody(trailer.auth.signing.seedSignature, chunks, ['x-amz-checksum-crc32', 'AAAAAA==']);
  await fails(trailer.auth, trailer.headers, wrongCrc, 'BadDigest');
});

test('the final empty line may be missing and trailer lines may end in a bare LF', async () => {
  const { auth, headers } = await authFor('STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 8192);
  const body = signedBody(auth.signing.seedSignature, [Buffer.alloc(8192, 9)]);
  assert.equal((await run(auth, headers, body.subarray(0, -2))).body.length, 8192);
  const u = await authFor('STREAMING-UNSIGNED-PAYLOAD-TRAILER', 3, { 'x-amz-trailer': 'x-amz-checksum-crc32' });
  const crc = await checksumBase64('CRC32', Buffer.from('abc'));
  const out = await run(u.auth, u.headers, Buffer.from(`3\r\nabc\r\n0\r\nx-amz-checksum-crc32:${crc}\n\r\n`));
  assert.equal(out.body.toString(), 'abc');
});

test('a sha256 payload with x-amz-trailer is MalformedTrailerError; UNSIGNED-PAYLOAD passes bytes through', async () => {
  const s = new SignatureV4({ service: 's3', region: 'us-east-1', sha256: Sha256, uriEscapePath: false, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
  const signed = await s.sign(new HttpRequest({ method: 'PUT', hostname: 'h', path: '/b/k', headers: { host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }), { signingDate: NOW }) as HttpRequest;
  const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const auth = await authenticate({ method: 'PUT', rawPath: '/b/k', rawQuery: '', headers }, lookup, { now: NOW });
  const out = await run(auth, headers, Buffer.from('3\r\nabc\r\n0\r\n\r\n'));
  assert.equal(out.body.toString(), '3\r\nabc\r\n0\r\n\r\n');
  assert.equal(out.trailer, null);
  assert.throws(() => createPayloadVerifier(auth, { ...headers, 'x-amz-trailer': 'x-amz-checksum-crc32' }), { code: 'MalformedTrailerError' });
});

test('decoding 64 MiB of unsigned-trailer body keeps up (no per-byte work on payload)', async () => {
  const size = 64 * 1024 * 1024;
  const { auth, headers } = await authFor('STREAMING-UNSIGNED-PAYLOAD-TRAILER', size, { 'x-amz-trailer': 'x-amz-checksum-crc32' });
  const block = Buffer.alloc(64 * 1024, 0x5a);
  const crcBlocks: Buffer[] = [];
  for (let i = 0; i < size / block.length; i++) crcBlocks.push(block);
  const crc = await checksumBase64('CRC32', Buffer.concat(crcBlocks));
  const frame = Buffer.concat([Buffer.from(`${block.length.toString(16)}\r\n`), block, Buffer.from('\r\n')]);
  const v = createPayloadVerifier(auth, headers);
  let received = 0;
  v.on('data', (d: Buffer) => { received += d.length; });
  const done = new Promise<void>((resolve, reject) => { v.on('end', resolve); v.on('error', reject); });
  const started = process.hrtime.bigint();
  // Frames are written in 256 KiB network-sized pieces that cut headers at arbitrary points.
  const stream = Buffer.concat(Array.from({ length: 4 }, () => frame));
  for (let i = 0; i < size / (4 * block.length); i++) {
    for (let off = 0; off < stream.length; off += 65000) {
      if (!v.write(stream.subarray(off, off + 65000))) await new Promise((r) => v.once('drain', r));
    }
  }
  v.end(Buffer.from(`0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`));
  await done;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(received, size);
  assert.ok(ms < 15_000, `took ${ms} ms`);
});
