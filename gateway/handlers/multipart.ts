// Multipart upload. Each part is its own immutable chunk; Complete is a metadata
// commit that references them in order (no data is moved), with S3's ETag
// `md5(md5(part1)…md5(partN))-N` and composite checksums.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
import { createHash, randomBytes } from 'node:crypto';
import type { Handler, S3Request } from '../http-types.ts';
import type { ChecksumAlgorithm, ChecksumType } from '../../metadata/types.ts';
import { algorithmFromHeader, createHasher, headerForAlgorithm } from '../../shared/checksums/index.ts';
import { combineCrcDigests, isCombinable } from '../../shared/checksums/combine.ts';
import * as xml from '../s3-xml/index.ts';
import { S3Error } from '../s3-errors.ts';
import { validateObjectKey } from '../router/index.ts';
import { requireBucket } from './bucket-lookup.ts';
import { encodingType, pageSize, partNumberMarker } from './list-args.ts';
import { header, metaFromHeaders, quoteEtag, unquoteEtag, parseRange, rejectUnsupportedCopyHeaders, rejectUnsupportedWriteHeaders } from './object-headers.ts';
import { receiveBody, MAX_OBJECT_PART_SIZE } from './write-body.ts';
import { writeCondition } from './put-object.ts';
import { loadCopySource } from './copy-object.ts';
import { versionHeader } from './versioning.ts';
import { taggingFromHeaders } from './tagging.ts';

/** Every part but the last must be at least 5 MiB. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_COMPLETE_BODY = 4 * 1024 * 1024;

function partNumber(req: S3Request): number {
  const raw = req.query.get('partNumber') ?? '';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 10000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: raw });
  }
  return n;
}

async function requireUpload(ctx: Parameters<Handler>[0], req: S3Request) {
  const bucket = await requireBucket(ctx, req);
  const uploadId = req.query.get('uploadId') ?? '';
  const upload = await ctx.store.getUpload(bucket.id, uploadId);
  if (!upload || ('key' in req.op && upload.key !== req.op.key)) {
    throw new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });
  }
  return { bucket, upload };
}

/**
 * 192 random bits as 48 hex digits. Not base64url: one id in 64 would start with '-', which the
 * aws cli (argparse) takes for an option (`--upload-id -abc…`: "expected one argument").
 */
export function newUploadId(): string {
  return randomBytes(24).toString('hex');
}

