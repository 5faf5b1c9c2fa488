// GetObject and HeadObject: conditional headers, Range and partNumber, response-*
// overrides; the first replica is opened before any header is sent, so a read no
// replica can serve fails cleanly with 503 (PRODUCT.md §1.3 "Reads").
import type { Handler, HandlerResult, S3Request } from '../http-types.ts';
import type { GatewayContext } from '../context.ts';
import type { VersionPart } from '../../metadata/types.ts';
import { headerForAlgorithm } from '../../shared/checksums/index.ts';
import { S3Error } from '../s3-errors.ts';
import { noSuchBucket } from './bucket-lookup.ts';
import { readableVersion, versionHeader, versionIdParam } from './versioning.ts';
import { evaluateReadConditions, header, objectHeaders, parseRange, quoteEtag } from './object-headers.ts';

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

async function read(ctx: GatewayContext, req: S3Request, withBody: boolean): Promise<HandlerResult> {
  if (req.op.kind !== 'GetObject' && req.op.kind !== 'HeadObject') throw new Error('unreachable');
  const versionId = versionIdParam(req);
  // One metadata round trip: bucket, version with parts and blobs, tag count.
  const read = await ctx.store.readObject(req.tenantId, req.op.bucket, req.op.key, versionId);
  if (!read) throw noSuchBucket(req.op.bucket);
  const { bucket } = read;
  const v = readableVersion(read.version, req.op.key, versionId, req.method);
  const cond = evaluateReadConditions(req.headers, v);
  if (cond === 'failed') throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
  if (cond === 'not-modified') {
    return { status: 304, headers: { etag: quoteEtag(v.etag), 'last-modified': v.lastModified.toUTCString() } };
  }

  const checksumMode = header(req.headers, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
  const headers = objectHeaders(v, false);
  if (read.tagCount > 0) headers['x-amz-tagging-count'] = String(read.tagCount);
  Object.assign(headers, versionHeader(bucket.versioning, v.versionId));
  let range: { start: number; end: number } | null = null;
  let selectedPart: VersionPart | null = null;
  const partNumberRaw = req.query.get('partNumber');
  if (partNumberRaw !== null) {
    const n = Number(partNumberRaw);
    if (!Number.isInteger(n) || n < 1 || n > 10000) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: partNumberRaw });
    const part = v.parts.find((p) => p.partNumber === n);
    if (!part) throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable');
    selectedPart = part;
    if (v.multipartParts !== null) headers['x-amz-mp-parts-count'] = v.multipartParts;
    range = part.size === 0 ? null : { start: part.offset, end: part.offset + part.size - 1 };
    if (header(req.headers, 'range') !== undefined) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  } else {
    try {
      range = parseRange(header(req.headers, 'range'), v.size);
    } catch (e) {
      if (e instanceof S3Error && e.code === 'InvalidRange') {
        // S3 also names the size in Content-Range on a 416 (RFC 9110 §15.5.17).
        (e.extra as Record<string, string>).RangeRequested = header(req.headers, 'range') ?? '';
        (e.extra as Record<string, string>).ActualObjectSize = String(v.size);
        throw Object.assign(e, { responseHeaders: { 'content-range': `bytes */${v.size}` } });
      }
      throw e;
    }
  }
  if (checksumMode && v.checksum) {
    // A whole-object read reports the object's checksum (composite ones keep their "-N"); a
    // partNumber read reports that part's own checksum; a Range read reports none, since no
    // stored value covers an arbitrary range ("Checking object integrity", GetObject reference).
    if (selectedPart) {
      const value = selectedPart.checksums[v.checksum.algorithm] ?? (v.multipartParts === null ? v.checksum.value : undefined);
      if (value !== undefined) {
        headers[headerForAlgorithm(v.checksum.algorithm)] = value;
        headers['x-amz-checksum-type'] = v.checksum.type;
      }
    } else if (range === null) {
      Object.assign(headers, objectHeaders(v, true));
    }
  }
  for (const [q, h] of Object.entries(RESPONSE_OVERRIDES)) {
    const val = req.query.get(q);
    if (val !== null) headers[h] = val;
  }
  const length = range ? range.end - range.start + 1 : v.size;
  headers['content-length'] = length;
  const status = range ? 206 : 200;
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${v.size}`;
  if (!withBody) return { status, headers };
  if (length <= WHOLE_BODY_MAX) {
    // Read whole before answering: headers and body then leave in one write, and a replica
    // that fails or sends wrong bytes mid-read is left for the next one, not a cut connection.
    const bytes = await ctx.data.readObject(v.parts, range ?? undefined);
    return { status, headers, body: bytes, bytes: length };
  }
  const body = await ctx.data.openObject(v.parts, range ?? undefined);
  return { status, headers, body, bytes: length };
}

/** Bodies up to this size are buffered in the gateway (at most this much per request in flight). */
const WHOLE_BODY_MAX = 128 * 1024;

export const getObject: Handler = (ctx, req) => read(ctx, req, true);
export const headObject: Handler = (ctx, req) => read(ctx, req, false);
