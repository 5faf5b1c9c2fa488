// Name rules S3 enforces on buckets and keys.
import { S3Error } from '../s3-errors.ts';

// General purpose bucket naming rules (userguide/bucketnamingrules.html):
// 3–63 characters of [a-z0-9.-], starting and ending with a letter or digit,
// no two adjacent periods, not an IPv4 address, and none of the prefixes and
// suffixes AWS reserves for its own aliases.
const BUCKET_CHARS = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4_LIKE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/** Throws InvalidBucketName unless `name` follows S3's general purpose bucket naming rules. */
export function validateBucketName(name: string): void {
  const ok =
    BUCKET_CHARS.test(name) &&
    !name.includes('..') &&
    !IPV4_LIKE.test(name) &&
    !RESERVED_PREFIXES.some((p) => name.startsWith(p)) &&
    !RESERVED_SUFFIXES.some((s) => name.endsWith(s));
  if (!ok) throw new S3Error('InvalidBucketName', undefined, { BucketName: name });
}

/** S3 object keys are at most 1024 bytes of UTF-8 (userguide/object-keys.html). */
export const MAX_KEY_BYTES = 1024;

/**
 * Throws KeyTooLongError for keys over 1024 UTF-8 bytes. An empty key cannot be
 * addressed by a path (`/bucket/` names the bucket); where one arrives another
 * way (copy source, API parameter) the API reference gives Key a minimum length
 * of 1, and S3 answers a constraint violation with InvalidArgument.
 */
export function validateObjectKey(key: string): void {
  if (key === '') {
    throw new S3Error('InvalidArgument', 'Object key must not be empty.', { ArgumentName: 'key', ArgumentValue: '' });
  }
  const size = Buffer.byteLength(key, 'utf8');
  if (size > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', undefined, { Size: String(size), MaxSizeAllowed: String(MAX_KEY_BYTES) });
  }
}
