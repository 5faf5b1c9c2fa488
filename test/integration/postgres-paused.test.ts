// PRODUCT.md §9 with a PostgreSQL that is paused (SIGSTOP: the whole server, postmaster and
// backends) while a transaction's COMMIT is on its way: the COMMIT lands in the stopped server's
// socket buffer, the gateway gives up and answers 503, and the server resumes long after. The
// session's idle_in_transaction_session_timeout (half the gateway's database timeout) has expired
// by then: the resumed server must end the session before it reads the COMMIT. A PutObject's
// commit, one statement, must refuse itself (its deadline, migrations/010). A server of its own
// (embedded PostgreSQL under .tmp), since the machine's is shared.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, PutObjectCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../metadata/index.ts';
import { s3Error } from '../helpers/s3-error.ts';
import { assertNeverStored, startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { startTcpProxy, type ChunkTest, type TcpProxy } from '../helpers/tcp-proxy.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = path.join(ROOT, '.tmp', `paused-pg-test-${process.pid}`);
const DB_TIMEOUT_MS = 2000;
let server: EmbeddedPostgres;
let proxy: TcpProxy;
let fg: TestFedgate;
let s3: S3Client;

/** The postmaster and every process it started. */
function serverPids(): number[] {
  const postmaster = Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return [postmaster, ...children];
}
const signalServer = (sig: NodeJS.Signals) => {
  for (const pid of serverPids()) process.kill(pid, sig);
};

before(async () => {
  server = await startEmbeddedPostgres({ dataDir });
  proxy = await startTcpProxy({ host: '127.0.0.1', port: server.port });
  fg = await startTestFedgate({
    workers: false,
    env: { FEDGATE_DB_TIMEOUT_MS: String(DB_TIMEOUT_MS) },
    databaseUrl: () => {
      const u = new URL(server.url);
      u.port = String(proxy.port);
      return u.toString();
    },
  });
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'paused' }));
});

after(async () => {
  try {
    signalServer('SIGCONT');
  } catch {
    // already stopped
  }
  proxy?.restore();
  await fg?.stop();
  await proxy?.close();
  await server?.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

/** Hold the statement `held` picks, pause the server, let the statement into its socket buffer, resume after the 503. */
async function pausedWhileCommitting(send: (once: S3Client) => Promise<unknown>, held: ChunkTest): Promise<void> {
  const once = fg.client(undefined, { maxAttempts: 1 });
  let paused = false;
  try {
    const onHold = new Promise<void>((resolve) => proxy.blackholeWhen(held, resolve));
    const answer = s3Error(send(once));
    await onHold;
    signalServer('SIGSTOP');
    paused = true;
    proxy.restore(); // the statement reaches the stopped server's socket
    const e = await answer;
    assert.deepEqual([e.status, e.name], [503, 'ServiceUnavailable']);
    await new Promise((r) => setTimeout(r, DB_TIMEOUT_MS));
  } finally {
    if (paused) signalServer('SIGCONT');
  }
  await new Promise((r) => setTimeout(r, 1000));
}

/** The object never appeared: checked straight on the paused-and-resumed server. */
async function assertNotCommitted(key: string, why: string): Promise<void> {
  const c = new pg.Client(server.url);
  await c.connect();
  try {
    await assertNeverStored(s3, c, 'paused', key, why);
  } finally {
    await c.end();
  }
}

test('a CompleteMultipartUpload whose COMMIT waits in a paused server past the gateway timeout commits nothing once the server resumes', { timeout: 120_000 }, async () => {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'paused', Key: 'mpu' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: 'paused', Key: 'mpu', UploadId, PartNumber: 1, Body: 'the only part' }));
  const complete = new CompleteMultipartUploadCommand({ Bucket: 'paused', Key: 'mpu', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } });
  await pausedWhileCommitting((once) => once.send(complete), (chunk, previous) => chunk.includes('COMMIT\0') && previous !== null && previous.includes('fedgate_commit_version'));
  await assertNotCommitted('mpu', 'the COMMIT read after the resume committed the object');
});

test("a PutObject whose commit statement waits in a paused server past the gateway timeout commits nothing once the server resumes", { timeout: 120_000 }, async () => {
  await pausedWhileCommitting((once) => once.send(new PutObjectCommand({ Bucket: 'paused', Key: 'put', Body: 'acknowledged only if committed' })), (chunk) => chunk.includes('fedgate_commit_version'));
  await assertNotCommitted('put', 'the commit statement read after the resume committed the object');
});
