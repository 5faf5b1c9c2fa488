// The two sides of every S3 comparison, behind one interface so both run the same
// loop: "direct" sends each operation with @aws-sdk/client-s3 straight to the
// backends, "fedgate" sends it to the gateway. Both use clients built by makeClient,
// with identical settings.
import http from 'node:http';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type Readable } from 'node:stream';
import { bufferStream, type Body } from './workload.ts';

export interface S3Endpoint {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** A per-request deadline, so a hung server fails the run instead of stalling it. */
const OP_TIMEOUT_MS = 180_000;

/**
 * One client per endpoint, same settings on both sides:
 * - path-style URLs (IP endpoints have no bucket subdomains);
 * - flexible checksums only where an operation requires them: otherwise the SDK
 *   frames a stream body as aws-chunked with a trailer, which s3rver would store
 *   verbatim inside the object (the GET-side CRC check would then fail);
 * - no `Expect: 100-continue`: with it @smithy/node-http-handler opens a fresh,
 *   non-keep-alive connection per large PUT and waits a round trip;
 * - keep-alive, 64 sockets per origin (concurrency is 32), idle sockets closed after 2 s;
 * - one attempt: a retried request would hide a failure and cannot replay a stream.
 * A stream body is sent with `x-amz-content-sha256: UNSIGNED-PAYLOAD` (the SigV4
 * signer hashes only in-memory bodies), so neither side hashes the large payloads.
 */
export function makeClient(ep: S3Endpoint): S3Client {
  // `timeout` closes a pooled socket after 2 s idle: s3rver (Node's http server)
  // closes idle keep-alive connections after 5 s, and a request sent on a socket the
  // server is closing fails with "socket hang up" — with one attempt, a failed run.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 2000 });
  const client = new S3Client({
    endpoint: ep.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    expectContinueHeader: false,
    maxAttempts: 1,
    requestHandler: { httpAgent: agent, connectionTimeout: 10_000, socketTimeout: 120_000 },
  });
  client.middlewareStack.add(plainPayloadGuard, { step: 'finalizeRequest', priority: 'low', name: 'benchPlainPayloadGuard' });
  return client;
}

/** The direct side must send plain payloads: refuse anything aws-chunked. */
const plainPayloadGuard =
  (next: (args: any) => Promise<any>) =>
  async (args: any): Promise<any> => {
    const headers: Record<string, string> = args.request?.headers ?? {};
    for (const [k, v] of Object.entries(headers)) {
      const name = k.toLowerCase();
      if ((name === 'content-encoding' && String(v).includes('aws-chunked')) || name === 'x-amz-decoded-content-length' || name === 'x-amz-trailer') {
        throw new Error(`benchmark client would send an aws-chunked request (${name}: ${v})`);
      }
    }
    return next(args);
  };

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(OP_TIMEOUT_MS) });
}

export async function putObject(client: S3Client, bucket: string, key: string, body: Buffer | Readable, length: number): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: length }), { abortSignal: AbortSignal.timeout(OP_TIMEOUT_MS) });
}

/** The response body as a Node stream; the caller must read it to the end. */
export async function getObjectBody(client: S3Client, bucket: string, key: string): Promise<AsyncIterable<Uint8Array>> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: AbortSignal.timeout(OP_TIMEOUT_MS) });
  if (!res.Body) throw new Error(`GET ${bucket}/${key}: no body`);
  return res.Body as unknown as AsyncIterable<Uint8Array>;
}

/**
 * What one benchmark operation means on one side. Direct PUT writes all three
 * backends in parallel (the least any 3-copy write can cost); direct GET reads one
 * backend, rotating over the three.
 */
export interface Side {
  name: string;
  /** Store `data` under `key`. */
  put(key: string, data: Buffer): Promise<void>;
  get(key: string, i: number): Promise<Body>;
}

/**
 * Large bodies go out as streams (sent UNSIGNED-PAYLOAD, no client-side SHA-256);
 * small ones as buffers, as an SDK user would send them (signed payload hash).
 */
function asBody(data: Buffer): Buffer | Readable {
  return data.length > STREAM_ABOVE ? bufferStream(data) : data;
}

const STREAM_ABOVE = 1024 * 1024;

/** Name the side, the operation and the key in an error, keep the original as cause. */
async function labelled<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
  }
}

export function directSide(clients: S3Client[], bucket: string): Side {
  return {
    name: 'direct',
    async put(key, data) {
      await Promise.all(clients.map((c, n) => labelled(`direct PUT ${key} to backend ${n}`, () => putObject(c, bucket, key, asBody(data), data.length))));
    },
    get: (key, i) => labelled(`direct GET ${key} from backend ${i % clients.length}`, () => getObjectBody(clients[i % clients.length], bucket, key)),
  };
}

export function fedgateSide(client: S3Client, bucket: string): Side {
  return {
    name: 'fedgate',
    put: (key, data) => labelled(`fedgate PUT ${key}`, () => putObject(client, bucket, key, asBody(data), data.length)),
    get: (key) => labelled(`fedgate GET ${key}`, () => getObjectBody(client, bucket, key)),
  };
}
