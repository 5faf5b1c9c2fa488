// Requests exactly as real clients send them: @aws-sdk/client-s3 v3 and, when installed,
// the aws cli (v1, botocore) are pointed at a throw-away node:http server on a free
// loopback port; each captured request must authenticate and decode to the exact bytes,
// and a flipped byte must give the S3 error code.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { authenticate, createPayloadVerifier, SigV4Error } from '../../gateway/sigv4/index.ts';
import type { SigV4Request } from '../../gateway/sigv4/index.ts';

const AKID = 'AKIDCAPTURE0001';
const SECRET = 'capture/secret+with=odd~chars';
const lookup = async (id: string): Promise<string | null> => (id === AKID ? SECRET : null);

interface Captured {
  req: SigV4Request;
  body: Buffer;
}

async function startCapture(tls?: { key: Buffer; cert: Buffer }): Promise<{ server: Server; endpoint: string; captured: Captured[] }> {
  const captured: Captured[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      captured.push({
        req: {
          method: req.method ?? 'GET',
          rawPath: q === -1 ? url : url.slice(0, q),
          rawQuery: q === -1 ? '' : url.slice(q + 1),
          headers: req.headers,
          headersDistinct: req.headersDistinct,
        },
        body: Buffer.concat(parts),
      });
      res.writeHead(200, { ETag: '"0123456789abcdef0123456789abcdef"', 'Content-Length': '0' });
      res.end();
    });
  };
  const server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, captured };
}

async function decode(c: Captured, body = c.body, headers: IncomingHttpHeaders = c.req.headers) {
  const auth = await authenticate({ ...c.req, headers }, lookup);
  const v = createPayloadVerifier(auth, headers);
  const out: Buffer[] = [];
  v.on('data', (d: Buffer) => out.push(d));
  const done = new Promise<void>((resolve, reject) => { v.on('end', resolve); v.on('error', reject); });
  v.end(body);
  await done;
  return { auth, body: Buffer.concat(out), trailer: v.trailerChecksum };
}

async function decodeCode(c: Captured, body: Buffer): Promise<string> {
  try {
    await decode(c, body);
  } catch (err) {
    assert.ok(err instanceof SigV4Error, String(err));
    return err.code;
  }
  return 'accepted';
}

const PAYLOAD = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31 + 7) & 0xff));
const KEY = 'dir/ünï code+plus=eq~tilde.bin';

test('S3Client PutObject with a stream body (aws-chunked, unsigned CRC32 trailer) authenticates and decodes', async (t) => {
  const { server, endpoint, captured } = await startCapture();
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
  t.after(() => client.destroy());
  const chunks = [PAYLOAD.subarray(0, 100_000), PAYLOAD.subarray(100_000, 250_000), PAYLOAD.subarray(250_000)];
  await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: KEY, Body: Readable.from(chunks), ContentLength: PAYLOAD.length }));
  assert.equal(captured.length, 1);
  const c = captured[0];
  assert.equal(c.req.headers['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
  assert.equal(c.req.headers['x-amz-trailer'], 'x-amz-checksum-crc32');

  const { auth, body, trailer } = await decode(c);
  assert.deepEqual(auth.payload, { kind: 'streaming-unsigned-trailer' });
  assert.equal(auth.decodedContentLength, PAYLOAD.length);
  assert.ok(body.equals(PAYLOAD), 'decoded bytes equal what the client sent');
  assert.equal(trailer?.algorithm, 'CRC32');

  // One payload byte flipped: the CRC32 trailer no longer matches.
  const dataAt = c.body.indexOf(PAYLOAD.subarray(1000, 1032));
  assert.ok(dataAt > 0);
  const flipped = Buffer.from(c.body);
  flipped[dataAt] ^= 0x01;
  assert.equal(await decodeCode(c, flipped), 'BadDigest');

  // One character of the trailer value changed to another base64 digit.
  const text = c.body.toString('latin1');
  const at = text.indexOf('x-amz-checksum-crc32:') + 'x-amz-checksum-crc32:'.length;
  const swapped = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
  assert.equal(await decodeCode(c, Buffer.from(swapped, 'latin1')), 'BadDigest');

  assert.equal(await decodeCode(c, c.body.subarray(0, c.body.length - 50)), 'IncompleteBody');
  await assert.rejects(authenticate(c.req, async () => 'wrong-secret'), { code: 'SignatureDoesNotMatch' });
});

