// The tour of the README, driven by the real aws cli against a whole Fedgate with
// its default three local-disk backends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestFedgate, eventually, type TestFedgate } from '../helpers/fedgate.ts';
import { availableAwsClis, runAws } from '../helpers/aws-cli.ts';

const exec = promisify(execFile);
const clis = availableAwsClis();
let fg: TestFedgate;
let dir: string;
let bigFile: string;
let bigSha: string;

before(async () => {
  fg = await startTestFedgate();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fedgate-awscli-'));
  bigFile = path.join(dir, 'big.iso');
  // 70 MiB: over the cli's 8 MiB multipart threshold and over the 64 MiB the issue asks for.
  const data = randomBytes(70 * 1024 * 1024);
  bigSha = createHash('sha256').update(data).digest('hex');
  await fs.writeFile(bigFile, data);
});

after(async () => {
  await fg?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function sha256File(p: string): Promise<string> {
  return createHash('sha256').update(await fs.readFile(p)).digest('hex');
}

for (const cli of clis) {
  const aws = (args: string[]) => runAws(cli, ['--endpoint-url', fg.endpoint, ...args], fg.awsEnv());
  const bucket = `photos-${cli.bin.includes('/usr/bin') ? 'v2' : 'v1'}`;

  test(`${cli.label}: mb, multipart cp of 70 MiB, ls, cp back, presign + curl`, async () => {
    let r = await aws(['s3', 'mb', `s3://${bucket}`]);
    assert.equal(r.code, 0, r.stderr);
    r = await aws(['s3', 'cp', bigFile, `s3://${bucket}/2026/big.iso`]);
    assert.equal(r.code, 0, r.stderr);
    r = await aws(['s3', 'ls', `s3://${bucket}`, '--recursive']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`\\s${70 * 1024 * 1024}\\s+2026/big\\.iso`));
    const back = path.join(dir, `back-${bucket}.iso`);
    r = await aws(['s3', 'cp', `s3://${bucket}/2026/big.iso`, back]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(back), bigSha, 'bytes read back equal bytes written');
    await fs.rm(back);

    r = await aws(['s3', 'presign', `s3://${bucket}/2026/big.iso`, '--expires-in', '300']);
    assert.equal(r.code, 0, r.stderr);
    const url = r.stdout.trim();
    const viaCurl = path.join(dir, `curl-${bucket}.iso`);
    await exec('curl', ['-sS', '--fail', '-o', viaCurl, url]);
    assert.equal(await sha256File(viaCurl), bigSha, 'presigned GET through curl returns the same bytes');
    await fs.rm(viaCurl);

    // Every part lives on three backends (stragglers may still be finishing right after the answer).
    const status = await eventually('3 ok replicas of every part', async () => {
      const s = await fg.admin('GET', `/admin/replicas?tenant=root&bucket=${bucket}&key=2026/big.iso`);
      return s.json.parts.every((p: any) => p.replicas.filter((x: any) => x.state === 'ok').length === 3) ? s.json : null;
    });
    assert.ok(status.parts.length >= 9, 'the cli uploaded it in several parts');
    for (const p of status.parts) assert.equal(new Set(p.replicas.map((x: any) => x.backend)).size, 3);
  });

  test(`${cli.label}: physical names on the backends reveal neither tenant nor bucket`, async () => {
    const names = new Set<string>();
    for (const b of ['local-eu-1', 'local-eu-2', 'local-us-1']) {
      // The health pinger's probe file (random name, written and removed every few hundred ms)
      // may be caught in the listing; it names nothing.
      for (const n of await fs.readdir(path.join(fg.dataDir, 'backends', b))) if (!/^\.health-[0-9a-f]{16}$/.test(n)) names.add(n);
    }
    assert.ok(names.size > 0);
    for (const n of names) {
      assert.match(n, /^s3gw-[a-z0-9]+-local$/);
      assert.ok(!n.includes('photos') && !n.includes('root'), n);
    }
  });

  test(`${cli.label}: s3api object operations`, async () => {
    const small = path.join(dir, 'small.txt');
    await fs.writeFile(small, 'hello fedgate\n');
    let r = await aws(['s3api', 'put-object', '--bucket', bucket, '--key', 'docs/a b+c.txt', '--body', small, '--metadata', 'colour=blue', '--content-type', 'text/plain']);
    assert.equal(r.code, 0, r.stderr);
    const etag = JSON.parse(r.stdout).ETag;
    assert.equal(etag, `"${createHash('md5').update('hello fedgate\n').digest('hex')}"`);

    r = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'docs/a b+c.txt']);
    assert.equal(r.code, 0, r.stderr);
    const head = JSON.parse(r.stdout);
    assert.equal(head.ContentLength, 14);
    assert.equal(head.ContentType, 'text/plain');
    assert.deepEqual(head.Metadata, { colour: 'blue' });

    const part = path.join(dir, 'range.out');
    r = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'docs/a b+c.txt', '--range', 'bytes=6-12', part]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await fs.readFile(part, 'utf8'), 'fedgate');

    r = await aws(['s3api', 'copy-object', '--bucket', bucket, '--key', 'docs/copy.txt', '--copy-source', `${bucket}/docs/a b+c.txt`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).CopyObjectResult.ETag, etag);

    r = await aws(['s3api', 'list-objects-v2', '--bucket', bucket, '--delimiter', '/']);
    assert.equal(r.code, 0, r.stderr);
    const top = JSON.parse(r.stdout);
    assert.deepEqual(top.CommonPrefixes.map((p: any) => p.Prefix).sort(), ['2026/', 'docs/']);

    r = await aws(['s3api', 'list-objects', '--bucket', bucket, '--prefix', 'docs/']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).Contents.map((c: any) => c.Key), ['docs/a b+c.txt', 'docs/copy.txt']);

    r = await aws(['s3api', 'delete-objects', '--bucket', bucket, '--delete', JSON.stringify({ Objects: [{ Key: 'docs/copy.txt' }, { Key: 'docs/missing' }] })]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).Deleted.length, 2);

    r = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'docs/copy.txt', part]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NoSuchKey/);
  });

  test(`${cli.label}: s3api multipart listing and abort`, async () => {
    let r = await aws(['s3api', 'create-multipart-upload', '--bucket', bucket, '--key', 'mp/obj']);
    assert.equal(r.code, 0, r.stderr);
    const uploadId = JSON.parse(r.stdout).UploadId;
    const partFile = path.join(dir, 'part1');
    await fs.writeFile(partFile, randomBytes(1024));
    r = await aws(['s3api', 'upload-part', '--bucket', bucket, '--key', 'mp/obj', '--upload-id', uploadId, '--part-number', '1', '--body', partFile]);
    assert.equal(r.code, 0, r.stderr);
    r = await aws(['s3api', 'list-parts', '--bucket', bucket, '--key', 'mp/obj', '--upload-id', uploadId]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).Parts.map((p: any) => [p.PartNumber, p.Size]), [[1, 1024]]);
    r = await aws(['s3api', 'list-multipart-uploads', '--bucket', bucket]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).Uploads.map((u: any) => u.UploadId), [uploadId]);
    r = await aws(['s3api', 'abort-multipart-upload', '--bucket', bucket, '--key', 'mp/obj', '--upload-id', uploadId]);
    assert.equal(r.code, 0, r.stderr);
    r = await aws(['s3api', 'list-parts', '--bucket', bucket, '--key', 'mp/obj', '--upload-id', uploadId]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NoSuchUpload/);
  });

  test(`${cli.label}: rb refuses a non-empty bucket, rb --force empties and removes it`, async () => {
    let r = await aws(['s3api', 'delete-bucket', '--bucket', bucket]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /BucketNotEmpty/);
    r = await aws(['s3', 'rb', `s3://${bucket}`, '--force']);
    assert.equal(r.code, 0, r.stderr);
    r = await aws(['s3api', 'head-bucket', '--bucket', bucket]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /404|Not Found/);
  });
}

test('an aws cli is installed, so the tour above really ran (.ci/run installs one)', () => {
  assert.ok(clis.length > 0, 'no aws cli found on PATH or at /usr/bin/aws');
});