export const createMultipartUpload: Handler = async (ctx, req) => {
  if (req.op.kind !== 'CreateMultipartUpload') throw new Error('unreachable');
  validateObjectKey(req.op.key);
  const bucket = await requireBucket(ctx, req);
  rejectUnsupportedWriteHeaders(req.headers);
  const meta = metaFromHeaders(req.headers);
  const algRaw = header(req.headers, 'x-amz-checksum-algorithm');
  const alg = algRaw ? (algRaw.toUpperCase() as ChecksumAlgorithm) : null;
  if (alg && !['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'].includes(alg)) {
    throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]');
  }
  const typeRaw = header(req.headers, 'x-amz-checksum-type')?.toUpperCase() as ChecksumType | undefined;
  if (typeRaw !== undefined && typeRaw !== 'COMPOSITE' && typeRaw !== 'FULL_OBJECT') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  if (typeRaw !== undefined && !alg) throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
  // CRC64NVME multipart checksums are full-object only, SHA ones composite only; CRCs default
  // to composite ("Checking object integrity", checksum types for multipart uploads).
  const type: ChecksumType | null = alg ? (typeRaw ?? (alg === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE')) : null;
  if (alg && type === 'FULL_OBJECT' && !isCombinable(alg)) throw new S3Error('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${alg.toLowerCase()} checksum algorithm.`);
  if (alg && type === 'COMPOSITE' && alg === 'CRC64NVME') throw new S3Error('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
  const tags = taggingFromHeaders(req.headers);
  const uploadId = newUploadId();
  await ctx.store.createUpload({ ...meta, checksum: null, uploadId, bucketId: bucket.id, key: req.op.key, checksumAlgorithm: alg, checksumType: type });
  if (tags && tags.length > 0) await ctx.tagsCors.putUploadTags(uploadId, tags);
  const headers: Record<string, string> = { 'content-type': 'application/xml' };
  if (alg && type) {
    headers['x-amz-checksum-algorithm'] = alg;
    headers['x-amz-checksum-type'] = type;
  }
  return { status: 200, headers, body: xml.encodeInitiateMultipartUpload({ bucket: bucket.name, key: req.op.key, uploadId }) };
};

export const uploadPart: Handler = async (ctx, req) => {
  const n = partNumber(req);
  const { bucket, upload } = await requireUpload(ctx, req);
  const body = await receiveBody(ctx, req, bucket, MAX_OBJECT_PART_SIZE);
  if (upload.checksumAlgorithm && body.checksum.algorithm && body.checksum.algorithm !== upload.checksumAlgorithm) {
    body.chunk.settle(false);
    throw new S3Error('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${upload.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${body.checksum.algorithm.toLowerCase()}`);
  }
  if (upload.checksumAlgorithm && !body.checksum.algorithm) {
    // The upload promised a checksum per part; compute it is what S3 cannot do for us here, so require it.
    body.chunk.settle(false);
    throw new S3Error('InvalidRequest', `The upload was created using a ${upload.checksumAlgorithm.toLowerCase()} checksum. The part upload request must include a checksum of the same type.`);
  }
  await body.chunk.commit((sealed) => ctx.store.putUploadPart(bucket.id, upload.uploadId, n, sealed, body.chunk.md5, body.checksums));
  const headers: Record<string, string> = { etag: quoteEtag(body.chunk.md5) };
  if (body.checksum.algorithm && body.checksumValue) headers[headerForAlgorithm(body.checksum.algorithm)] = body.checksumValue;
  return { status: 200, headers, bytes: body.size };
};

export const uploadPartCopy: Handler = async (ctx, req) => {
  const n = partNumber(req);
  const { bucket, upload } = await requireUpload(ctx, req);
  rejectUnsupportedCopyHeaders(req.headers);
  const src = await loadCopySource(ctx, req);
  const rangeHeader = header(req.headers, 'x-amz-copy-source-range');
  let range = rangeHeader === undefined ? null : parseRange(rangeHeader, src.size);
  if (rangeHeader !== undefined && (range === null || !/^bytes=\d+-\d+$/.test(rangeHeader) || Number(rangeHeader.split('-')[1]) >= src.size)) {
    throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rangeHeader });
  }
  if (range === null && src.size > 0) range = { start: 0, end: src.size - 1 };
  const size = range ? range.end - range.start + 1 : 0;
  if (size > MAX_OBJECT_PART_SIZE) throw new S3Error('InvalidRequest', 'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120');
  const source = await ctx.data.openObject(src.parts, range ?? undefined);
  const algorithms = upload.checksumAlgorithm ? [upload.checksumAlgorithm] : [];
  const chunk = await ctx.data.writeChunk({ tenantId: req.tenantId, bucket, source, size, checksums: algorithms });
  const part = await chunk.commit((sealed) => ctx.store.putUploadPart(bucket.id, upload.uploadId, n, sealed, chunk.md5, chunk.checksums));
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: xml.encodeCopyPartResult({ etag: quoteEtag(chunk.md5), lastModified: part.lastModified, checksums: chunk.checksums }),
  };
};

/**
 * CompleteMultipartUpload may restate the checksum type (a different one is BadDigest, per the
 * API reference of x-amz-checksum-type) and, for FULL_OBJECT, the whole object's checksum.
 */
function verifyCompleteChecksum(req: S3Request, alg: ChecksumAlgorithm | null, type: ChecksumType | null, computed: { value: string } | null): void {
  const claimedType = header(req.headers, 'x-amz-checksum-type')?.toUpperCase();
  if (claimedType !== undefined && claimedType !== type) {
    throw new S3Error('BadDigest', `The upload was created using the ${type ?? 'null'} checksum mode. The complete request must use the same checksum mode.`);
  }
  for (const name of Object.keys(req.headers)) {
    const claimedAlg = algorithmFromHeader(name);
    if (!claimedAlg) continue;
    if (!alg) continue; // nothing was promised at create time, nothing to hold the claim against
    if (claimedAlg !== alg) {
      throw new S3Error('InvalidRequest', `The upload was created using ${alg ? `a ${alg.toLowerCase()}` : 'no'} checksum. The complete request must use the same checksum algorithm.`);
    }
    if (type === 'FULL_OBJECT' && computed && header(req.headers, name) !== computed.value) {
      throw new S3Error('BadDigest', `The ${claimedAlg.toLowerCase()} you specified did not match the calculated checksum.`);
    }
  }
}

export const completeMultipartUpload: Handler = async (ctx, req) => {
  if (req.op.kind !== 'CompleteMultipartUpload') throw new Error('unreachable');
  const { bucket, upload } = await requireUpload(ctx, req);
  const doc = xml.decodeCompleteMultipartUpload(await req.bodyBuffer(MAX_COMPLETE_BODY));
  if (doc.parts.length === 0) throw new S3Error('MalformedXML');
  for (let i = 1; i < doc.parts.length; i++) {
    if (doc.parts[i].partNumber <= doc.parts[i - 1].partNumber) {
      throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
    }
  }
  const stored = new Map((await ctx.store.getUploadParts(bucket.id, upload.uploadId)).map((p) => [p.partNumber, p]));
  const chosen = doc.parts.map((p, i) => {
    const s = stored.get(p.partNumber);
    if (!s || s.etag !== unquoteEtag(p.etag)) {
      throw new S3Error('InvalidPart', 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.', { UploadId: upload.uploadId, PartNumber: String(p.partNumber), ETag: p.etag });
    }
    if (i < doc.parts.length - 1 && s.size < MIN_PART_SIZE) {
      throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', { ProposedSize: String(s.size), MinSizeAllowed: String(MIN_PART_SIZE), PartNumber: String(p.partNumber), ETag: quoteEtag(s.etag) });
    }
    if (upload.checksumAlgorithm) {
      const claimed = p.checksums?.[upload.checksumAlgorithm];
      if (claimed !== undefined && claimed !== s.checksums[upload.checksumAlgorithm]) {
        throw new S3Error('InvalidPart', `The ${upload.checksumAlgorithm.toLowerCase()} checksum of part ${p.partNumber} does not match the uploaded part.`);
      }
    }
    return s;
  });
  const md5s = createHash('md5');
  for (const s of chosen) md5s.update(Buffer.from(s.etag, 'hex'));
  const etag = `${md5s.digest('hex')}-${chosen.length}`;
  let checksum: { algorithm: ChecksumAlgorithm; value: string; type: ChecksumType } | null = null;
  if (upload.checksumAlgorithm && upload.checksumType === 'COMPOSITE') {
    // Composite checksum: the checksum of the concatenated binary part checksums, then "-N".
    const h = createHasher(upload.checksumAlgorithm);
    for (const s of chosen) h.update(Buffer.from(s.checksums[upload.checksumAlgorithm] ?? '', 'base64'));
    checksum = { algorithm: upload.checksumAlgorithm, value: `${(await h.digest()).toString('base64')}-${chosen.length}`, type: 'COMPOSITE' };
  } else if (upload.checksumAlgorithm && upload.checksumType === 'FULL_OBJECT' && isCombinable(upload.checksumAlgorithm)) {
    // Full-object checksum: the CRC of the whole object, combined from the part CRCs (no "-N").
    const alg = upload.checksumAlgorithm;
    const value = combineCrcDigests(alg, chosen.map((s) => ({ digest: Buffer.from(s.checksums[alg] ?? '', 'base64'), length: s.size }))).toString('base64');
    checksum = { algorithm: alg, value, type: 'FULL_OBJECT' };
  }
  verifyCompleteChecksum(req, upload.checksumAlgorithm, upload.checksumType, checksum);
  const size = chosen.reduce((n, s) => n + s.size, 0);
  // Read before the commit: the upload row (and its tags) go away with it. The version's
  // tags are stored in the commit's own transaction.
  const uploadTags = await ctx.tagsCors.getUploadTags(upload.uploadId);
  const version = await ctx.store.completeUpload({
    bucketId: bucket.id,
    uploadId: upload.uploadId,
    parts: chosen.map((s) => ({ partNumber: s.partNumber, etag: s.etag })),
    etag,
    size,
    checksum,
    condition: writeCondition(req.headers),
    tags: uploadTags,
  });
  const headers: Record<string, string> = { 'content-type': 'application/xml' };
  Object.assign(headers, versionHeader(bucket.versioning, version.versionId));
  return {
    status: 200,
    headers,
    body: xml.encodeCompleteMultipartUpload({
      location: `/${bucket.name}/${encodeURIComponent(upload.key).replace(/%2F/g, '/')}`,
      bucket: bucket.name,
      key: upload.key,
      etag: quoteEtag(etag),
      checksums: checksum ? { [checksum.algorithm]: checksum.value } : undefined,
      checksumType: checksum?.type,
    }),
  };
};

export const abortMultipartUpload: Handler = async (ctx, req) => {
  const { bucket, upload } = await requireUpload(ctx, req);
  await ctx.store.abortUpload(bucket.id, upload.uploadId);
  return { status: 204 };
};

export const listParts: Handler = async (ctx, req) => {
  const { bucket, upload } = await requireUpload(ctx, req);
  const marker = partNumberMarker(req.query.get('part-number-marker'), 'part-number-marker');
  const maxParts = pageSize(req, 'max-parts');
  const r = await ctx.store.listUploadParts(bucket.id, upload.uploadId, { partNumberMarker: marker, maxParts });
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: xml.encodeListParts({
      bucket: bucket.name,
      key: upload.key,
      uploadId: upload.uploadId,
      owner: { id: req.tenantId, displayName: req.tenantName },
      storageClass: upload.storageClass,
      partNumberMarker: marker,
      nextPartNumberMarker: r.nextPartNumberMarker ?? undefined,
      maxParts,
      isTruncated: r.isTruncated,
      checksumAlgorithm: upload.checksumAlgorithm ?? undefined,
      checksumType: upload.checksumType ?? undefined,
      parts: r.parts.map((p) => ({ partNumber: p.partNumber, lastModified: p.lastModified, etag: quoteEtag(p.etag), size: p.size, checksums: p.checksums })),
    }),
  };
};

export const listMultipartUploads: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  const maxUploads = pageSize(req, 'max-uploads');
  const enc = encodingType(req);
  const input = {
    prefix: req.query.get('prefix') ?? undefined,
    delimiter: req.query.get('delimiter') || undefined,
    keyMarker: req.query.get('key-marker') || undefined,
    uploadIdMarker: req.query.get('upload-id-marker') || undefined,
    maxUploads,
  };
  const r = await ctx.store.listUploads(bucket.id, input);
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: xml.encodeListMultipartUploads({
      bucket: bucket.name,
      ...input,
      encodingType: enc,
      nextKeyMarker: r.nextKeyMarker ?? undefined,
      nextUploadIdMarker: r.nextUploadIdMarker ?? undefined,
      isTruncated: r.isTruncated,
      owner: { id: req.tenantId, displayName: req.tenantName },
      uploads: r.uploads.map((u) => ({ key: u.key, uploadId: u.uploadId, initiated: u.initiated, storageClass: u.storageClass, checksumAlgorithm: u.checksumAlgorithm, checksumType: u.checksumType })),
      commonPrefixes: r.commonPrefixes,
    }),
  };
};
