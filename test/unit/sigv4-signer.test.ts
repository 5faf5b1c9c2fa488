// Requests signed by the AWS SDK's own signer (@smithy/signature-v4, configured as the S3
// client configures it: no path normalization, path pre-encoded per segment), then
// verified by gateway/sigv4. Error codes follow S3; see gateway/sigv4/errors.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest, buildQueryString, extendedEncodeURIComponent } from '@smithy/core/protocols';
import { authenticate, createSigV4Verifier, SigningKeyCache, SigV4Error } from '../../gateway/sigv4/index.ts';
import type { SigV4Request } from '../../gateway/sigv4/index.ts';

const AKID = 'AKIDFEDGATETEST01';
const SECRET = 'fedgate/Secret+Key=With/Slashes0123456789';
const NOW = new Date('2026-01-01T12:00:00Z');
const lookup = async (id: string): Promise<string | null> => (id === AKID ? SECRET : null);
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function signer(secret = SECRET, sessionToken?: string): SignatureV4 {
  return new SignatureV4({
    service: 's3', region: 'us-east-1', sha256: Sha256, uriEscapePath: false,
    credentials: { accessKeyId: AKID, secretAccessKey: secret, sessionToken },
  });
}

/** Path as the S3 client puts it on the wire: each key segment extended-URI-encoded. */
function s3Path(bucket: string, key: string): string {
  return `/${bucket}/${key.split('/').map(extendedEncodeURIComponent).join('/')}`;
}

type Query = Record<string, string | string[]>;

function request(method: string, path: string, query: Query = {}, headers: Record<string, string> = {}, body?: Buffer): HttpRequest {
  return new HttpRequest({
    method, protocol: 'http:', hostname: 'localhost', port: 9000, path, query,
    headers: { host: 'localhost:9000', 'x-amz-content-sha256': body ? createHash('sha256').update(body).digest('hex') : EMPTY, ...headers },
    body,
  });
}

function wire(signed: { method: string; path: string; query?: Query | Record<string, unknown>; headers: Record<string, string> }): SigV4Request {
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v;
  return { method: signed.method, rawPath: signed.path, rawQuery: buildQueryString((signed.query ?? {}) as Query), headers };
}

async function signed(req: HttpRequest, secret = SECRET, date = NOW): Promise<SigV4Request> {
  return wire(await signer(secret).sign(req, { signingDate: date }) as HttpRequest);
}

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<SigV4Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SigV4Error, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

const KEYS = [
  'plain.txt', 'with space.txt', 'ünïcödé/ключ 日本.txt', 'a+b=c%d~e&f', 'dir//double/./dot/../x', "!*'()[]{}@:,;$", 'trailing/',
];

test('header-signed requests for unusual keys and query strings authenticate', async () => {
  const query: Query = { prefix: 'a b+c/ü', delimiter: '/', 'list-type': '2', empty: '', tag: ['b', 'a', 'a', ''] };
  for (const key of KEYS) {
    const body = Buffer.from(`body of ${key}`);
    const put = await signed(request('PUT', s3Path('bkt', key), {}, { 'x-amz-meta-note': '  two   spaces ' }, body));
    const result = await authenticate(put, lookup, { now: NOW });
    assert.deepEqual(result.payload, { kind: 'sha256', hex: createHash('sha256').update(body).digest('hex') }, key);
    assert.equal(result.accessKeyId, AKID);
    await authenticate(await signed(request('GET', s3Path('bkt', key), query)), lookup, { now: NOW });
  }
});

test('a path or query spelled with a different but equivalent percent-encoding still authenticates', async () => {
  const get = await signed(request('GET', s3Path('bkt', 'ünï code~x.txt'), { prefix: 'a b', marker: 'x~y' }));
  // Lower-case hex, '~' escaped, '-' escaped: all decode to the same bytes.
  const rawPath = get.rawPath.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()).replace('~', '%7E').replace('bkt', '%62kt');
  const rawQuery = get.rawQuery.replace('a%20b', 'a+b').replace('x~y', 'x%7Ey');
  await authenticate({ ...get, rawPath, rawQuery }, lookup, { now: NOW });
});

