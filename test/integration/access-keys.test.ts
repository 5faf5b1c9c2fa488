// Access keys through the admin API: disable, enable, delete, as MinIO and IAM users expect,
// and a change made through one gateway instance holds on every instance at once (the cached
// key is dropped through Redis pub/sub), not after the 30 s cache TTL. Real PostgreSQL, a
// real redis-server of the test's own, two gateways on one database, the real SDK.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client, ListBucketsCommand } from '@aws-sdk/client-s3';
import { startTestFedgate, startSecondInstance, eventually, type TestFedgate } from '../helpers/fedgate.ts';
import { hasRedisServer, startRedisServer } from '../helpers/redis.ts';
import { s3Error } from '../helpers/s3-error.ts';

if (!hasRedisServer && process.env.CI === 'true') throw new Error('redis-server is not installed (.ci/run installs it)');

type Creds = { accessKeyId: string; secretAccessKey: string };
const clients: S3Client[] = [];
function clientOf(endpoint: string, creds: Creds): S3Client {
  const c = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
  clients.push(c);
  return c;
}
const works = async (c: S3Client) => (await c.send(new ListBucketsCommand({}))).Buckets !== undefined;
async function refused(c: S3Client): Promise<void> {
  const e = await s3Error(c.send(new ListBucketsCommand({})));
  assert.equal(e.status, 403);
  assert.equal(e.name, 'InvalidAccessKeyId');
}
/** Waits until `c`'s key is refused (another instance learns of a change asynchronously). */
async function refusedWithin(c: S3Client, what: string, ms: number, stepMs: number): Promise<void> {
  await eventually(what, async () => {
    try {
      await refused(c);
      return true;
    } catch {
      return false;
    }
  }, ms, stepMs);
}

describe('access keys, one instance (no Redis)', () => {
  let fg: TestFedgate;
  before(async () => {
    fg = await startTestFedgate({ defaultBackends: 'none' });
  });
  after(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await fg?.stop();
  });

  it('PATCH status inactive refuses the key on the next request, active lets it in again, DELETE removes it', async () => {
    const t = await fg.admin('POST', '/admin/tenants', { name: 'alice' });
    assert.equal(t.status, 201);
    const alice = clientOf(fg.endpoint, t.json);
    assert.ok(await works(alice)); // now cached

    const off = await fg.admin('PATCH', `/admin/tenants/alice/keys/${t.json.accessKeyId}`, { status: 'inactive' });
    assert.equal(off.status, 200, JSON.stringify(off.json));
    assert.equal(off.json.status, 'inactive');
    await refused(alice);
    const listed = await fg.admin('GET', '/admin/tenants');
    assert.equal(listed.json.tenants.find((x: { name: string }) => x.name === 'alice').accessKeys[0].status, 'inactive');

    assert.equal((await fg.admin('PATCH', `/admin/tenants/alice/keys/${t.json.accessKeyId}`, { status: 'active' })).status, 200);
    assert.ok(await works(alice));

    assert.equal((await fg.admin('DELETE', `/admin/tenants/alice/keys/${t.json.accessKeyId}`)).status, 204);
    await refused(alice);
    const again = await fg.admin('DELETE', `/admin/tenants/alice/keys/${t.json.accessKeyId}`);
    assert.equal(again.status, 404);
    assert.equal(again.json.error, 'NoSuchAccessKey');
  });

  it('a key is changed only through its own tenant, and a bad status is refused', async () => {
    const bob = await fg.admin('POST', '/admin/tenants', { name: 'bob' });
    await fg.admin('POST', '/admin/tenants', { name: 'carol' });
    const other = await fg.admin('PATCH', `/admin/tenants/carol/keys/${bob.json.accessKeyId}`, { status: 'inactive' });
    assert.equal(other.status, 404);
    assert.equal(other.json.error, 'NoSuchAccessKey');
    assert.equal((await fg.admin('DELETE', `/admin/tenants/carol/keys/${bob.json.accessKeyId}`)).status, 404);
    const bad = await fg.admin('PATCH', `/admin/tenants/bob/keys/${bob.json.accessKeyId}`, { status: 'disabled' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'InvalidArgument');
    assert.equal((await fg.admin('PATCH', `/admin/tenants/nobody/keys/${bob.json.accessKeyId}`, { status: 'inactive' })).json.error, 'NoSuchTenant');
    assert.ok(await works(clientOf(fg.endpoint, bob.json)), 'the key is untouched');
  });

  it('a key id first tried before it existed works as soon as it is created', async () => {
    const creds = { accessKeyId: 'LATEKEY0000000000001', secretAccessKey: 'late-secret-key-0000000000001' };
    const c = clientOf(fg.endpoint, creds);
    await refused(c); // "no such key" is now cached
    assert.equal((await fg.admin('POST', '/admin/tenants', { name: 'late', ...creds })).status, 201);
    assert.ok(await works(c));
  });
});

