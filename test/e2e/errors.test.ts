// Error exactness against a whole Fedgate: for each documented S3 error the implemented
// operations can produce, the code, HTTP status, message and the extra fields S3 sends,
// plus Resource (the request path) and RequestId (equal to x-amz-request-id).
// Sources: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html, the
// per-operation API references, and the wire messages S3 sends where those differ.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { CreateBucketCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { errorFields, signedFetch, type RawResponse } from '../helpers/signed-fetch.ts';

let fg: TestFedgate;
let s3: S3Client;

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'errs' }));
  await s3.send(new PutObjectCommand({ Bucket: 'errs', Key: 'there', Body: 'x' }));
});

after(async () => {
  await fg?.stop();
});

/** Asserts the whole `<Error>` document: code, status, message, extra fields, Resource and RequestId. */
function expectError(r: RawResponse, status: number, code: string, message: string, fields: Record<string, string> = {}, resource?: string): Record<string, string> {
  assert.equal(r.status, status, r.text);
  assert.equal(r.headers.get('content-type'), 'application/xml');
  const f = errorFields(r.text);
  assert.equal(f.Code, code);
  assert.equal(f.Message, message);
  for (const [k, v] of Object.entries(fields)) assert.equal(f[k], v, k);
  if (resource !== undefined) assert.equal(f.Resource, resource);
  assert.ok(f.RequestId, 'RequestId present');
  assert.equal(f.RequestId, r.headers.get('x-amz-request-id'), 'RequestId equals x-amz-request-id');
  return f;
}

/** A signed request whose headers fetch would refuse (a Content-Length larger than the body, chunked transfer). */
function rawSigned(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<RawResponse> {
  const url = new URL(fg.endpoint + path);
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: fg.accessKeyId, secretAccessKey: fg.secretAccessKey }, sha256: Sha256, uriEscapePath: false });
  return signer.sign({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query: {}, headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers } }).then(
    (signed) =>
      new Promise((resolve, reject) => {
        const req = http.request(url, { method, headers: signed.headers as Record<string, string> }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
            resolve({ status: res.statusCode ?? 0, headers: h, text: Buffer.concat(chunks).toString() });
            req.destroy();
          });
        });
        req.on('error', reject);
        if (body) req.write(body);
        if (headers['transfer-encoding']) req.end();
        else req.flushHeaders();
      }),
  );
}

test('InvalidBucketName: 400 with BucketName', async () => {
  for (const name of ['ab', 'Upper-Case', 'bad..dots', '192.168.1.1', 'xn--reserved']) {
    expectError(await signedFetch(fg, 'PUT', `/${name}`), 400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name }, `/${name}`);
  }
});

test('BucketAlreadyOwnedByYou: 409 with the message S3 sends and BucketName', async () => {
  expectError(await signedFetch(fg, 'PUT', '/errs'), 409, 'BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: 'errs' }, '/errs');
});

test('bucket names are per tenant: another tenant creating the same name succeeds (never BucketAlreadyExists)', async () => {
  const other = (await fg.admin('POST', '/admin/tenants', { name: 'errs-other' })).json;
  const r = await signedFetch({ endpoint: fg.endpoint, accessKeyId: other.accessKeyId, secretAccessKey: other.secretAccessKey }, 'PUT', '/errs');
  assert.equal(r.status, 200, r.text);
});

test('NoSuchBucket: 404 with BucketName on bucket and object operations', async () => {
  expectError(await signedFetch(fg, 'GET', '/no-such-bkt'), 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: 'no-such-bkt' }, '/no-such-bkt');
  expectError(await signedFetch(fg, 'PUT', '/no-such-bkt/k', { body: 'x' }), 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: 'no-such-bkt' }, '/no-such-bkt/k');
});

test('BucketNotEmpty: 409 with BucketName', async () => {
  expectError(await signedFetch(fg, 'DELETE', '/errs'), 409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: 'errs' }, '/errs');
});

