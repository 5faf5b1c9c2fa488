// AWS's published SigV4 example vectors for S3:
// - https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html (GET Object with
//   Range, PUT Object, GET Bucket Lifecycle, GET Bucket)
// - https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (presigned GET)
// - https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html (66560-byte chunked PUT)
// - https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html (same, signed CRC32C trailer)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { authenticate, createPayloadVerifier, SigV4Error } from '../../gateway/sigv4/index.ts';
import type { AuthResult, SigV4Request } from '../../gateway/sigv4/index.ts';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const NOW = new Date('2013-05-24T00:00:00Z');
const lookup = async (id: string): Promise<string | null> => (id === AKID ? SECRET : null);
const auth = (sig: string, signed: string): string =>
  `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signed},Signature=${sig}`;
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function req(method: string, rawPath: string, rawQuery: string, headers: IncomingHttpHeaders): SigV4Request {
  return { method, rawPath, rawQuery, headers };
}

async function decode(result: AuthResult, headers: IncomingHttpHeaders, pieces: Buffer[]) {
  const verifier = createPayloadVerifier(result, headers);
  const out: Buffer[] = [];
  verifier.on('data', (d: Buffer) => out.push(d));
  const done = new Promise<void>((resolve, reject) => {
    verifier.on('end', resolve);
    verifier.on('error', reject);
  });
  for (const p of pieces) verifier.write(p);
  verifier.end();
  await done;
  return { body: Buffer.concat(out), trailer: verifier.trailerChecksum };
}

async function decodeError(result: AuthResult, headers: IncomingHttpHeaders, body: Buffer): Promise<SigV4Error> {
  try {
    await decode(result, headers, [body]);
  } catch (err) {
    assert.ok(err instanceof SigV4Error, String(err));
    return err;
  }
  assert.fail('body was accepted');
}

test('GET Object example with Range header authenticates (sig-v4-header-based-auth)', async () => {
  const result = await authenticate(req('GET', '/test.txt', '', {
    host: 'examplebucket.s3.amazonaws.com',
    range: 'bytes=0-9',
    'x-amz-content-sha256': EMPTY,
    'x-amz-date': '20130524T000000Z',
    authorization: auth('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41', 'host;range;x-amz-content-sha256;x-amz-date'),
  }), lookup, { now: NOW });
  assert.equal(result.accessKeyId, AKID);
  assert.equal(result.region, 'us-east-1');
  assert.equal(result.presigned, false);
  assert.deepEqual(result.payload, { kind: 'sha256', hex: EMPTY });
});

test('PUT Object example ($ in key, Date and x-amz-date) authenticates and its body verifies', async () => {
  const headers: IncomingHttpHeaders = {
    host: 'examplebucket.s3.amazonaws.com',
    date: 'Fri, 24 May 2013 00:00:00 GMT',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
    'content-length': '21',
    authorization: auth('98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
      'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class'),
  };
  const result = await authenticate(req('PUT', '/test%24file.text', '', headers), lookup, { now: NOW });
  assert.equal(result.decodedContentLength, 21);
  const { body } = await decode(result, headers, [Buffer.from('Welcome to Amazon S3.')]);
  assert.equal(body.toString(), 'Welcome to Amazon S3.');
  // The same path sent with '$' unencoded canonicalizes identically.
  await authenticate(req('PUT', '/test$file.text', '', headers), lookup, { now: NOW });
  const err = await decodeError(result, headers, Buffer.from('Welcome to Amazon S4.'));
  assert.equal(err.code, 'XAmzContentSHA256Mismatch');
});

test('GET Bucket Lifecycle example (?lifecycle, empty value) authenticates', async () => {
  await authenticate(req('GET', '/', 'lifecycle', {
    host: 'examplebucket.s3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-content-sha256': EMPTY,
    authorization: auth('fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543', 'host;x-amz-content-sha256;x-amz-date'),
  }), lookup, { now: NOW });
});

test('GET Bucket example (?max-keys=2&prefix=J) authenticates in any parameter order', async () => {
  const headers: IncomingHttpHeaders = {
    host: 'examplebucket.s3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-content-sha256': EMPTY,
    authorization: auth('34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7', 'host;x-amz-content-sha256;x-amz-date'),
  };
  await authenticate(req('GET', '/', 'max-keys=2&prefix=J', headers), lookup, { now: NOW });
  await authenticate(req('GET', '/', 'prefix=J&max-keys=2', headers), lookup, { now: NOW });
  await assert.rejects(authenticate(req('GET', '/', 'max-keys=3&prefix=J', headers), lookup, { now: NOW }),
    { code: 'SignatureDoesNotMatch' });
});

const PRESIGNED_QUERY = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request'
  + '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host'
  + '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';

test('presigned GET example authenticates with UNSIGNED-PAYLOAD until it expires', async () => {
  const presignedReq = req('GET', '/test.txt', PRESIGNED_QUERY, { host: 'examplebucket.s3.amazonaws.com' });
  const result = await authenticate(presignedReq, lookup, { now: new Date('2013-05-24T23:59:59Z') });
  assert.equal(result.presigned, true);
  assert.deepEqual(result.payload, { kind: 'unsigned' });
  await assert.rejects(authenticate(presignedReq, lookup, { now: new Date('2013-05-25T00:00:01Z') }),
    { code: 'AccessDenied', message: 'Request has expired' });
});

// sigv4-streaming example: 65536 + 1024 bytes of 'a', 64 KiB chunks.
const CHUNK_SIGS = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];
const TRAILER_CHUNK_SIGS = [
  'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
  '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
];
const TRAILER_SIG = 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435';