test('presigned URLs from the SDK signer authenticate, also with a session token', async () => {
  for (const key of KEYS) {
    const req = request('GET', s3Path('bkt', key), { 'response-content-type': 'text/plain; charset=utf-8', versionId: '' }, {
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    });
    const presigned = await signer(SECRET, 'session/token+=').presign(req, { signingDate: NOW, expiresIn: 3600 });
    const result = await authenticate(wire(presigned), lookup, { now: new Date(NOW.getTime() + 3599_000) });
    assert.equal(result.presigned, true, key);
    assert.deepEqual(result.payload, { kind: 'unsigned' });
    await rejects(authenticate({ ...wire(presigned), rawPath: s3Path('bkt', key + 'x') }, lookup, { now: NOW }), 'SignatureDoesNotMatch');
  }
  const week = await signer().presign(request('PUT', s3Path('bkt', 'k')), { signingDate: NOW, expiresIn: 604800 });
  await authenticate(wire(week), lookup, { now: new Date(NOW.getTime() + 604800_000) });
});

test('a wrong secret is SignatureDoesNotMatch and the error carries the string to sign', async () => {
  const err = await rejects(authenticate(await signed(request('GET', '/bkt/k'), 'not-the-secret'), lookup, { now: NOW }), 'SignatureDoesNotMatch');
  assert.equal(err.httpStatus, 403);
  assert.match(err.details.StringToSign, /^AWS4-HMAC-SHA256\n20260101T120000Z\n20260101\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}$/);
});

test('an unknown access key is InvalidAccessKeyId', async () => {
  const unknown = async (): Promise<string | null> => null;
  const err = await rejects(authenticate(await signed(request('GET', '/bkt/k')), unknown, { now: NOW }), 'InvalidAccessKeyId');
  assert.equal(err.details.AWSAccessKeyId, AKID);
});

test('a request 16 minutes off the server clock is RequestTimeTooSkewed, 14 minutes is accepted', async () => {
  const req = await signed(request('GET', '/bkt/k'));
  await rejects(authenticate(req, lookup, { now: new Date(NOW.getTime() + 16 * 60_000) }), 'RequestTimeTooSkewed');
  await rejects(authenticate(req, lookup, { now: new Date(NOW.getTime() - 16 * 60_000) }), 'RequestTimeTooSkewed');
  await authenticate(req, lookup, { now: new Date(NOW.getTime() + 14 * 60_000) });
  await rejects(authenticate(req, lookup, { now: new Date(NOW.getTime() + 2 * 60_000), maxSkewMs: 60_000 }), 'RequestTimeTooSkewed');
});

test('an expired presigned URL is AccessDenied "Request has expired"; one dated in the future is not valid yet', async () => {
  const presigned = wire(await signer().presign(request('GET', '/bkt/k'), { signingDate: NOW, expiresIn: 60 }));
  const err = await rejects(authenticate(presigned, lookup, { now: new Date(NOW.getTime() + 61_000) }), 'AccessDenied', /^Request has expired$/);
  assert.equal(err.details['X-Amz-Expires'], '60');
  await rejects(authenticate(presigned, lookup, { now: new Date(NOW.getTime() - 16 * 60_000) }), 'AccessDenied', /not valid yet/);
});

test('X-Amz-Expires outside 1..604800 or not a number is AuthorizationQueryParametersError', async () => {
  const presigned = wire(await signer().presign(request('GET', '/bkt/k'), { signingDate: NOW, expiresIn: 60 }));
  for (const bad of ['0', '604801', '-1', 'abc', '']) {
    const rawQuery = presigned.rawQuery.replace('X-Amz-Expires=60', `X-Amz-Expires=${bad}`);
    await rejects(authenticate({ ...presigned, rawQuery }, lookup, { now: NOW }), 'AuthorizationQueryParametersError');
  }
  const missing = presigned.rawQuery.replace(/X-Amz-SignedHeaders=[^&]*&?/, '');
  await rejects(authenticate({ ...presigned, rawQuery: missing }, lookup, { now: NOW }), 'AuthorizationQueryParametersError', /requires/);
  const algo = presigned.rawQuery.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512');
  await rejects(authenticate({ ...presigned, rawQuery: algo }, lookup, { now: NOW }), 'AuthorizationQueryParametersError');
});