test('NoSuchKey: 404 with Key; the same on HEAD has no body', async () => {
  expectError(await signedFetch(fg, 'GET', '/errs/missing%20key'), 404, 'NoSuchKey', 'The specified key does not exist.', { Key: 'missing key' }, '/errs/missing%20key');
  const h = await signedFetch(fg, 'HEAD', '/errs/missing');
  assert.deepEqual([h.status, h.text], [404, '']);
  assert.ok(h.headers.get('x-amz-request-id'));
});

test('NoSuchUpload: 404 with UploadId on UploadPart, ListParts, Complete and Abort', async () => {
  const message = 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.';
  expectError(await signedFetch(fg, 'PUT', '/errs/k?partNumber=1&uploadId=nope', { body: 'x' }), 404, 'NoSuchUpload', message, { UploadId: 'nope' });
  expectError(await signedFetch(fg, 'GET', '/errs/k?uploadId=nope'), 404, 'NoSuchUpload', message, { UploadId: 'nope' });
  expectError(await signedFetch(fg, 'POST', '/errs/k?uploadId=nope', { body: '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part></CompleteMultipartUpload>' }), 404, 'NoSuchUpload', message, { UploadId: 'nope' });
  expectError(await signedFetch(fg, 'DELETE', '/errs/k?uploadId=nope'), 404, 'NoSuchUpload', message, { UploadId: 'nope' });
});