test('S3Client PutObject with a Buffer body (signed SHA-256 payload) authenticates and decodes', async (t) => {
  const { server, endpoint, captured } = await startCapture();
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
  t.after(() => client.destroy());
  await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: KEY, Body: PAYLOAD, Metadata: { note: 'a  b' } }));
  const c = captured[0];
  const { auth, body, trailer } = await decode(c);
  assert.equal(auth.payload.kind, 'sha256');
  assert.ok(body.equals(PAYLOAD));
  assert.equal(trailer, null);
  const flipped = Buffer.from(c.body);
  flipped[12345] ^= 0x80;
  assert.equal(await decodeCode(c, flipped), 'XAmzContentSHA256Mismatch');
});

const AWS_CLI = '/root/.pyenv/shims/aws';
const OPENSSL = '/usr/bin/openssl';

function execFileResult(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 45_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr: String(stderr) }));
  });
}

/**
 * botocore signs the payload (x-amz-content-sha256 = hex) over plain HTTP and, since
 * 1.36, sends aws-chunked with STREAMING-UNSIGNED-PAYLOAD-TRAILER over HTTPS.
 */
async function awsCliPut(t: TestContext, tls: boolean): Promise<Captured | null> {
  const dir = await mkdtemp(join(tmpdir(), 'sigv4-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let tlsOptions: { key: Buffer; cert: Buffer } | undefined;
  if (tls) {
    const made = await execFileResult(OPENSSL, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'),
      '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], process.env);
    if (made.code !== 0) {
      t.skip(`openssl could not make a test certificate: ${made.stderr.slice(0, 200)}`);
      return null;
    }
    tlsOptions = { key: await readFile(join(dir, 'k.pem')), cert: await readFile(join(dir, 'c.pem')) };
  }
  const { server, endpoint, captured } = await startCapture(tlsOptions);
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const file = join(dir, 'payload.bin');
  await writeFile(file, PAYLOAD);
  const env = {
    PATH: process.env.PATH ?? '', HOME: dir, AWS_ACCESS_KEY_ID: AKID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_EC2_METADATA_DISABLED: 'true',
    PYENV_ROOT: process.env.PYENV_ROOT ?? '/root/.pyenv', PYTHONWARNINGS: 'ignore',
  };
  const args = ['s3api', 'put-object', '--endpoint-url', endpoint, '--bucket', 'bkt', '--key', KEY, '--body', file];
  const run = await execFileResult(AWS_CLI, tls ? [...args, '--no-verify-ssl'] : args, env);
  if (captured.length === 0) {
    t.skip(`aws cli did not reach the capture server (exit ${run.code}): ${run.stderr.slice(0, 300)}`);
    return null;
  }
  assert.equal(run.code, 0, run.stderr);
  return captured[captured.length - 1];
}

const noCli = existsSync(AWS_CLI) ? false : `aws cli not found at ${AWS_CLI}`;

test('aws cli put-object over HTTP (signed SHA-256 payload) authenticates and decodes', { skip: noCli }, async (t) => {
  const c = await awsCliPut(t, false);
  if (!c) return;
  const { auth, body } = await decode(c);
  assert.equal(auth.payload.kind, 'sha256');
  assert.ok(body.equals(PAYLOAD));
  const flipped = Buffer.from(c.body);
  flipped[5000] ^= 0x01;
  assert.equal(await decodeCode(c, flipped), 'XAmzContentSHA256Mismatch');
});

test('aws cli put-object over HTTPS (aws-chunked, unsigned CRC32 trailer) authenticates and decodes',
  { skip: noCli || (existsSync(OPENSSL) ? false : `openssl not found at ${OPENSSL}`) }, async (t) => {
    const c = await awsCliPut(t, true);
    if (!c) return;
    const { auth, body, trailer } = await decode(c);
    assert.deepEqual(auth.payload, { kind: 'streaming-unsigned-trailer' });
    assert.ok(body.equals(PAYLOAD));
    assert.equal(trailer?.algorithm, 'CRC32');
    const flipped = Buffer.from(c.body);
    flipped[c.body.indexOf(PAYLOAD.subarray(5000, 5032))] ^= 0x01;
    assert.equal(await decodeCode(c, flipped), 'BadDigest');
  });
