// SigV2 browser POST forms and CORS preflights for a bucket name several tenants use.
// The SigV2 forms are made by boto3's generate_presigned_post with signature_version='s3'
// (what a web backend hands its page), then posted as a browser posts them (fetch + FormData).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutBucketCorsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { s3Error } from '../helpers/s3-error.ts';
import { requireClient, run } from '../helpers/clients.ts';

let fg: TestFedgate;
let s3: S3Client;

const python = (async () => {
  for (const py of ['python3', '/usr/bin/python3']) if ((await run(py, ['-c', 'import boto3'], process.env)).code === 0) return py;
  return null;
})();

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'forms2' }));
});
after(async () => fg?.stop());

// argv: endpoint, bucket, key, fields (JSON), conditions (JSON). Credentials come from the environment.
const PRESIGN = String.raw`
import boto3, json, sys
from botocore.config import Config
ep, bucket, key, fields, conditions = sys.argv[1:6]
s3 = boto3.client('s3', endpoint_url=ep, region_name='us-east-1', config=Config(signature_version='s3', s3={'addressing_style': 'path'}))
print(json.dumps(s3.generate_presigned_post(bucket, key, Fields=json.loads(fields), Conditions=json.loads(conditions), ExpiresIn=600)))
`;

async function presignedPost(key: string, fields: Record<string, string>, conditions: unknown[], creds?: { accessKeyId: string; secretAccessKey: string }): Promise<{ url: string; fields: Record<string, string> }> {
  const r = await run((await python)!, ['-c', PRESIGN, fg.endpoint, 'forms2', key, JSON.stringify(fields), JSON.stringify(conditions)], fg.awsEnv(creds));
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function post(p: { url: string; fields: Record<string, string> }, file: string, extra: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...p.fields, ...extra })) form.append(k, v);
  form.append('file', new Blob([file], { type: 'text/plain' }), 'note.txt');
  return fetch(p.url, { method: 'POST', body: form });
}

async function missing(key: string): Promise<boolean> {
  return (await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'forms2', Key: key })))).status === 404;
}

test('POST Object with a SigV2 form from boto3 (signature_version=s3): stored, 201 PostResponse', async (t) => {
  if (!requireClient(t, (await python) !== null, 'python3 with boto3')) return;
  const p = await presignedPost('v2/${filename}', { success_action_status: '201' }, [{ success_action_status: '201' }, ['content-length-range', 1, 1000]]);
  assert.ok(p.fields.AWSAccessKeyId && p.fields.signature && !('x-amz-signature' in p.fields), 'boto3 made a SigV2 form');
  const res = await post(p, 'hello from a v2 form');
  assert.equal(res.status, 201);
  assert.match(await res.text(), /<PostResponse><Location>[^<]+\/forms2\/v2\/note\.txt<\/Location><Bucket>forms2<\/Bucket><Key>v2\/note\.txt<\/Key><ETag>&quot;[0-9a-f]{32}&quot;<\/ETag><\/PostResponse>/);
  const got = await s3.send(new GetObjectCommand({ Bucket: 'forms2', Key: 'v2/note.txt' }));
  assert.equal(await got.Body!.transformToString(), 'hello from a v2 form');
});

test('SigV2 POST refusals: wrong secret, unknown key, a field the policy does not name, a public acl, a policy condition', async (t) => {
  if (!requireClient(t, (await python) !== null, 'python3 with boto3')) return;
  const code = async (res: Response) => [res.status, /<Code>([^<]+)<\/Code>/.exec(await res.text())?.[1]];

  const wrong = await presignedPost('bad/a.txt', {}, [], { accessKeyId: fg.accessKeyId, secretAccessKey: 'not-the-secret' });
  assert.deepEqual(await code(await post(wrong, 'x')), [403, 'SignatureDoesNotMatch']);
  assert.ok(await missing('bad/a.txt'));

  const unknown = await presignedPost('bad/b.txt', {}, [], { accessKeyId: 'AKIDUNKNOWN000000000', secretAccessKey: 'x'.repeat(40) });
  assert.deepEqual(await code(await post(unknown, 'x')), [403, 'InvalidAccessKeyId']);

  const ok = await presignedPost('bad/c.txt', {}, []);
  const extra = await post(ok, 'x', { 'x-amz-meta-sneaky': '1' });
  const extraBody = await extra.text();
  assert.equal(extra.status, 403);
  assert.match(extraBody, /<Code>AccessDenied<\/Code><Message>Invalid according to Policy: Extra input fields: x-amz-meta-sneaky<\/Message>/);
  assert.ok(await missing('bad/c.txt'));

  const acl = await presignedPost('bad/d.txt', { acl: 'public-read' }, [{ acl: 'public-read' }]);
  assert.deepEqual(await code(await post(acl, 'x')), [400, 'AccessControlListNotSupported']);
  assert.ok(await missing('bad/d.txt'));
  const aclPrivate = await presignedPost('ok/e.txt', { acl: 'private' }, [{ acl: 'private' }]);
  assert.equal((await post(aclPrivate, 'e')).status, 204);

  const small = await presignedPost('bad/f.txt', {}, [['content-length-range', 1, 4]]);
  assert.deepEqual(await code(await post(small, 'far too long')), [400, 'EntityTooLarge']);
  assert.ok(await missing('bad/f.txt'));
});

