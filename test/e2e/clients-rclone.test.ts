// rclone (Debian's package) against a whole Fedgate as an "Other" S3 provider, path-style:
// mkdir, copy with multipart (small cutoff), check, sync with deletes both ways, lsf, purge.
// rclone reads AWS_CA_BUNDLE as a file to trust, so it runs without it (env -u in .ci/run terms).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { available, requireClient, run } from '../helpers/clients.ts';

const haveRclone = available('rclone', ['version']);
let fg: TestFedgate;
let dir: string;

before(async () => {
  fg = await startTestFedgate();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fedgate-rclone-'));
});

after(async () => {
  await fg?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

function rcloneEnv(): NodeJS.ProcessEnv {
  const { AWS_CA_BUNDLE: _ca, ...rest } = process.env;
  return {
    ...rest,
    HOME: dir,
    RCLONE_CONFIG: path.join(dir, 'rclone.conf'),
    RCLONE_CONFIG_FG_TYPE: 's3',
    RCLONE_CONFIG_FG_PROVIDER: 'Other',
    RCLONE_CONFIG_FG_ACCESS_KEY_ID: fg.accessKeyId,
    RCLONE_CONFIG_FG_SECRET_ACCESS_KEY: fg.secretAccessKey,
    RCLONE_CONFIG_FG_ENDPOINT: fg.endpoint,
    RCLONE_CONFIG_FG_REGION: 'us-east-1',
    RCLONE_CONFIG_FG_FORCE_PATH_STYLE: 'true',
  };
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

test('rclone: mkdir, multipart copy, check, sync with deletes both ways, lsf, purge', async (t) => {
  if (!requireClient(t, await haveRclone, 'rclone')) return;
  const env = rcloneEnv();
  const rclone = (...args: string[]) => run('rclone', ['--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', '--retries', '1', ...args], env);
  const src = path.join(dir, 'src');
  await fs.mkdir(path.join(src, 'nested'), { recursive: true });
  const big = randomBytes(11 * 1024 * 1024);
  await fs.writeFile(path.join(src, 'big.bin'), big);
  for (let i = 0; i < 10; i++) await fs.writeFile(path.join(src, i % 3 ? 'nested' : '', `n${i}.txt`), `rclone ${i}\n`);

  let r = await rclone('mkdir', 'fg:rcl');
  assert.equal(r.code, 0, r.stderr);
  r = await rclone('copy', src, 'fg:rcl/data');
  assert.equal(r.code, 0, r.stderr);
  const head = await fg.client().send(new HeadObjectCommand({ Bucket: 'rcl', Key: 'data/big.bin' }));
  assert.match(head.ETag ?? '', /-3"$/, 'rclone uploaded the 11 MiB file as 3 parts');
  r = await rclone('check', src, 'fg:rcl/data');
  assert.equal(r.code, 0, r.stderr);

  await fs.rm(path.join(src, 'n0.txt'));
  await fs.writeFile(path.join(src, 'added.txt'), 'new\n');
  r = await rclone('sync', src, 'fg:rcl/data');
  assert.equal(r.code, 0, r.stderr);
  r = await rclone('lsf', '-R', '--files-only', 'fg:rcl/data');
  assert.equal(r.code, 0, r.stderr);
  const listed = r.stdout.trim().split('\n').sort();
  assert.ok(!listed.includes('n0.txt') && listed.includes('added.txt'), listed.join(','));
  assert.equal(listed.length, 11);

  const down = path.join(dir, 'down');
  await fs.mkdir(down);
  await fs.writeFile(path.join(down, 'stale.txt'), 'to be deleted by sync');
  r = await rclone('sync', 'fg:rcl/data', down);
  assert.equal(r.code, 0, r.stderr);
  await assert.rejects(fs.stat(path.join(down, 'stale.txt')));
  assert.equal(md5(await fs.readFile(path.join(down, 'big.bin'))), md5(big));

  r = await rclone('purge', 'fg:rcl');
  assert.equal(r.code, 0, r.stderr);
  r = await rclone('lsd', 'fg:');
  assert.doesNotMatch(r.stdout, /\brcl\b/);
});
