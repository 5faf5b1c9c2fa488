// `fedgate serve` as a user runs it (what `npm start` does): no configuration,
// embedded PostgreSQL, three local-disk backends, generated credentials printed
// once; Ctrl-C stops it cleanly; a second start reuses the same data.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { freePort } from '../helpers/s3-servers.ts';
import { killServerOn } from '../../metadata/embedded-host.ts';

const root = path.resolve(import.meta.dirname, '../..');
const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fedgate-serve-'));
const children: ChildProcess[] = [];

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  // A killed Fedgate cannot stop its embedded PostgreSQL (a process group of its own).
  killServerOn(path.join(dataDir, 'pg'));
  await fs.rm(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  s3Port: number;
  adminPort: number;
}

/** `group`: in a process group of its own, as a shell runs a job, so the test can send it Ctrl-C. */
async function start(opts: { group?: boolean } = {}): Promise<Started> {
  const s3Port = await freePort();
  const adminPort = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, FEDGATE_DATA_DIR: dataDir, FEDGATE_S3_PORT: String(s3Port), FEDGATE_ADMIN_PORT: String(adminPort) };
  for (const k of ['DATABASE_URL', 'FEDGATE_ROOT_ACCESS_KEY', 'FEDGATE_ROOT_SECRET_KEY', 'FEDGATE_ADMIN_TOKEN', 'FEDGATE_MASTER_KEY', 'FEDGATE_DEFAULT_BACKENDS']) delete env[k];
  const child = spawn(process.execPath, [path.join(root, 'bin/fedgate.ts'), 'serve'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.group === true });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const until = Date.now() + 60_000;
  while (!err.includes('Fedgate S3 endpoint')) {
    if (child.exitCode !== null) throw new Error(`fedgate exited ${child.exitCode}: ${err}`);
    if (Date.now() > until) throw new Error(`fedgate did not start in 60 s: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, stdout: () => out, stderr: () => err, s3Port, adminPort };
}

/** An 8 MiB PUT that streams slowly (512 KiB every 100 ms); resolves once 2 MiB are sent. */
async function slowPut(s3: S3Client, key: string): Promise<{ body: Buffer; upload: Promise<{ ETag?: string }> }> {
  const body = randomBytes(8 * 1024 * 1024);
  let sent = 0;
  const slow = new Readable({
    read() {
      if (sent >= body.length) return this.push(null);
      const piece = body.subarray(sent, sent + 512 * 1024);
      sent += piece.length;
      setTimeout(() => this.push(piece), 100);
    },
  });
  const upload = s3.send(new PutObjectCommand({ Bucket: 'photos', Key: key, Body: slow, ContentLength: body.length }));
  while (sent < 2 * 1024 * 1024) await new Promise((r) => setTimeout(r, 20));
  return { body, upload };
}

function stopWith(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}

test('fedgate serve starts with no configuration, prints credentials once, stops on SIGINT and keeps its data', async () => {
  const first = await start();
  const m = /AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)/.exec(first.stderr());
  assert.ok(m, 'the first start prints the root tenant key');
  assert.match(first.stderr(), /Admin API token \(shown once\): fga_\S+/);
  const [, accessKeyId, secretAccessKey] = m;
  const adminToken = /Admin API token \(shown once\): (\S+)/.exec(first.stderr())![1];

  assert.equal((await fetch(`http://127.0.0.1:${first.adminPort}/health`)).status, 200);
  const ready = await fetch(`http://127.0.0.1:${first.adminPort}/ready`);
  assert.equal(ready.status, 200, await ready.text());
  const storage: any = await (await fetch(`http://127.0.0.1:${first.adminPort}/admin/storage`, { headers: { authorization: `Bearer ${adminToken}` } })).json();
  assert.deepEqual(storage.backends.map((b: any) => b.type), ['local-disk', 'local-disk', 'local-disk']);
  assert.equal(new Set(storage.backends.map((b: any) => b.region)).size >= 2, true);

  const s3 = new S3Client({ endpoint: `http://127.0.0.1:${first.s3Port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  await s3.send(new CreateBucketCommand({ Bucket: 'photos' }));
  await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'a.txt', Body: 'kept across restarts' }));

  // JSON logs carry a request id per S3 request and never a secret.
  // (The access line is written just after the response ends, so give it a moment.)
  const s3Lines = async () => first.stdout().trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.msg === 's3 request');
  for (let i = 0; i < 50 && (await s3Lines()).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  const logged = await s3Lines();
  assert.equal(logged.length, 2);
  assert.ok(logged.every((l) => /^[0-9A-F]{16}$/.test(l.reqId) && l.status === 200), JSON.stringify(logged));
  assert.ok(!first.stdout().includes(secretAccessKey) && !first.stdout().includes(adminToken), 'no secret in the logs');

  const mode = (await fs.stat(path.join(dataDir, 'master.key'))).mode & 0o777;
  assert.equal(mode, 0o600);

  assert.equal(await stopWith(first.child, 'SIGINT'), 0, first.stderr());
  // PostgreSQL removes postmaster.pid only on a clean shutdown: the embedded server stopped with us.
  await assert.rejects(fs.stat(path.join(dataDir, 'pg', 'postmaster.pid')), { code: 'ENOENT' });

  const second = await start();
  assert.ok(!/shown once/.test(second.stderr()), 'a second start prints no credentials');
  const s3b = new S3Client({ endpoint: `http://127.0.0.1:${second.s3Port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  const got = await s3b.send(new GetObjectCommand({ Bucket: 'photos', Key: 'a.txt' }));
  assert.equal(await got.Body!.transformToString(), 'kept across restarts');
  s3.destroy();

  // SIGTERM while an upload is in flight: the upload finishes and is acknowledged, then the process exits.
  const first8 = await slowPut(s3b, 'in-flight.bin');
  const exited = stopWith(second.child, 'SIGTERM');
  const put = await first8.upload;
  assert.equal(put.ETag, `"${createHash('md5').update(first8.body).digest('hex')}"`);
  assert.equal(await exited, 0, second.stderr());
  s3b.destroy();

  // Ctrl-C in a terminal (SIGINT to the whole process group, embedded PostgreSQL included) while an
  // upload is in flight: the upload still commits and is acknowledged.
  const third = await start({ group: true });
  const s3c = new S3Client({ endpoint: `http://127.0.0.1:${third.s3Port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  const back = await s3c.send(new GetObjectCommand({ Bucket: 'photos', Key: 'in-flight.bin' }));
  assert.ok(Buffer.from(await back.Body!.transformToByteArray()).equals(first8.body), 'the upload acknowledged during shutdown is there after a restart');
  const second8 = await slowPut(s3c, 'in-flight-ctrl-c.bin');
  const exitedToo = new Promise<number | null>((resolve) => third.child.once('exit', (code) => resolve(code)));
  process.kill(-third.child.pid!, 'SIGINT');
  const putToo = await second8.upload;
  assert.equal(putToo.ETag, `"${createHash('md5').update(second8.body).digest('hex')}"`);
  assert.equal(await exitedToo, 0, third.stderr());
  s3c.destroy();
  await assert.rejects(fs.stat(path.join(dataDir, 'pg', 'postmaster.pid')), { code: 'ENOENT' });

  const fourth = await start();
  const s3d = new S3Client({ endpoint: `http://127.0.0.1:${fourth.s3Port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  const backToo = await s3d.send(new GetObjectCommand({ Bucket: 'photos', Key: 'in-flight-ctrl-c.bin' }));
  assert.ok(Buffer.from(await backToo.Body!.transformToByteArray()).equals(second8.body), 'the upload acknowledged during Ctrl-C is there after a restart');
  s3d.destroy();
  assert.equal(await stopWith(fourth.child, 'SIGINT'), 0, fourth.stderr());
  await assert.rejects(fs.stat(path.join(dataDir, 'pg', 'postmaster.pid')), { code: 'ENOENT' });
});
