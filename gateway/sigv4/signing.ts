// SigV4 primitives: signing-key derivation, HMAC, constant-time comparison and the
// ISO 8601 basic timestamps SigV4 uses
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html).
import { createHash, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { hmacSha256 } from '../../shared/checksums/index.ts';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const TERMINAL = 'aws4_request';
export const SERVICE = 's3';
/** SHA-256 of the empty string, which every chunk string-to-sign carries. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** What the payload verifier needs to check chunk and trailer signatures. */
export interface SigningContext {
  readonly key: KeyObject;
  /** The request's own signature, which seeds the chunk-signature chain. */
  readonly seedSignature: string;
  /** `YYYYMMDD/region/s3/aws4_request` */
  readonly scope: string;
  /** `YYYYMMDD'T'HHMMSS'Z'` */
  readonly amzDate: string;
}

export function hmac(key: Uint8Array | string | KeyObject, data: string): Buffer {
  return hmacSha256(key).update(data, 'utf8').digest();
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"), "aws4_request"). */
export function deriveSigningKey(secret: string, date: string, region: string): KeyObject {
  return createSecretKey(hmac(hmac(hmac(hmac('AWS4' + secret, date), region), SERVICE), TERMINAL));
}

/**
 * A small LRU of derived signing keys per (secret, date, region): one key serves every
 * request of a credential for a whole UTC day, and deriving it costs four HMACs. One
 * cache belongs to one verifier instance (createSigV4Verifier); nothing is module-global.
 */
export class SigningKeyCache {
  private readonly max: number;
  private readonly entries = new Map<string, KeyObject>();

  constructor(maxEntries = 256) {
    this.max = Math.max(1, maxEntries);
  }

  get(secret: string, date: string, region: string): KeyObject {
    // NUL cannot occur in a date or a region, so the composite key is unambiguous.
    const id = `${date}\0${region}\0${secret}`;
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    const key = deriveSigningKey(secret, date, region);
    this.entries.set(id, key);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    return key;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Hex HMAC of a string-to-sign. */
export function signHex(signingKey: KeyObject, stringToSign: string): string {
  return hmacSha256(signingKey).update(stringToSign, 'utf8').digest('hex');
}

/**
 * Compares a computed lowercase hex signature with the client's in constant time.
 * A client value of the wrong length is compared against itself so the work done does
 * not depend on where (or whether) the strings differ.
 */
export function signaturesEqual(computed: string, provided: string): boolean {
  const a = Buffer.from(computed, 'latin1');
  const b = Buffer.from(provided.toLowerCase(), 'latin1');
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Parses `YYYYMMDD'T'HHMMSS'Z'`; null when malformed or not a real calendar time. */
export function parseAmzDate(s: string): Date | null {
  const m = AMZ_DATE.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number);
  const t = Date.UTC(y, mo - 1, d, h, mi, se);
  const date = new Date(t);
  // Date.UTC rolls 20130230 over to March; a rolled-over value is not a valid timestamp.
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return null;
  return date;
}

export function formatAmzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}