test('requests without credentials, or with two mechanisms or other schemes, get S3 answers', async () => {
  const anon: SigV4Request = { method: 'GET', rawPath: '/bkt/k', rawQuery: '', headers: { host: 'h' } };
  await rejects(authenticate(anon, lookup, { now: NOW }), 'AccessDenied');
  const presigned = wire(await signer().presign(request('GET', '/bkt/k'), { signingDate: NOW }));
  const header = await signed(request('GET', '/bkt/k'));
  await rejects(authenticate({ ...presigned, headers: header.headers }, lookup, { now: NOW }), 'InvalidArgument');
  const h = (authorization: string): SigV4Request => ({ ...header, headers: { ...header.headers, authorization } });
  await rejects(authenticate(h(`AWS ${AKID}:c2lnbmF0dXJl`), lookup, { now: NOW }), 'InvalidRequest');
  await rejects(authenticate(h('Bearer abc'), lookup, { now: NOW }), 'InvalidArgument', /Unsupported Authorization Type/);
  // SigV2 presigned URLs (aws cli v1's `s3 presign`) are verified: an unknown key is refused as such.
  await rejects(authenticate({ ...anon, rawQuery: 'AWSAccessKeyId=a&Signature=b&Expires=1' }, lookup, { now: NOW }), 'InvalidAccessKeyId');
});

test('malformed Authorization headers are AuthorizationHeaderMalformed', async () => {
  const req = await signed(request('GET', '/bkt/k'));
  const auth = req.headers.authorization as string;
  const h = (authorization: string): SigV4Request => ({ ...req, headers: { ...req.headers, authorization } });
  await rejects(authenticate(h(auth.replace(/, Signature=[0-9a-f]+/, '')), lookup, { now: NOW }), 'AuthorizationHeaderMalformed', /three components/);
  await rejects(authenticate(h(auth.replace('SignedHeaders=', 'SignedHeaders')), lookup, { now: NOW }), 'AuthorizationHeaderMalformed');
  await rejects(authenticate(h(auth.replace(`${AKID}/`, '')), lookup, { now: NOW }), 'AuthorizationHeaderMalformed', /Credential is mal-formed/);
  await rejects(authenticate(h(auth.replace('/s3/', '/ec2/')), lookup, { now: NOW }), 'AuthorizationHeaderMalformed', /incorrect service "ec2"/);
  await rejects(authenticate(h(auth.replace('aws4_request', 'aws5_request')), lookup, { now: NOW }), 'AuthorizationHeaderMalformed');
  await rejects(authenticate(h(auth.replace('20260101/', '2026011/')), lookup, { now: NOW }), 'AuthorizationHeaderMalformed');
  await rejects(authenticate(h(auth.replace('20260101/', '20260102/')), lookup, { now: NOW }), 'AuthorizationHeaderMalformed', /Invalid credential date/);
  const region = await rejects(authenticate(req, lookup, { now: NOW, region: 'eu-west-1' }), 'AuthorizationHeaderMalformed', /'us-east-1' is wrong/);
  assert.equal(region.details.Region, 'eu-west-1');
  await authenticate(req, lookup, { now: NOW, region: 'us-east-1' });
  const presigned = wire(await signer().presign(request('GET', '/bkt/k'), { signingDate: NOW }));
  await rejects(authenticate(presigned, lookup, { now: NOW, region: 'eu-west-1' }), 'AuthorizationQueryParametersError', /region/);
});

test('date and payload-hash headers: missing or malformed ones get S3 codes', async () => {
  const req = await signed(request('GET', '/bkt/k'));
  const without = (name: string): IncomingHttpHeaders => Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== name));
  await rejects(authenticate({ ...req, headers: without('x-amz-date') }, lookup, { now: NOW }), 'AccessDenied', /valid Date or x-amz-date/);
  await rejects(authenticate({ ...req, headers: { ...req.headers, 'x-amz-date': '2026-01-01T12:00:00Z' } }, lookup, { now: NOW }), 'AccessDenied');
  await rejects(authenticate({ ...req, headers: without('x-amz-content-sha256') }, lookup, { now: NOW }), 'InvalidRequest', /x-amz-content-sha256/);
  const bad = await signed(request('GET', '/bkt/k', {}, { 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' }));
  await rejects(authenticate(bad, lookup, { now: NOW }), 'InvalidArgument');
  const short = await signed(request('GET', '/bkt/k', {}, { 'x-amz-content-sha256': 'abc123' }));
  await rejects(authenticate(short, lookup, { now: NOW }), 'InvalidArgument');
  const unsigned = await signed(request('PUT', '/bkt/k', {}, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '5' }));
  const result = await authenticate(unsigned, lookup, { now: NOW });
  assert.deepEqual(result.payload, { kind: 'unsigned' });
  assert.equal(result.decodedContentLength, 5);
});