function preflight(path: string, origin: string, method: string) {
  return fetch(`${fg.endpoint}${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'content-type' } });
}

test('CORS preflight for a bucket name two tenants use: any matching rule allows it; the signed request gets its own tenant\'s headers', async () => {
  const alice = fg.client((await fg.admin('POST', '/admin/tenants', { name: 'cors-alice' })).json);
  const bob = fg.client((await fg.admin('POST', '/admin/tenants', { name: 'cors-bob' })).json);
  await alice.send(new CreateBucketCommand({ Bucket: 'shared-site' }));
  await bob.send(new CreateBucketCommand({ Bucket: 'shared-site' }));
  await alice.send(new PutBucketCorsCommand({ Bucket: 'shared-site', CORSConfiguration: { CORSRules: [
    { AllowedOrigins: ['https://alice.example'], AllowedMethods: ['PUT', 'GET'], AllowedHeaders: ['*'], MaxAgeSeconds: 600 },
    { AllowedOrigins: ['https://both.example'], AllowedMethods: ['GET'], AllowedHeaders: ['*'], MaxAgeSeconds: 300 },
  ] } }));
  await bob.send(new PutBucketCorsCommand({ Bucket: 'shared-site', CORSConfiguration: { CORSRules: [
    { AllowedOrigins: ['https://bob.example'], AllowedMethods: ['GET'], AllowedHeaders: ['content-type'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 60 },
    { AllowedOrigins: ['https://both.example'], AllowedMethods: ['GET', 'HEAD'], AllowedHeaders: ['*'], MaxAgeSeconds: 30 },
  ] } }));

  let res = await preflight('/shared-site/a.txt', 'https://alice.example', 'PUT');
  assert.equal(res.status, 200);
  assert.deepEqual(
    [res.headers.get('access-control-allow-origin'), res.headers.get('access-control-allow-methods'), res.headers.get('access-control-max-age')],
    ['https://alice.example', 'PUT, GET', '600'],
  );
  await res.text();
  res = await preflight('/shared-site/a.txt', 'https://bob.example', 'GET');
  assert.equal(res.status, 200);
  assert.deepEqual([res.headers.get('access-control-allow-origin'), res.headers.get('access-control-expose-headers')], ['https://bob.example', 'ETag']);
  await res.text();
  // Both tenants' rules match: the shorter-cached answer, whichever tenant it belongs to.
  res = await preflight('/shared-site/a.txt', 'https://both.example', 'GET');
  assert.equal(res.status, 200);
  assert.deepEqual([res.headers.get('access-control-allow-methods'), res.headers.get('access-control-max-age')], ['GET, HEAD', '30']);
  await res.text();
  // No tenant's rule allows it.
  res = await preflight('/shared-site/a.txt', 'https://bob.example', 'PUT');
  assert.equal(res.status, 403);
  assert.match(await res.text(), /<Code>AccessForbidden<\/Code><Message>CORSResponse: This CORS request is not allowed\./);
  res = await preflight('/shared-site/a.txt', 'https://evil.example', 'GET');
  assert.equal(res.status, 403);
  await res.text();

  // The actual request is signed: it answers with its own tenant's rules only.
  await alice.send(new PutObjectCommand({ Bucket: 'shared-site', Key: 'a.txt', Body: 'alice' }));
  const url = await getSignedUrl(alice, new GetObjectCommand({ Bucket: 'shared-site', Key: 'a.txt' }), { expiresIn: 300 });
  let got = await fetch(url, { headers: { origin: 'https://alice.example' } });
  assert.deepEqual([got.status, got.headers.get('access-control-allow-origin'), await got.text()], [200, 'https://alice.example', 'alice']);
  got = await fetch(url, { headers: { origin: 'https://bob.example' } });
  assert.deepEqual([got.status, got.headers.get('access-control-allow-origin'), await got.text()], [200, null, 'alice']);
});
