// Namespace hashing (PRODUCT.md §1.3): a tenant's logical bucket maps to one physical
// bucket per backend, `s3gw-<hash>-<provider>`, so providers learn neither tenant nor
// bucket names, and two tenants can both own `photos`. The hash is keyed (HMAC with a
// deployment secret) so a provider cannot confirm a guessed name offline.
import { hmacSha256 } from '../checksums/index.ts';

const PREFIX = 's3gw-';
/** 26 base32 characters = 130 bits of the HMAC: collisions are out of reach. */
const HASH_CHARS = 26;
/** Keeps the whole name at most 5 + 26 + 1 + 16 (+1, see below) = 49 characters (S3 allows 63). */
const PROVIDER_CHARS = 16;
const MIN_SECRET_BYTES = 16;
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '--x-s3', '.mrap'];
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32 alphabet, lower-cased (S3 bucket names are lower case), no padding. */
function base32(buf: Buffer): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of buf) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/** Provider label as it appears in the name: [a-z0-9] only, at most 16 characters, never empty. */
export function sanitizeProvider(provider: string): string {
  const s = provider.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, PROVIDER_CHARS);
  return s === '' ? 'x' : s;
}

/**
 * `s3gw-<hash>-<provider>`: 3–63 characters of [a-z0-9-], starting and ending with a
 * letter or digit, no dots, no `xn--` prefix and none of the reserved suffixes
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html),
 * whatever the provider string is.
 */
export function physicalBucketName(secret: Buffer, tenantId: string, bucket: string, provider: string): string {
  if (!Buffer.isBuffer(secret) || secret.length < MIN_SECRET_BYTES) {
    throw new Error(`the namespace secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  if (!tenantId || tenantId.includes('\0')) throw new Error('tenant id must be non-empty and contain no NUL');
  if (!bucket || bucket.includes('\0')) throw new Error('bucket name must be non-empty and contain no NUL');
  // NUL cannot occur in either part, so (tenant, bucket) ↦ message is injective.
  const mac = hmacSha256(secret).update(`${tenantId}\0${bucket}`, 'utf8').digest();
  const name = `${PREFIX}${base32(mac).slice(0, HASH_CHARS)}-${sanitizeProvider(provider)}`;
  // Only `-s3alias` can arise (the provider label has no '-' or '.'); S3 reserves it
  // for access point aliases.
  return RESERVED_SUFFIXES.some((s) => name.endsWith(s)) ? `${name}0` : name;
}

const CHUNK_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$/;

/**
 * The physical key of a chunk's blob is the chunk id itself (a random UUID from the
 * data plane): already opaque, unique, and a single path component — the local-disk
 * driver refuses `/` in keys, so there is no fan-out prefix. Anything that is not a
 * plain id is refused rather than encoded.
 */
export function physicalKey(chunkId: string): string {
  if (!CHUNK_ID.test(chunkId)) throw new Error(`invalid chunk id ${JSON.stringify(chunkId)}`);
  return chunkId;
}
