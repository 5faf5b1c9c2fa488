// Streaming checksums for every algorithm S3 speaks. Each hasher is fed the bytes
// once, on the way in (docs/ARCHITECTURE.md, "The quorum writer"). The CRCs come from
// crc.ts (the fastest implementation that loads here), MD5 / SHA-1 / SHA-256 from node:crypto.
// Values are printed base64, big-endian, as in x-amz-checksum-* headers
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
import { createHash, createHmac, createSecretKey, KeyObject, type Hmac } from 'node:crypto';
import { crc32, crc32c, createCrc64 } from './crc.ts';
import type { ChecksumAlgorithm } from '../../metadata/types.ts';

export type { ChecksumAlgorithm };
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

export interface Hasher {
  update(data: Uint8Array): void;
  /** Raw digest bytes (big-endian for the CRCs). */
  digest(): Promise<Buffer>;
  /** Gives up without a digest (a failed write); only off-thread hashers hold anything. */
  dispose?(): void;
  /** Off-thread hashers: the worker is too far behind; stop feeding until drained() (off-thread.ts). */
  full?(): boolean;
  drained?(): Promise<void>;
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

class Crc32Hasher implements Hasher {
  private state = 0;
  private readonly fn: (d: Uint8Array, s: number) => number;
  constructor(fn: (d: Uint8Array, s: number) => number) {
    this.fn = fn;
  }
  update(data: Uint8Array): void {
    this.state = this.fn(data, this.state);
  }
  async digest(): Promise<Buffer> {
    return u32(this.state);
  }
}

class NodeHashHasher implements Hasher {
  private readonly h;
  constructor(alg: 'md5' | 'sha1' | 'sha256') {
    this.h = createHash(alg);
  }
  update(data: Uint8Array): void {
    this.h.update(data);
  }
  async digest(): Promise<Buffer> {
    return this.h.digest();
  }
}

export function createHasher(alg: ChecksumAlgorithm | 'MD5'): Hasher {
  switch (alg) {
    case 'CRC32':
      return new Crc32Hasher(crc32);
    case 'CRC32C':
      return new Crc32Hasher(crc32c);
    case 'CRC64NVME':
      return createCrc64();
    case 'SHA1':
      return new NodeHashHasher('sha1');
    case 'SHA256':
      return new NodeHashHasher('sha256');
    case 'MD5':
      return new NodeHashHasher('md5');
  }
}

/** A CRC-32C state as Fedgate records it for its own read checks (chunks.crc32c): 8 hex digits. */
export function crc32cHex(state: number): string {
  return (state >>> 0).toString(16).padStart(8, '0');
}

/** `x-amz-checksum-crc32` → 'CRC32' etc.; undefined for anything else. */
export function algorithmFromHeader(name: string): ChecksumAlgorithm | undefined {
  const m = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/i.exec(name);
  return m ? (m[1].toUpperCase() as ChecksumAlgorithm) : undefined;
}

export function headerForAlgorithm(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg.toLowerCase()}`;
}

/** Byte length of a digest, for validating a client-supplied base64 value. */
export function digestLength(alg: ChecksumAlgorithm): number {
  return { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 }[alg];
}

/** One-shot digest, base64. */
export async function checksumBase64(alg: ChecksumAlgorithm, data: Uint8Array): Promise<string> {
  const h = createHasher(alg);
  h.update(data);
  return (await h.digest()).toString('base64');
}

/**
 * HMAC-SHA256 keyed with a string (UTF-8), bytes or a KeyObject. Bytes are wrapped in a
 * KeyObject first: node:crypto (Node 24) takes ~28 µs to set up an HMAC keyed with a raw
 * Buffer or Uint8Array against ~5 µs for a KeyObject or a string, and ~7 µs for both steps
 * (measured here). SigV4 keys every request and every aws-chunked chunk signature with bytes.
 */
export function hmacSha256(key: string | Uint8Array | KeyObject): Hmac {
  return createHmac('sha256', typeof key === 'string' || key instanceof KeyObject ? key : createSecretKey(key));
}
