// Request-header parsing shared by the write operations, and the response headers
// every read returns. Rules from the PutObject / GetObject API references.
import type { IncomingHttpHeaders } from 'node:http';
import type { ChecksumAlgorithm, ObjectMeta, ObjectVersion } from '../../metadata/types.ts';
import { algorithmFromHeader, digestLength, headerForAlgorithm } from '../../shared/checksums/index.ts';
import { S3Error } from '../s3-errors.ts';

/** S3 keeps user metadata (names + values) under 2 KB. */
const MAX_USER_METADATA = 2048;
const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;
/** Like MinIO: classes we can honour. Everything is placed as StandardClass for now. */
const STORAGE_CLASSES = new Set(['STANDARD', 'REDUCED_REDUNDANCY']);

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function metaFromHeaders(headers: IncomingHttpHeaders): Omit<ObjectMeta, 'checksum'> {
  const userMetadata: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const v = Array.isArray(value) ? value.join(',') : value;
    const k = name.slice('x-amz-meta-'.length);
    userMetadata[k] = v;
    metaBytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (metaBytes > MAX_USER_METADATA) throw new S3Error('MetadataTooLarge', undefined, { Size: String(metaBytes), MaxSizeAllowed: String(MAX_USER_METADATA) });
  const stored: Record<string, string> = {};
  for (const h of STORED_HEADERS) {
    const v = header(headers, h);
    if (v !== undefined) stored[h] = v;
  }
  // `aws-chunked` describes the transfer, not the object (AWS: "Content-Encoding … aws-chunked" in sigv4-streaming).
  if (stored['content-encoding'] !== undefined) {
    const rest = stored['content-encoding'].split(',').map((s) => s.trim()).filter((s) => s && s.toLowerCase() !== 'aws-chunked');
    if (rest.length > 0) stored['content-encoding'] = rest.join(', ');
    else delete stored['content-encoding'];
  }
  const storageClass = header(headers, 'x-amz-storage-class') ?? 'STANDARD';
  if (!STORAGE_CLASSES.has(storageClass)) throw new S3Error('InvalidStorageClass', 'The storage class you specified is not valid');
  return { contentType: header(headers, 'content-type') ?? 'binary/octet-stream', headers: stored, userMetadata, storageClass };
}

/**
 * Write headers whose S3 meaning Fedgate cannot honour. Ignoring them would store the object
 * while the client believes it is encrypted with its key, locked, or redirected, so they are
 * answered as S3 answers an unsupported header: 501 NotImplemented naming the header.
 */
const UNSUPPORTED_WRITE_HEADERS = [
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-customer-key',
  'x-amz-server-side-encryption-customer-key-md5',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-object-lock-mode',
  'x-amz-object-lock-retain-until-date',
  'x-amz-object-lock-legal-hold',
  'x-amz-website-redirect-location',
] as const;

/** A copy also names the source's SSE-C key; Fedgate never stores an SSE-C object to decrypt. */
const UNSUPPORTED_COPY_SOURCE_HEADERS = [
  'x-amz-copy-source-server-side-encryption-customer-algorithm',
  'x-amz-copy-source-server-side-encryption-customer-key',
  'x-amz-copy-source-server-side-encryption-customer-key-md5',
] as const;

const CANNED_ACLS = new Set([
  'private', 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'bucket-owner-read',
  'bucket-owner-full-control', 'log-delivery-write',
]);
/** What a BucketOwnerEnforced bucket accepts: both leave the bucket owner (the tenant) sole owner. */
const OWNER_ONLY_ACLS = new Set(['private', 'bucket-owner-full-control']);
const GRANT_HEADERS = ['x-amz-grant-full-control', 'x-amz-grant-read', 'x-amz-grant-read-acp', 'x-amz-grant-write', 'x-amz-grant-write-acp'] as const;

/**
 * Every Fedgate bucket behaves as S3's default Object Ownership, BucketOwnerEnforced: ACLs are
 * disabled, a write may say `private` or `bucket-owner-full-control` (or nothing), and any other
 * canned ACL or any x-amz-grant-* is refused (400 `refusal`) rather than silently ignored, so a
 * client never believes an object is public when it is not.
 */
export function rejectAclHeaders(headers: IncomingHttpHeaders, refusal: 'AccessControlListNotSupported' | 'InvalidBucketAclWithObjectOwnership'): void {
  const acl = header(headers, 'x-amz-acl');
  if (acl !== undefined) {
    const v = acl.trim();
    if (!CANNED_ACLS.has(v)) throw new S3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-acl', ArgumentValue: v });
    if (!OWNER_ONLY_ACLS.has(v)) throw new S3Error(refusal);
  }
  if (GRANT_HEADERS.some((h) => headers[h] !== undefined)) throw new S3Error(refusal);
}

/** Refuses what a write cannot honour (see above); PutObject, UploadPart, CreateMultipartUpload, the copies. */
export function rejectUnsupportedWriteHeaders(headers: IncomingHttpHeaders): void {
  for (const name of UNSUPPORTED_WRITE_HEADERS) {
    if (headers[name] !== undefined) throw new S3Error('NotImplemented', undefined, { Header: name });
  }
  const sse = header(headers, 'x-amz-server-side-encryption');
  // SSE-S3 (AES256) is what S3 applies to every object anyway; KMS keys Fedgate does not have.
  if (sse !== undefined && sse !== 'AES256') throw new S3Error('NotImplemented', undefined, { Header: 'x-amz-server-side-encryption' });
  rejectAclHeaders(headers, 'AccessControlListNotSupported');
}

