// Bucket rows are cached per gateway instance (gateway/bucket-cache.ts). What a user must not
// notice: a deleted bucket is gone at once, a versioning change holds on the next write, and
// across two instances on one Redis the other instance learns of both within moments, not after
// the cache TTL. Without Redis, a stale entry still cannot put an object into a deleted bucket.
// Real PostgreSQL, real redis-server, two gateways on one database, the real SDK.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, HeadBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startTestFedgate, startSecondInstance, eventually, type TestFedgate } from '../helpers/fedgate.ts';
import { hasRedisServer, startRedisServer } from '../helpers/redis.ts';
import { s3Error } from '../helpers/s3-error.ts';

if (!hasRedisServer && process.env.CI === 'true') throw new Error('redis-server is not installed (.ci/run installs it)');

const clients: S3Client[] = [];
function clientOf(endpoint: string, fg: TestFedgate): S3Client {
  const c = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: fg.accessKeyId, secretAccessKey: fg.secretAccessKey }, maxAttempts: 1 });
  clients.push(c);
  return c;
}

const put = (c: S3Client, bucket: string, key: string) => c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `bytes of ${key}` }));

async function noSuchBucket(p: Promise<unknown>): Promise<void> {
  const e = await s3Error(p);
  assert.equal(e.status, 404);
  assert.equal(e.name, 'NoSuchBucket');
}

describe('bucket cache, one instance', () => {
  let fg: TestFedgate;
  let s3: S3Client;
  before(async () => {
    fg = await startTestFedgate();
    s3 = clientOf(fg.endpoint, fg);
  });
  after(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await fg?.stop();
  });

  it('a versioning change holds on the very next write, and a deleted bucket is gone at once, then can be created again', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'cached' }));
    const before = await put(s3, 'cached', 'a'); // the bucket row is cached from here on
    assert.equal(before.VersionId, undefined);
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'cached', VersioningConfiguration: { Status: 'Enabled' } }));
    const after = await put(s3, 'cached', 'a');
    assert.match(after.VersionId ?? '', /^[0-9a-f]{32}$/, 'the write after enabling versioning gets a version id');

    const empty = 'cached-empty';
    await s3.send(new CreateBucketCommand({ Bucket: empty }));
    await s3.send(new HeadBucketCommand({ Bucket: empty }));
    await s3.send(new DeleteBucketCommand({ Bucket: empty }));
    await noSuchBucket(put(s3, empty, 'x'));
    await s3.send(new CreateBucketCommand({ Bucket: empty }));
    const again = await put(s3, empty, 'x');
    assert.equal(again.VersionId, undefined, 'the new bucket of that name is a new, unversioned bucket');
  });
});

describe('bucket cache, two instances', { skip: hasRedisServer ? false : 'redis-server is not installed' }, () => {
  let fg: TestFedgate;
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let b: Awaited<ReturnType<typeof startSecondInstance>>;
  let onA: S3Client;
  let onB: S3Client;

  before(async () => {
    redis = await startRedisServer();
    fg = await startTestFedgate({ env: { REDIS_URL: redis.url } });
    b = await startSecondInstance(fg, redis.url);
    onA = clientOf(fg.endpoint, fg);
    onB = clientOf(b.endpoint, fg);
  });
  after(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await b?.close();
    await fg?.stop();
    await redis?.stop();
  });

  it('versioning enabled and a bucket deleted through instance A hold on instance B within moments, though B had the bucket cached', async () => {
    await onA.send(new CreateBucketCommand({ Bucket: 'shared' }));
    assert.equal((await put(onB, 'shared', 'k')).VersionId, undefined); // cached on B
    const t0 = Date.now();
    await onA.send(new PutBucketVersioningCommand({ Bucket: 'shared', VersioningConfiguration: { Status: 'Enabled' } }));
    // Pub/sub is asynchronous: B drops the row within milliseconds, far inside the 10 s TTL.
    await eventually('instance B writes versions', async () => Boolean((await put(onB, 'shared', 'k')).VersionId), 2000, 20);

    await onA.send(new CreateBucketCommand({ Bucket: 'doomed' }));
    await onB.send(new HeadBucketCommand({ Bucket: 'doomed' })); // cached on B
    await onA.send(new DeleteBucketCommand({ Bucket: 'doomed' }));
    await eventually('instance B answers NoSuchBucket', async () => (await s3Error(onB.send(new HeadBucketCommand({ Bucket: 'doomed' })))).status === 404, 2000, 20);
    assert.ok(Date.now() - t0 < 5000, 'well inside the cache TTL');
  });

  it('without Redis, a bucket deleted through A and still cached on B refuses B\'s writes with NoSuchBucket', async () => {
    await onA.send(new CreateBucketCommand({ Bucket: 'stale' }));
    await put(onB, 'stale', 'first'); // cached on B, physical buckets ensured
    await redis.stop();
    await onA.send(new DeleteObjectCommand({ Bucket: 'stale', Key: 'first' }));
    await onA.send(new DeleteBucketCommand({ Bucket: 'stale' }));
    assert.equal((await s3Error(onA.send(new HeadBucketCommand({ Bucket: 'stale' })))).status, 404);
    await noSuchBucket(put(onB, 'stale', 'second'));
  });
});