function chunkedBody(sigs: string[], trailer: string): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`), Buffer.alloc(65536, 'a'),
    Buffer.from(`\r\n400;chunk-signature=${sigs[1]}\r\n`), Buffer.alloc(1024, 'a'),
    Buffer.from(`\r\n0;chunk-signature=${sigs[2]}\r\n${trailer}\r\n`),
  ]);
}

const streamingHeaders = (): IncomingHttpHeaders => ({
  host: 's3.amazonaws.com',
  'x-amz-date': '20130524T000000Z',
  'x-amz-storage-class': 'REDUCED_REDUNDANCY',
  'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'content-encoding': 'aws-chunked',
  'x-amz-decoded-content-length': '66560',
  'content-length': '66824',
  authorization: auth('4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
    'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class'),
});

const trailerHeaders = (): IncomingHttpHeaders => ({
  host: 's3.amazonaws.com',
  'x-amz-date': '20130524T000000Z',
  'x-amz-storage-class': 'REDUCED_REDUNDANCY',
  'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'content-encoding': 'aws-chunked',
  'x-amz-decoded-content-length': '66560',
  'x-amz-trailer': 'x-amz-checksum-crc32c',
  authorization: auth('106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
    'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer'),
});

test('chunked-upload example: seed signature authenticates and the body decodes to 66560 bytes of a', async () => {
  const headers = streamingHeaders();
  const body = chunkedBody(CHUNK_SIGS, '');
  assert.equal(body.length, 66824, 'the example Content-Length');
  const result = await authenticate(req('PUT', '/examplebucket/chunkObject.txt', '', headers), lookup, { now: NOW });
  assert.deepEqual(result.payload, { kind: 'streaming-signed', trailer: false });
  assert.equal(result.decodedContentLength, 66560);
  assert.equal(result.signing.seedSignature, '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
  assert.ok(!JSON.stringify(result).includes('signing'), 'the signing key is not serialized');
  const { body: decoded, trailer } = await decode(result, headers, [body]);
  assert.ok(decoded.equals(Buffer.alloc(66560, 'a')));
  assert.equal(trailer, null);
});

test('chunked-upload example decodes identically however the body is split across reads', async () => {
  const headers = streamingHeaders();
  const result = await authenticate(req('PUT', '/examplebucket/chunkObject.txt', '', headers), lookup, { now: NOW });
  const body = chunkedBody(CHUNK_SIGS, '');
  // Cut points inside every header, inside both CRLFs around data and inside the final chunk.
  for (const step of [1, 2, 3, 7, 61, 65535, 65600]) {
    const pieces: Buffer[] = [];
    if (step === 1) {
      // Byte-by-byte only around the framing, to keep the run short.
      pieces.push(...[...body.subarray(0, 120)].map((b) => Buffer.from([b])), body.subarray(120, 65600));
      pieces.push(...[...body.subarray(65600)].map((b) => Buffer.from([b])));
    } else {
      for (let i = 0; i < body.length; i += step) pieces.push(body.subarray(i, i + step));
    }
    const { body: decoded } = await decode(result, headers, pieces);
    assert.ok(decoded.equals(Buffer.alloc(66560, 'a')), `step ${step}`);
  }
});

test('chunked-upload example with signed CRC32C trailer (sigv4-streaming-trailers) decodes and reports the checksum', async () => {
  const headers = trailerHeaders();
  const result = await authenticate(req('PUT', '/examplebucket/chunkObject.txt', '', headers), lookup, { now: NOW });
  assert.deepEqual(result.payload, { kind: 'streaming-signed', trailer: true });
  const body = chunkedBody(TRAILER_CHUNK_SIGS, `x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${TRAILER_SIG}\r\n`);
  const { body: decoded, trailer } = await decode(result, headers, [body]);
  assert.equal(decoded.length, 66560);
  assert.deepEqual(trailer, { algorithm: 'CRC32C', value: 'sOO8/Q==' });
});

test('chunked-upload example rejects a tampered chunk, chunk signature, trailer signature or truncation', async () => {
  const headers = trailerHeaders();
  const result = await authenticate(req('PUT', '/examplebucket/chunkObject.txt', '', headers), lookup, { now: NOW });
  const good = chunkedBody(TRAILER_CHUNK_SIGS, `x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${TRAILER_SIG}\r\n`);

  const data = Buffer.from(good);
  data[100] = 'b'.charCodeAt(0);
  assert.equal((await decodeError(result, headers, data)).code, 'SignatureDoesNotMatch');

  const sig = Buffer.from(good.toString('latin1').replace(TRAILER_CHUNK_SIGS[1], TRAILER_CHUNK_SIGS[1].replace(/^./, '0')), 'latin1');
  assert.equal((await decodeError(result, headers, sig)).code, 'SignatureDoesNotMatch');

  const trailerSig = Buffer.from(good.toString('latin1').replace(TRAILER_SIG, TRAILER_SIG.replace(/^./, '0')), 'latin1');
  assert.equal((await decodeError(result, headers, trailerSig)).code, 'SignatureDoesNotMatch');

  // A different checksum value breaks the trailer signature first: it signs the value.
  const crc = Buffer.from(good.toString('latin1').replace('sOO8/Q==', 'AAAAAA=='), 'latin1');
  assert.equal((await decodeError(result, headers, crc)).code, 'SignatureDoesNotMatch');

  assert.equal((await decodeError(result, headers, good.subarray(0, 40000))).code, 'IncompleteBody');
});