/** CopyObject and UploadPartCopy: what PutObject refuses, and an SSE-C key for the source. */
export function rejectUnsupportedCopyHeaders(headers: IncomingHttpHeaders): void {
  rejectUnsupportedWriteHeaders(headers);
  for (const name of UNSUPPORTED_COPY_SOURCE_HEADERS) {
    if (headers[name] !== undefined) throw new S3Error('NotImplemented', undefined, { Header: name });
  }
}

export interface ChecksumRequest {
  algorithm: ChecksumAlgorithm | null;
  /** Value the client gave in a header (verified after the write), if any. */
  expected: string | null;
  /** The value arrives in the aws-chunked trailer (verified by the payload verifier). */
  inTrailer: boolean;
  /** Base64 Content-MD5, if given. */
  contentMd5: string | null;
}

export function checksumRequest(headers: IncomingHttpHeaders): ChecksumRequest {
  let algorithm: ChecksumAlgorithm | null = null;
  let expected: string | null = null;
  for (const name of Object.keys(headers)) {
    const alg = algorithmFromHeader(name);
    if (!alg) continue;
    if (algorithm) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
    algorithm = alg;
    expected = header(headers, name)!;
    if (Buffer.from(expected, 'base64').length !== digestLength(alg)) {
      throw new S3Error('InvalidRequest', `Value for ${headerForAlgorithm(alg)} header is invalid.`);
    }
  }
  const trailer = header(headers, 'x-amz-trailer');
  let inTrailer = false;
  if (trailer) {
    const alg = algorithmFromHeader(trailer.trim().toLowerCase());
    if (!alg) throw new S3Error('InvalidRequest', `The value specified in the x-amz-trailer header is not supported`);
    if (algorithm && algorithm !== alg) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
    algorithm = alg;
    inTrailer = true;
  }
  const sdkAlg = header(headers, 'x-amz-sdk-checksum-algorithm');
  if (sdkAlg) {
    const alg = sdkAlg.toUpperCase() as ChecksumAlgorithm;
    if (!['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'].includes(alg)) {
      throw new S3Error('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
    }
    if (algorithm && algorithm !== alg) {
      throw new S3Error('InvalidRequest', `Value for x-amz-sdk-checksum-algorithm header is invalid.`);
    }
    algorithm = alg;
  }
  const md5 = header(headers, 'content-md5');
  if (md5 !== undefined && Buffer.from(md5, 'base64').length !== 16) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
  return { algorithm, expected, inTrailer, contentMd5: md5 ?? null };
}

/** Length of the object bytes the client is sending; S3 requires it (no chunked Transfer-Encoding without a decoded length). */
export function declaredLength(headers: IncomingHttpHeaders, decodedContentLength: number | null): number {
  if (decodedContentLength !== null) return decodedContentLength;
  const cl = header(headers, 'content-length');
  if (cl === undefined || !/^\d+$/.test(cl)) throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
  return Number(cl);
}

export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

export function unquoteEtag(etag: string): string {
  const t = etag.trim();
  return t.startsWith('"') && t.endsWith('"') && t.length >= 2 ? t.slice(1, -1) : t;
}

/** Headers every GET / HEAD of a version carries. */
export function objectHeaders(v: ObjectVersion, withChecksum: boolean): Record<string, string | number | undefined> {
  const h: Record<string, string | number | undefined> = {
    etag: quoteEtag(v.etag),
    'last-modified': v.lastModified.toUTCString(),
    'content-type': v.contentType ?? 'binary/octet-stream',
    'accept-ranges': 'bytes',
  };
  for (const [k, val] of Object.entries(v.headers)) h[k] = val;
  for (const [k, val] of Object.entries(v.userMetadata)) h[`x-amz-meta-${k}`] = val;
  if (v.storageClass !== 'STANDARD') h['x-amz-storage-class'] = v.storageClass;
  if (v.versionId !== 'null') h['x-amz-version-id'] = v.versionId;
  if (withChecksum && v.checksum) {
    h[headerForAlgorithm(v.checksum.algorithm)] = v.checksum.value;
    h['x-amz-checksum-type'] = v.checksum.type;
  }
  return h;
}

function httpDate(s: string | undefined): number | null {
  if (s === undefined) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : Math.floor(t / 1000);
}

function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((e) => {
    const t = e.trim();
    return t === '*' || unquoteEtag(t) === etag;
  });
}

/**
 * RFC 9110 §13.2.2 precedence, which S3 follows: If-Match, else If-Unmodified-Since
 * (→ 412); then If-None-Match, else If-Modified-Since (→ 304 for GET / HEAD).
 */
export function evaluateReadConditions(headers: IncomingHttpHeaders, v: ObjectVersion): 'ok' | 'not-modified' | 'failed' {
  const lm = Math.floor(v.lastModified.getTime() / 1000);
  const ifMatch = header(headers, 'if-match');
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, v.etag)) return 'failed';
  } else {
    const ius = httpDate(header(headers, 'if-unmodified-since'));
    if (ius !== null && lm > ius) return 'failed';
  }
  const ifNoneMatch = header(headers, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, v.etag)) return 'not-modified';
  } else {
    const ims = httpDate(header(headers, 'if-modified-since'));
    if (ims !== null && lm <= ims) return 'not-modified';
  }
  return 'ok';
}

/** Parse a single-range `Range: bytes=…` header. null → serve the whole object. */
export function parseRange(value: string | undefined, size: number): { start: number; end: number } | null {
  if (value === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // not a single byte range: ignored, as HTTP allows
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw invalidRange(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null;
  }
  if (start >= size) throw invalidRange(size);
  return { start, end };
}

function invalidRange(size: number): S3Error {
  return new S3Error('InvalidRange', 'The requested range is not satisfiable', { RangeRequested: '', ActualObjectSize: String(size) });
}