test('Complete: InvalidPart, InvalidPartOrder, EntityTooSmall and MalformedXML with their fields', async () => {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'errs', Key: 'mp' }));
  const p1 = await s3.send(new UploadPartCommand({ Bucket: 'errs', Key: 'mp', UploadId, PartNumber: 1, Body: randomBytes(1000) }));
  const p2 = await s3.send(new UploadPartCommand({ Bucket: 'errs', Key: 'mp', UploadId, PartNumber: 2, Body: randomBytes(10) }));
  const path = `/errs/mp?uploadId=${encodeURIComponent(UploadId!)}`;
  const doc = (parts: [number, string][]) => `<CompleteMultipartUpload>${parts.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  expectError(await signedFetch(fg, 'POST', path, { body: doc([[1, '"0123456789abcdef0123456789abcdef"']]) }), 400, 'InvalidPart', "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", { UploadId: UploadId!, PartNumber: '1' });
  expectError(await signedFetch(fg, 'POST', path, { body: doc([[3, p1.ETag!]]) }), 400, 'InvalidPart', "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", { PartNumber: '3' });
  expectError(await signedFetch(fg, 'POST', path, { body: doc([[2, p2.ETag!], [1, p1.ETag!]]) }), 400, 'InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
  expectError(await signedFetch(fg, 'POST', path, { body: doc([[1, p1.ETag!], [2, p2.ETag!]]) }), 400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', { ProposedSize: '1000', MinSizeAllowed: String(5 * 1024 * 1024), PartNumber: '1', ETag: p1.ETag! });
  expectError(await signedFetch(fg, 'POST', path, { body: '<CompleteMultipartUpload><Part>' }), 400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
});

test('MalformedXML on DeleteObjects with a broken body', async () => {
  const r = await signedFetch(fg, 'POST', '/errs?delete', { body: '<Delete><Object>', headers: { 'content-md5': 'xrpRuMyZOgZMLsb4vqbSTA==' } });
  assert.equal(r.status, 400);
  assert.equal(errorFields(r.text).Code, 'MalformedXML');
});

test('EntityTooLarge: a PutObject over 5 GiB is refused before any byte is read, with ProposedSize and MaxSizeAllowed', async () => {
  const size = 5 * 1024 ** 3 + 1;
  const r = await rawSigned('PUT', '/errs/huge', { 'content-length': String(size) });
  expectError(r, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { ProposedSize: String(size), MaxSizeAllowed: String(5 * 1024 ** 3) }, '/errs/huge');
});

test('MissingContentLength: 411 for a chunked PutObject without a decoded length', async () => {
  const r = await rawSigned('PUT', '/errs/chunked', { 'transfer-encoding': 'chunked' }, Buffer.from('abc'));
  expectError(r, 411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.', {}, '/errs/chunked');
});

test('KeyTooLongError: 400 with Size and MaxSizeAllowed', async () => {
  const key = 'k'.repeat(1025);
  expectError(await signedFetch(fg, 'PUT', `/errs/${key}`, { body: 'x' }), 400, 'KeyTooLongError', 'Your key is too long.', { Size: '1025', MaxSizeAllowed: '1024' });
});

test('MetadataTooLarge: 400 with Size and MaxSizeAllowed (2 KB of user metadata)', async () => {
  const r = await signedFetch(fg, 'PUT', '/errs/meta', { body: 'x', headers: { 'x-amz-meta-big': 'v'.repeat(2100) } });
  expectError(r, 400, 'MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', { Size: String(3 + 2100), MaxSizeAllowed: '2048' });
});

test('InvalidArgument: 400 with ArgumentName and ArgumentValue', async () => {
  expectError(await signedFetch(fg, 'PUT', '/errs/k?partNumber=0&uploadId=x', { body: 'x' }), 400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: '0' });
  expectError(await signedFetch(fg, 'GET', '/errs?list-type=2&max-keys=abc'), 400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range', { ArgumentName: 'max-keys', ArgumentValue: 'abc' });
  expectError(await signedFetch(fg, 'GET', '/errs?encoding-type=base64'), 400, 'InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: 'base64' });
});

test('InvalidStorageClass: 400 for a class Fedgate does not offer', async () => {
  expectError(await signedFetch(fg, 'PUT', '/errs/sc', { body: 'x', headers: { 'x-amz-storage-class': 'DEEP_ARCHIVE' } }), 400, 'InvalidStorageClass', 'The storage class you specified is not valid');
});

test('NotImplemented: 501 naming the operation, for every S3 operation Fedgate lacks', async () => {
  const cases: [string, string, string][] = [
    ['GET', '/errs?policyStatus', 'GetBucketPolicyStatus'],
    ['PUT', '/errs?policy', 'PutBucketPolicy'],
    ['GET', '/errs?lifecycle', 'GetBucketLifecycleConfiguration'],
    ['POST', '/errs/there?restore', 'RestoreObject'],
    ['GET', '/errs/there?torrent', 'GetObjectTorrent'],
  ];
  for (const [method, path, name] of cases) {
    const f = expectError(await signedFetch(fg, method, path, { body: method === 'GET' ? undefined : '' }), 501, 'NotImplemented', `${name} is not implemented by Fedgate`);
    assert.equal(f.Resource, path.split('?')[0]);
  }
});

test('auth errors carry Resource and RequestId too: InvalidAccessKeyId, SignatureDoesNotMatch', async () => {
  expectError(await signedFetch({ ...fg, accessKeyId: 'AKIANOTAKEY000000000' }, 'GET', '/errs'), 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {}, '/errs');
  const r = await signedFetch({ ...fg, secretAccessKey: 'wrong-secret-0000000000' }, 'GET', '/errs');
  expectError(r, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {}, '/errs');
});

test('NotImplemented: 501 with Header for write headers Fedgate cannot honour (SSE-C, KMS, object lock, redirect)', async () => {
  const cases: [string, string, Record<string, string>][] = [
    ['PUT', '/errs/ssec', { 'x-amz-server-side-encryption-customer-algorithm': 'AES256' }],
    ['PUT', '/errs/kms', { 'x-amz-server-side-encryption': 'aws:kms' }],
    ['PUT', '/errs/lock', { 'x-amz-object-lock-mode': 'GOVERNANCE' }],
    ['POST', '/errs/redirect?uploads', { 'x-amz-website-redirect-location': '/elsewhere' }],
  ];
  for (const [method, path, headers] of cases) {
    const name = Object.keys(headers)[0];
    expectError(await signedFetch(fg, method, path, { headers, body: 'x' }), 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented.', { Header: name }, path.split('?')[0]);
  }
  // SSE-S3 is what S3 applies anyway: accepted.
  assert.equal((await signedFetch(fg, 'PUT', '/errs/sse-s3', { headers: { 'x-amz-server-side-encryption': 'AES256' }, body: 'x' })).status, 200);
});