test('host and every x-amz-* header must be signed (AccessDenied, HeadersNotSigned)', async () => {
  const req = await signed(request('PUT', '/bkt/k', {}, { 'x-amz-meta-a': '1' }));
  const added = await rejects(authenticate({ ...req, headers: { ...req.headers, 'x-amz-acl': 'public-read' } }, lookup, { now: NOW }),
    'AccessDenied', /not signed/);
  assert.equal(added.details.HeadersNotSigned, 'x-amz-acl');
  const noHost = signer().sign(request('GET', '/bkt/k'), { signingDate: NOW, unsignableHeaders: new Set(['host']) });
  const err = await rejects(authenticate(wire(await noHost as HttpRequest), lookup, { now: NOW }), 'AccessDenied');
  assert.equal(err.details.HeadersNotSigned, 'host');
  // A signed header altered in transit is a signature mismatch.
  await rejects(authenticate({ ...req, headers: { ...req.headers, 'x-amz-meta-a': '2' } }, lookup, { now: NOW }), 'SignatureDoesNotMatch');
  // Unsigned ordinary headers (user-agent, expect) are fine.
  await authenticate({ ...req, headers: { ...req.headers, 'user-agent': 'x', expect: '100-continue' } }, lookup, { now: NOW });
});

test('a repeated signed header verifies when the distinct values are passed', async () => {
  // SigV4 joins repeated header values with ','; Node joins them with ', '.
  const req = await signed(request('GET', '/bkt/k', {}, { 'x-amz-meta-list': 'a,b' }));
  const node = { ...req, headers: { ...req.headers, 'x-amz-meta-list': 'a, b' } };
  await rejects(authenticate(node, lookup, { now: NOW }), 'SignatureDoesNotMatch');
  await authenticate({ ...node, headersDistinct: { 'x-amz-meta-list': ['a', 'b'] } }, lookup, { now: NOW });
});

test('a request dated only by the Date header authenticates (independent reference signer)', async () => {
  const date = 'Thu, 01 Jan 2026 12:00:00 GMT';
  const headers: IncomingHttpHeaders = { host: 'localhost:9000', date, 'x-amz-content-sha256': EMPTY };
  const canonical = `GET\n/bkt/k\n\ndate:${date}\nhost:localhost:9000\nx-amz-content-sha256:${EMPTY}\n\ndate;host;x-amz-content-sha256\n${EMPTY}`;
  const scope = '20260101/us-east-1/s3/aws4_request';
  const toSign = `AWS4-HMAC-SHA256\n20260101T120000Z\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const mac = (k: string | Buffer, d: string): Buffer => createHmac('sha256', k).update(d).digest();
  const key = mac(mac(mac(mac('AWS4' + SECRET, '20260101'), 'us-east-1'), 's3'), 'aws4_request');
  const sig = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${AKID}/${scope}, SignedHeaders=date;host;x-amz-content-sha256, Signature=${sig}`;
  await authenticate({ method: 'GET', rawPath: '/bkt/k', rawQuery: '', headers }, lookup, { now: NOW });
});

test('createSigV4Verifier shares one bounded signing-key cache across requests', async () => {
  let lookups = 0;
  const verifier = createSigV4Verifier(async (id) => { lookups++; return lookup(id); }, { region: 'us-east-1', keyCacheSize: 2 });
  const req = await signed(request('GET', '/bkt/k'));
  await verifier.authenticate(req, { now: NOW });
  await verifier.authenticate(req, { now: NOW });
  assert.equal(lookups, 2, 'secrets are looked up per request, so revocation takes effect at once');
  await rejects(verifier.authenticate(await signed(request('GET', '/bkt/k'), 'rotated'), { now: NOW }), 'SignatureDoesNotMatch');

  const cache = new SigningKeyCache(2);
  const k1 = cache.get('s1', '20260101', 'us-east-1');
  assert.equal(cache.get('s1', '20260101', 'us-east-1'), k1);
  cache.get('s2', '20260101', 'us-east-1');
  cache.get('s3', '20260101', 'us-east-1');
  assert.equal(cache.size, 2);
  assert.notEqual(cache.get('s1', '20260101', 'us-east-1'), k1, 'the least recently used key was evicted');
  assert.ok(cache.get('s1', '20260101', 'us-east-1').equals(k1));
});
