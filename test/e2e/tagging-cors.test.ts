// Tagging and CORS through real clients: the aws cli's s3api commands, the SDK's
// Tagging parameters, and browser-style preflights sent with fetch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand, CopyObjectCommand, GetObjectTaggingCommand,
  PutObjectTaggingCommand, DeleteObjectTaggingCommand, PutBucketTaggingCommand, GetBucketTaggingCommand, DeleteBucketTaggingCommand,
  GetBucketCorsCommand, DeleteBucketCorsCommand, PutBucketCorsCommand, CreateMultipartUploadCommand, UploadPartCommand,
  CompleteMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { s3Error } from '../helpers/s3-error.ts';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { availableAwsClis, runAws } from '../helpers/aws-cli.ts';

let fg: TestFedgate;
let s3: S3Client;

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'tags' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'web' }));
});
after(async () => fg?.stop());


test('PutObject with Tagging stores the tags; GetObject reports x-amz-tagging-count', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'a.txt', Body: 'a', Tagging: 'project=blue&owner=ana%20b' }));
  const t = await s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'a.txt' }));
  assert.deepEqual(t.TagSet, [{ Key: 'project', Value: 'blue' }, { Key: 'owner', Value: 'ana b' }]);
  const got = await s3.send(new GetObjectCommand({ Bucket: 'tags', Key: 'a.txt' }));
  assert.equal(got.TagCount, 2);
  await got.Body!.transformToString();
  await s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'plain.txt', Body: 'p' }));
  const plain = await s3.send(new GetObjectCommand({ Bucket: 'tags', Key: 'plain.txt' }));
  assert.equal(plain.TagCount, undefined, 'no header when the version has no tags');
  await plain.Body!.transformToString();
});

test('PutObjectTagging replaces the set, DeleteObjectTagging empties it, bad sets are refused', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'b.txt', Body: 'b', Tagging: 'x=1' }));
  await s3.send(new PutObjectTaggingCommand({ Bucket: 'tags', Key: 'b.txt', Tagging: { TagSet: [{ Key: 'y', Value: '2' }] } }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'b.txt' }))).TagSet, [{ Key: 'y', Value: '2' }]);
  await s3.send(new DeleteObjectTaggingCommand({ Bucket: 'tags', Key: 'b.txt' }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'b.txt' }))).TagSet ?? [], []);
  const dup = s3.send(new PutObjectTaggingCommand({ Bucket: 'tags', Key: 'b.txt', Tagging: { TagSet: [{ Key: 'k', Value: '1' }, { Key: 'k', Value: '2' }] } }));
  assert.deepEqual(await s3Error(dup), { name: 'InvalidTag', status: 400 });
  const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
  assert.deepEqual(await s3Error(s3.send(new PutObjectTaggingCommand({ Bucket: 'tags', Key: 'b.txt', Tagging: { TagSet: eleven } }))), { name: 'BadRequest', status: 400 });
  assert.deepEqual(await s3Error(s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'c.txt', Body: 'c', Tagging: 'k=1&k=2' }))), { name: 'InvalidTag', status: 400 });
  assert.deepEqual(await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'tags', Key: 'c.txt' }))), { name: 'NotFound', status: 404 }, 'nothing stored');
  assert.deepEqual(await s3Error(s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'nope' }))), { name: 'NoSuchKey', status: 404 });
});

test('an overwrite starts with no tags: tags belong to the object version', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'v.txt', Body: '1', Tagging: 'gen=1' }));
  await s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'v.txt', Body: '2' }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'v.txt' }))).TagSet ?? [], []);
});

test('CopyObject keeps the source tags (COPY) or takes x-amz-tagging (REPLACE)', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'src.txt', Body: 's', Tagging: 'from=src' }));
  await s3.send(new CopyObjectCommand({ Bucket: 'tags', Key: 'copy1.txt', CopySource: 'tags/src.txt' }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'copy1.txt' }))).TagSet, [{ Key: 'from', Value: 'src' }]);
  await s3.send(new CopyObjectCommand({ Bucket: 'tags', Key: 'copy2.txt', CopySource: 'tags/src.txt', TaggingDirective: 'REPLACE', Tagging: 'new=1' }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'copy2.txt' }))).TagSet, [{ Key: 'new', Value: '1' }]);
});

test('CreateMultipartUpload with Tagging tags the completed object', async () => {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'tags', Key: 'mp.bin', Tagging: 'mp=yes' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: 'tags', Key: 'mp.bin', UploadId, PartNumber: 1, Body: 'only part' }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'tags', Key: 'mp.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'mp.bin' }))).TagSet, [{ Key: 'mp', Value: 'yes' }]);
});

test('bucket tagging: NoSuchTagSet until put, 204 on delete', async () => {
  assert.deepEqual(await s3Error(s3.send(new GetBucketTaggingCommand({ Bucket: 'tags' }))), { name: 'NoSuchTagSet', status: 404 });
  await s3.send(new PutBucketTaggingCommand({ Bucket: 'tags', Tagging: { TagSet: [{ Key: 'team', Value: 'storage' }] } }));
  assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: 'tags' }))).TagSet, [{ Key: 'team', Value: 'storage' }]);
  await s3.send(new DeleteBucketTaggingCommand({ Bucket: 'tags' }));
  assert.deepEqual(await s3Error(s3.send(new GetBucketTaggingCommand({ Bucket: 'tags' }))), { name: 'NoSuchTagSet', status: 404 });
});

