// Request → S3 operation, before authentication or authorization: the gateway
// needs to know what is asked to know which permission to check. Modelled on
// Garage's src/api/s3/router.rs (Endpoint::from_request), with two deliberate
// differences: leading slashes of a key are kept (`/bucket//a` names key `/a`,
// as in S3), and a sub-resource that does not exist for the method is refused
// with MethodNotAllowed instead of a generic bad request.
import { S3Error } from '../s3-errors.ts';
import { findSubresource, subresourceRoute } from './subresources.ts';
import type { Operation, RouterInput, RouterOptions } from './types.ts';
import { validateObjectKey } from './validate.ts';

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end < 0 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return colon >= 0 && /^\d*$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
}

function normaliseHost(host: string): string {
  return stripPort(host.trim().toLowerCase()).replace(/\.+$/, '');
}

/** The bucket named by a virtual-hosted-style Host (`bucket.<domain>[:port]`), if any. */
export function bucketFromHost(host: string | undefined, domain: string | undefined): string | undefined {
  if (!host || !domain) return undefined;
  const h = normaliseHost(host);
  const d = normaliseHost(domain).replace(/^\.+/, '');
  if (d === '' || !h.endsWith('.' + d)) return undefined;
  return h.slice(0, h.length - d.length - 1);
}

/** Percent-decode a path segment; '+' stays '+' (RFC 3986 paths have no form encoding). */
function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

function methodNotAllowed(method: string, resourceType: 'SERVICE' | 'BUCKET' | 'OBJECT'): S3Error {
  return new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: resourceType });
}

function serviceOperation(method: string): Operation {
  if (method === 'GET') return { kind: 'ListBuckets' };
  throw methodNotAllowed(method, 'SERVICE');
}

function bucketOperation(method: string, bucket: string, query: URLSearchParams): Operation {
  const keyword = method === 'HEAD' ? undefined : findSubresource(query);
  if (keyword !== undefined) {
    const route = subresourceRoute(method, 'bucket', keyword, query);
    if (!route) throw methodNotAllowed(method, 'BUCKET');
    return 'implemented' in route
      ? ({ kind: route.implemented, bucket } as Operation)
      : { kind: 'NotImplemented', name: route.notImplemented, bucket };
  }
  switch (method) {
    case 'GET': {
      const listType = query.get('list-type');
      if (listType === null) return { kind: 'ListObjects', bucket };
      if (listType === '2') return { kind: 'ListObjectsV2', bucket };
      throw new S3Error('InvalidArgument', 'Invalid List Type specified in Request', {
        ArgumentName: 'list-type',
        ArgumentValue: listType,
      });
    }
    case 'HEAD':
      return { kind: 'HeadBucket', bucket };
    case 'PUT':
      return { kind: 'CreateBucket', bucket };
    case 'DELETE':
      return { kind: 'DeleteBucket', bucket };
    case 'POST':
      // Browser form uploads (RESTObjectPOST).
      return { kind: 'PostObject', bucket };
    default:
      throw methodNotAllowed(method, 'BUCKET');
  }
}

/** UploadPart needs both partNumber and uploadId; one without the other is an error, not a PutObject. */
function isPartUpload(query: URLSearchParams): boolean {
  const hasPart = query.has('partNumber');
  const hasUpload = query.has('uploadId');
  if (hasPart === hasUpload) return hasPart;
  const missing = hasPart ? 'uploadId' : 'partNumber';
  throw new S3Error('InvalidArgument', `${missing} is required together with ${hasPart ? 'partNumber' : 'uploadId'}.`, {
    ArgumentName: missing,
    ArgumentValue: '',
  });
}

function objectOperation(method: string, bucket: string, key: string, query: URLSearchParams, headers: RouterInput['headers']): Operation {
  const keyword = method === 'HEAD' ? undefined : findSubresource(query);
  if (keyword !== undefined) {
    const route = subresourceRoute(method, 'object', keyword, query);
    if (!route) throw methodNotAllowed(method, 'OBJECT');
    return 'implemented' in route
      ? ({ kind: route.implemented, bucket, key } as Operation)
      : { kind: 'NotImplemented', name: route.notImplemented, bucket, key };
  }
  switch (method) {
    case 'GET':
      return { kind: query.has('uploadId') ? 'ListParts' : 'GetObject', bucket, key };
    case 'HEAD':
      return { kind: 'HeadObject', bucket, key };
    case 'PUT': {
      const copy = headers['x-amz-copy-source'] !== undefined;
      if (isPartUpload(query)) return { kind: copy ? 'UploadPartCopy' : 'UploadPart', bucket, key };
      return { kind: copy ? 'CopyObject' : 'PutObject', bucket, key };
    }
    case 'DELETE':
      return { kind: query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject', bucket, key };
    case 'POST':
      if (query.has('uploadId')) return { kind: 'CompleteMultipartUpload', bucket, key };
      throw methodNotAllowed(method, 'OBJECT');
    default:
      throw methodNotAllowed(method, 'OBJECT');
  }
}

/**
 * Decide the S3 operation of a request. Path-style `/bucket/key…`, or
 * virtual-hosted-style `bucket.<domain>/key…` when `opts.domain` is set and the
 * Host is under it. Keys are percent-decoded verbatim (`//`, trailing `/`,
 * unicode and `+` kept) and checked for length (KeyTooLongError). Bucket names
 * are not validated here: CreateBucket validates them, other operations simply
 * find no such bucket.
 */
export function parseOperation(input: RouterInput, opts: RouterOptions): { op: Operation; query: URLSearchParams } {
  const method = input.method.toUpperCase();
  const query = new URLSearchParams(input.rawQuery);
  const path = input.rawPath === '' ? '/' : input.rawPath;
  if (!path.startsWith('/')) throw new S3Error('InvalidURI');

  let bucket: string;
  let key: string;
  const hostBucket = bucketFromHost(input.host, opts.domain);
  if (hostBucket !== undefined) {
    bucket = hostBucket;
    key = decodePath(path.slice(1));
  } else {
    const rest = path.slice(1);
    if (rest === '') {
      if (method === 'OPTIONS') return { op: { kind: 'NotImplemented', name: 'OptionsObject' }, query };
      return { op: serviceOperation(method), query };
    }
    const slash = rest.indexOf('/');
    bucket = decodePath(slash < 0 ? rest : rest.slice(0, slash));
    key = slash < 0 ? '' : decodePath(rest.slice(slash + 1));
  }
  if (bucket === '') throw new S3Error('InvalidBucketName', undefined, { BucketName: '' });

  // CORS preflight (RESTOPTIONSobject): anonymous, answered from the bucket's CORS rules.
  if (method === 'OPTIONS') {
    return { op: key === '' ? { kind: 'PreflightRequest', bucket } : { kind: 'PreflightRequest', bucket, key }, query };
  }
  if (key === '') return { op: bucketOperation(method, bucket, query), query };
  validateObjectKey(key);
  return { op: objectOperation(method, bucket, key, query, input.headers), query };
}
