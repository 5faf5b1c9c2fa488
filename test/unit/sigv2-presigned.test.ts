import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticate, SigV4Error } from '../../gateway/sigv4/index.ts';

// A SigV2 presigned GET as botocore 1.43 (aws cli v1's signer, `signature_version='s3'`)
// generated it at t=1141889000 with AWS's documentation example key: path-style, a key
// with a space and a plus, and a response-* override that is part of the signed resource.
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const lookup = async (id: string) => (id === 'AKIAIOSFODNN7EXAMPLE' ? SECRET : null);
const req = (signature: string, override = 'image%2Fjpeg') => ({
  method: 'GET',
  rawPath: '/awsexamplebucket1/photos/puppy%20dog%2B1.jpg',
  rawQuery: `response-content-type=${override}&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=${signature}&Expires=1141889120`,
  headers: { host: 'localhost:9000' },
});
const GOOD = 'XS4gDh2KnhxOD0lh56f%2Bc3sjPs0%3D';
const before = new Date(1141889000 * 1000);

test('a SigV2 presigned URL made by botocore authenticates with an unsigned payload', async () => {
  const r = await authenticate(req(GOOD), lookup, { now: before });
  assert.equal(r.accessKeyId, 'AKIAIOSFODNN7EXAMPLE');
  assert.equal(r.presigned, true);
  assert.deepEqual(r.payload, { kind: 'unsigned' });
});

test('a SigV2 presigned URL with a changed signature or a changed signed override is SignatureDoesNotMatch', async () => {
  const mismatch = (e: SigV4Error) => e.code === 'SignatureDoesNotMatch';
  await assert.rejects(authenticate(req('AS4gDh2KnhxOD0lh56f%2Bc3sjPs0%3D'), lookup, { now: before }), mismatch);
  await assert.rejects(authenticate(req(GOOD, 'text%2Fhtml'), lookup, { now: before }), mismatch);
});

test('an expired SigV2 presigned URL is AccessDenied, an unknown key InvalidAccessKeyId', async () => {
  await assert.rejects(authenticate(req(GOOD), lookup, { now: new Date(1141889121 * 1000) }), (e: SigV4Error) => e.code === 'AccessDenied' && /expired/.test(e.message));
  await assert.rejects(authenticate(req(GOOD), async () => null, { now: before }), (e: SigV4Error) => e.code === 'InvalidAccessKeyId');
});