const clis = availableAwsClis();
for (const cli of clis) {
  test(`${cli.label}: s3api put/get-object-tagging and put/get-bucket-cors`, async () => {
    const env = fg.awsEnv();
    const aws = (args: string[]) => runAws(cli, ['--endpoint-url', fg.endpoint, '--output', 'json', 's3api', ...args], env, 60_000);
    await s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'cli.txt', Body: 'c' }));
    let r = await aws(['put-object-tagging', '--bucket', 'tags', '--key', 'cli.txt', '--tagging', 'TagSet=[{Key=env,Value=prod},{Key=tier,Value=gold}]']);
    assert.equal(r.code, 0, r.stderr);
    r = await aws(['get-object-tagging', '--bucket', 'tags', '--key', 'cli.txt']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).TagSet, [{ Key: 'env', Value: 'prod' }, { Key: 'tier', Value: 'gold' }]);
    const cors = { CORSRules: [{ AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 300 }] };
    r = await aws(['put-bucket-cors', '--bucket', 'web', '--cors-configuration', JSON.stringify(cors)]);
    assert.equal(r.code, 0, r.stderr);
    r = await aws(['get-bucket-cors', '--bucket', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), cors);
  });
}

function preflight(path: string, origin: string, method: string, headers?: string) {
  const h: Record<string, string> = { origin, 'access-control-request-method': method };
  if (headers) h['access-control-request-headers'] = headers;
  return fetch(`${fg.endpoint}${path}`, { method: 'OPTIONS', headers: h });
}

test('browser preflight (OPTIONS): allowed, refused, and refused without a CORS configuration', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'site' }));
  let res = await preflight('/site/x.txt', 'https://app.example.com', 'PUT');
  assert.equal(res.status, 403);
  let body = await res.text();
  assert.match(body, /<Code>AccessForbidden<\/Code><Message>CORSResponse: CORS is not enabled for this bucket.<\/Message><Method>PUT<\/Method><ResourceType>OBJECT<\/ResourceType>/);

  await s3.send(new PutBucketCorsCommand({ Bucket: 'site', CORSConfiguration: { CORSRules: [
    { AllowedOrigins: ['https://*.example.com'], AllowedMethods: ['PUT', 'POST'], AllowedHeaders: ['content-type', 'x-amz-*'], ExposeHeaders: ['ETag', 'x-amz-version-id'], MaxAgeSeconds: 600 },
    { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
  ] } }));
  const got = await s3.send(new GetBucketCorsCommand({ Bucket: 'site' }));
  assert.equal(got.CORSRules?.length, 2);

  res = await preflight('/site/x.txt', 'https://app.example.com', 'PUT', 'Content-Type, X-Amz-Date');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com');
  assert.equal(res.headers.get('access-control-allow-methods'), 'PUT, POST');
  assert.equal(res.headers.get('access-control-allow-headers'), 'content-type, x-amz-date');
  assert.equal(res.headers.get('access-control-expose-headers'), 'ETag, x-amz-version-id');
  assert.equal(res.headers.get('access-control-max-age'), '600');
  assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
  assert.equal(res.headers.get('vary'), 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
  await res.text();

  res = await preflight('/site/x.txt', 'https://evil.org', 'GET');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  await res.text();

  res = await preflight('/site/x.txt', 'https://app.example.com', 'PUT', 'authorization');
  assert.equal(res.status, 403);
  body = await res.text();
  assert.match(body, /<Code>AccessForbidden<\/Code><Message>CORSResponse: This CORS request is not allowed\. This is usually because the evalution of Origin, request method \/ Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource&apos;s CORS spec\.<\/Message>/);
  res = await preflight('/site/x.txt', 'https://evil.org', 'DELETE');
  assert.equal(res.status, 403);
  await res.text();

  // An actual (signed) request with a matching Origin gets the Access-Control-* headers.
  const put = await s3.send(new PutObjectCommand({ Bucket: 'site', Key: 'x.txt', Body: 'x' }));
  assert.ok(put.ETag);
  const withOrigin = fg.client();
  withOrigin.middlewareStack.add((next) => async (args) => {
    (args.request as { headers: Record<string, string> }).headers.origin = 'https://app.example.com';
    return next(args);
  }, { step: 'build' });
  const captured: Record<string, string> = {};
  withOrigin.middlewareStack.add((next) => async (args) => {
    const out = await next(args);
    Object.assign(captured, (out.response as { headers: Record<string, string> }).headers);
    return out;
  }, { step: 'deserialize' });
  await withOrigin.send(new PutObjectCommand({ Bucket: 'site', Key: 'y.txt', Body: 'y' }));
  assert.equal(captured['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(captured['access-control-expose-headers'], 'ETag, x-amz-version-id');

  await s3.send(new DeleteBucketCorsCommand({ Bucket: 'site' }));
  assert.deepEqual(await s3Error(s3.send(new GetBucketCorsCommand({ Bucket: 'site' }))), { name: 'NoSuchCORSConfiguration', status: 404 });
});