describe('access keys, two instances on one Redis', { skip: hasRedisServer ? false : 'redis-server is not installed' }, () => {
  let fg: TestFedgate;
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let b: Awaited<ReturnType<typeof startSecondInstance>>;

  before(async () => {
    redis = await startRedisServer();
    fg = await startTestFedgate({ defaultBackends: 'none', env: { REDIS_URL: redis.url } });
    b = await startSecondInstance(fg, redis.url);
  });
  after(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await b?.close();
    await fg?.stop();
    await redis?.stop();
  });

  it('a key disabled through instance A is refused by instance B at once, though B had it cached', async () => {
    const t = await fg.admin('POST', '/admin/tenants', { name: 'dora' });
    const onA = clientOf(fg.endpoint, t.json);
    const onB = clientOf(b.endpoint, t.json);
    assert.ok(await works(onA));
    assert.ok(await works(onB)); // cached on B for 30 s

    const t0 = Date.now();
    assert.equal((await fg.admin('PATCH', `/admin/tenants/dora/keys/${t.json.accessKeyId}`, { status: 'inactive' })).status, 200);
    await refused(onA);
    // Pub/sub is asynchronous: B drops the key within milliseconds, far inside the 30 s TTL.
    await refusedWithin(onB, 'instance B refuses the disabled key', 5000, 20);
    assert.ok(Date.now() - t0 < 5000);

    assert.equal((await fg.admin('DELETE', `/admin/tenants/dora/keys/${t.json.accessKeyId}`)).status, 204);
    await refused(onB);
  });

  it('with Redis gone both instances keep serving from PostgreSQL, and a change still holds at once where it was made', async () => {
    const t = await fg.admin('POST', '/admin/tenants', { name: 'erin' });
    const onA = clientOf(fg.endpoint, t.json);
    const onB = clientOf(b.endpoint, t.json);
    await redis.stop();
    assert.ok(await works(onA));
    assert.ok(await works(onB));
    const r = await fg.admin('PATCH', `/admin/tenants/erin/keys/${t.json.accessKeyId}`, { status: 'inactive' });
    assert.equal(r.status, 200, 'the admin API does not wait for Redis');
    await refused(onA);
  });

  it('when Redis is back, an instance forgets every key it cached while it could have missed a change', async () => {
    await redis.stop(); // already down after the test above; this test must not depend on it
    const t = await fg.admin('POST', '/admin/tenants', { name: 'fay' });
    const onA = clientOf(fg.endpoint, t.json);
    const onB = clientOf(b.endpoint, t.json);
    assert.ok(await works(onB)); // cached on B from here on, for 30 s
    const cachedAt = Date.now();
    assert.equal((await fg.admin('PATCH', `/admin/tenants/fay/keys/${t.json.accessKeyId}`, { status: 'inactive' })).status, 200);
    await refused(onA);
    // B missed the message: it still lets the disabled key in from its cache.
    assert.ok(await works(onB));

    redis = await startRedisServer(redis.port);
    // B reconnects (ioredis retries within 2 s) and drops every cached key it holds.
    await refusedWithin(onB, 'instance B refuses the key once Redis is back', 15_000, 100);
    assert.ok(Date.now() - cachedAt < 30_000, 'refused before the cache TTL could have expired the entry');
  });
});
