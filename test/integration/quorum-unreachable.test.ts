// A write whose physical buckets cannot be made on enough backends: the backends are still
// counted healthy (no health pinger runs here, as in the moment before it notices a crash),
// so the write gets as far as making sure of each target's physical bucket (the first write
// to a bucket makes them) and must stop there: 503, nothing visible, nothing left on the
// backend that did answer, and the log line says which backends failed and why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Error } from '../helpers/s3-error.ts';
import { addS3Backends, logCollector, startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { directClient, startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';

const log = logCollector();
let fg: TestFedgate;
let s3: S3Client;
const servers: S3ServerHandle[] = [];

before(async () => {
  fg = await startTestFedgate({ defaultBackends: 'none', workers: false, timeoutMs: 3000, logTo: log.logTo });
  for (let i = 0; i < 3; i++) servers.push(await startS3rver());
  await addS3Backends(fg, [['be-a', servers[0]], ['be-b', servers[1]], ['be-c', servers[2]]]);
  s3 = fg.client();
});

after(async () => {
  for (const s of servers) await s.stop();
  await fg?.stop();
});

test('the first PUT to a bucket whose physical buckets two backends cannot make: 503, nothing stored, the reasons logged', async () => {
  const ids = Object.fromEntries((await fg.rt.store.listBackends()).map((b) => [b.name, b.id]));
  await servers[1].kill();
  await servers[2].kill();
  try {
    // CreateBucket only writes metadata; the physical buckets are made by the first write.
    await s3.send(new CreateBucketCommand({ Bucket: 'fresh' }));
    const e = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'fresh', Key: 'k', Body: randomBytes(256 * 1024) })));
    assert.equal(e.status, 503);
    assert.equal(e.name, 'ServiceUnavailable');
    assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'fresh', Key: 'k' })))).status, 404);

    const warn = log.lines.find((l) => l.msg === 'write quorum not reached');
    assert.ok(warn, `no 'write quorum not reached' line in ${log.lines.length} log lines`);
    const failed = Object.fromEntries((warn.failed as { backendId: string; error: string }[]).map((f) => [f.backendId, f.error]));
    assert.deepEqual(Object.keys(failed).sort(), [ids['be-b'], ids['be-c']].sort());
    for (const why of Object.values(failed)) assert.match(why, /^bucket not reachable: .*ECONNREFUSED/);

    // The backend that answered has the physical bucket, and no object in it.
    const direct = directClient(servers[0]);
    try {
      const buckets = (await direct.send(new ListBucketsCommand({}))).Buckets ?? [];
      assert.ok(buckets.length > 0, 'be-a made its physical bucket');
      for (const b of buckets) assert.equal((await direct.send(new ListObjectsV2Command({ Bucket: b.Name! }))).KeyCount, 0, `objects left in ${b.Name}`);
    } finally {
      direct.destroy();
    }
  } finally {
    await servers[1].restart();
    await servers[2].restart();
  }
  // Once they are back, the same PUT goes through (the failed physical buckets are tried again).
  const data = randomBytes(64 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: 'fresh', Key: 'k', Body: data }));
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'fresh', Key: 'k' }))).ContentLength, data.length);
});
