// s3cmd (Debian's package) against a whole Fedgate, path-style, SigV4: mb, put (single and
// multipart), ls, info, get, sync with --delete-removed, del, rb.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { available, requireClient, run } from '../helpers/clients.ts';

const haveS3cmd = available('s3cmd', ['--version']);
let fg: TestFedgate;
let dir: string;
let cfg: string;

before(async () => {
  fg = await startTestFedgate();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fedgate-s3cmd-'));
  cfg = path.join(dir, 's3cfg');
  const host = new URL(fg.endpoint).host;
  // host_bucket without %(bucket)s makes s3cmd use path-style requests.
  await fs.writeFile(
    cfg,
    [
      '[default]',
      `access_key = ${fg.accessKeyId}`,
      `secret_key = ${fg.secretAccessKey}`,
      `host_base = ${host}`,
      `host_bucket = ${host}`,
      'use_https = False',
      'signature_v2 = False',
      'bucket_location = us-east-1',
      'multipart_chunk_size_mb = 5',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
});

after(async () => {
  await fg?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

test('s3cmd: mb, put (single and multipart), ls, info, get, sync --delete-removed, del, rb', async (t) => {
  if (!requireClient(t, await haveS3cmd, 's3cmd')) return;
  const s3cmd = (...args: string[]) => run('s3cmd', ['-c', cfg, '--no-progress', ...args], { ...process.env, HOME: dir });
  let r = await s3cmd('mb', 's3://cmd');
  assert.equal(r.code, 0, r.stderr);
  const small = path.join(dir, 'small.txt');
  await fs.writeFile(small, 'hello s3cmd\n');
  const big = path.join(dir, 'big.bin');
  const bigData = randomBytes(11 * 1024 * 1024);
  await fs.writeFile(big, bigData);
  r = await s3cmd('put', small, 's3://cmd/dir/small.txt');
  assert.equal(r.code, 0, r.stderr);
  r = await s3cmd('put', big, 's3://cmd/big.bin');
  assert.equal(r.code, 0, r.stderr);
  r = await s3cmd('ls', '--recursive', 's3://cmd');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\s12\s+s3:\/\/cmd\/dir\/small\.txt/);
  assert.match(r.stdout, new RegExp(`\\s${11 * 1024 * 1024}\\s+s3://cmd/big\\.bin`));
  r = await s3cmd('info', 's3://cmd/big.bin');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /File size:\s+11534336/);
  const head = await fg.client().send(new HeadObjectCommand({ Bucket: 'cmd', Key: 'big.bin' }));
  assert.match(head.ETag ?? '', /-3"$/, 'an 11 MiB put in 5 MiB chunks is a 3-part multipart object');
  const back = path.join(dir, 'back.bin');
  r = await s3cmd('get', 's3://cmd/big.bin', back);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(md5(await fs.readFile(back)), md5(bigData));

  const src = path.join(dir, 'tree');
  await fs.mkdir(path.join(src, 'sub'), { recursive: true });
  for (let i = 0; i < 6; i++) await fs.writeFile(path.join(src, i % 2 ? 'sub' : '', `f${i}.txt`), `file ${i}\n`);
  r = await s3cmd('sync', `${src}/`, 's3://cmd/tree/');
  assert.equal(r.code, 0, r.stderr);
  await fs.rm(path.join(src, 'f0.txt'));
  r = await s3cmd('sync', '--delete-removed', `${src}/`, 's3://cmd/tree/');
  assert.equal(r.code, 0, r.stderr);
  r = await s3cmd('ls', '--recursive', 's3://cmd/tree/');
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split('s3://cmd/tree/')[1]).sort(), ['f2.txt', 'f4.txt', 'sub/f1.txt', 'sub/f3.txt', 'sub/f5.txt']);

  r = await s3cmd('rb', 's3://cmd');
  assert.notEqual(r.code, 0, 'rb of a non-empty bucket fails');
  assert.match(r.stderr, /BucketNotEmpty/);
  r = await s3cmd('del', '--recursive', '--force', 's3://cmd');
  assert.equal(r.code, 0, r.stderr);
  r = await s3cmd('rb', 's3://cmd');
  assert.equal(r.code, 0, r.stderr);
});
