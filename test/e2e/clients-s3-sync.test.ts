// aws cli `s3 sync` both ways with --delete over a few dozen small files, and the s3api
// operations the tour in aws-cli.test.ts does not drive (bucket reads, checksums, parts,
// UploadPartCopy, Complete). Uses the first aws cli found (v1 on PATH, else v2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { availableAwsClis, runAws } from '../helpers/aws-cli.ts';
import { requireClient } from '../helpers/clients.ts';
import { checksumBase64 } from '../../shared/checksums/index.ts';

const cli = availableAwsClis()[0];
let fg: TestFedgate;
let dir: string;

before(async () => {
  fg = await startTestFedgate();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fedgate-sync-'));
});

after(async () => {
  await fg?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const aws = (...args: string[]) => runAws(cli, ['--endpoint-url', fg.endpoint, ...args], fg.awsEnv(), 120_000);

async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(path.relative(root, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

test('aws s3 sync up and down with --delete keeps both sides equal', async (t) => {
  if (!requireClient(t, cli !== undefined, 'aws cli')) return;
  const src = path.join(dir, 'src');
  for (let i = 0; i < 30; i++) {
    const f = path.join(src, `d${i % 4}`, `file ${i}.txt`);
    await fs.mkdir(path.dirname(f), { recursive: true });
    await fs.writeFile(f, `content ${i}\n`);
  }
  let r = await aws('s3', 'mb', 's3://sync');
  assert.equal(r.code, 0, r.stderr);
  r = await aws('s3', 'sync', src, 's3://sync/tree');
  assert.equal(r.code, 0, r.stderr);
  r = await aws('s3', 'sync', src, 's3://sync/tree');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '', 'a second sync uploads nothing');

  await fs.rm(path.join(src, 'd0', 'file 0.txt'));
  await fs.rm(path.join(src, 'd1', 'file 5.txt'));
  await fs.writeFile(path.join(src, 'd2', 'file 2.txt'), 'changed, and longer than before\n');
  await fs.writeFile(path.join(src, 'new.txt'), 'new\n');
  r = await aws('s3', 'sync', '--delete', src, 's3://sync/tree');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /delete: s3:\/\/sync\/tree\/d0\/file 0\.txt/);
  const listed = await fg.client().send(new ListObjectsV2Command({ Bucket: 'sync', Prefix: 'tree/' }));
  assert.equal(listed.KeyCount, 29);

  const down = path.join(dir, 'down');
  await fs.mkdir(down);
  await fs.writeFile(path.join(down, 'stale.txt'), 'gone after sync --delete');
  r = await aws('s3', 'sync', '--delete', 's3://sync/tree', down);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await tree(down), await tree(src));
  assert.equal(await fs.readFile(path.join(down, 'd2', 'file 2.txt'), 'utf8'), 'changed, and longer than before\n');
});

test('aws s3api: checksums, part reads, UploadPartCopy and Complete', async (t) => {
  if (!requireClient(t, cli !== undefined, 'aws cli')) return;
  const json = async (...args: string[]) => {
    const r = await aws('s3api', ...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : {};
  };
  // The bucket reads (head-bucket, get-bucket-location, list-buckets) are in aws-cli.test.ts.
  await json('create-bucket', '--bucket', 'api');
  const file = path.join(dir, 'obj.txt');
  await fs.writeFile(file, 'checksummed by the cli\n');
  const sha = await checksumBase64('SHA256', Buffer.from('checksummed by the cli\n'));
  assert.equal((await json('put-object', '--bucket', 'api', '--key', 'obj.txt', '--body', file, '--checksum-algorithm', 'SHA256')).ChecksumSHA256, sha);
  assert.equal((await json('head-object', '--bucket', 'api', '--key', 'obj.txt', '--checksum-mode', 'ENABLED')).ChecksumSHA256, sha);

  const big = path.join(dir, 'big.bin');
  await fs.writeFile(big, randomBytes(6 * 1024 * 1024));
  await json('put-object', '--bucket', 'api', '--key', 'big.bin', '--body', big);
  const { UploadId } = await json('create-multipart-upload', '--bucket', 'api', '--key', 'assembled');
  const p1 = await json('upload-part-copy', '--bucket', 'api', '--key', 'assembled', '--upload-id', UploadId, '--part-number', '1', '--copy-source', 'api/big.bin', '--copy-source-range', 'bytes=0-5242879');
  const p2 = await json('upload-part', '--bucket', 'api', '--key', 'assembled', '--upload-id', UploadId, '--part-number', '2', '--body', file);
  const parts = { Parts: [{ PartNumber: 1, ETag: p1.CopyPartResult.ETag }, { PartNumber: 2, ETag: p2.ETag }] };
  const done = await json('complete-multipart-upload', '--bucket', 'api', '--key', 'assembled', '--upload-id', UploadId, '--multipart-upload', JSON.stringify(parts));
  assert.match(done.ETag, /-2"$/);
  const part2 = path.join(dir, 'part2.out');
  const got = await json('get-object', '--bucket', 'api', '--key', 'assembled', '--part-number', '2', part2);
  assert.equal(got.PartsCount, 2);
  assert.equal(await fs.readFile(part2, 'utf8'), 'checksummed by the cli\n');

  const r = await aws('s3api', 'get-object', '--bucket', 'api', '--key', 'assembled', '--range', 'bytes=99999999-', part2);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /InvalidRange/);
  await json('delete-objects', '--bucket', 'api', '--delete', JSON.stringify({ Objects: [{ Key: 'assembled' }, { Key: 'obj.txt' }, { Key: 'big.bin' }] }));
});
