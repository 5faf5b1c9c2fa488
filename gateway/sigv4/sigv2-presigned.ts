// SigV2 query-string authentication (presigned URLs with AWSAccessKeyId, Signature,
// Expires). SigV2 is deprecated for signing requests, but aws cli v1's `s3 presign`
// still produces these URLs by default, so they must work with curl.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html
// ("Query string request authentication alternative").
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { QueryParam } from './uri-encode.ts';
import { SigV4Error } from './errors.ts';

/** Sub-resources and overrides that are part of the SigV2 canonical resource (the doc's list). */
const SIGNED_SUBRESOURCES = new Set([
  'acl', 'cors', 'delete', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy', 'requestPayment',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires', 'restore', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId',
  'versioning', 'versions', 'website',
]);

function one(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  return (Array.isArray(v) ? v.join(',') : v) ?? '';
}

export interface SigV2Presigned {
  accessKeyId: string;
  signature: string;
  expires: number;
}

export function parseSigV2Presigned(params: readonly QueryParam[]): SigV2Presigned {
  const get = (n: string) => params.find((p) => p.name === n)?.value;
  const accessKeyId = get('AWSAccessKeyId');
  const signature = get('Signature');
  const expiresRaw = get('Expires');
  if (!accessKeyId || !signature || !expiresRaw || !/^\d{1,12}$/.test(expiresRaw)) {
    throw new SigV4Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters', 403);
  }
  return { accessKeyId, signature, expires: Number(expiresRaw) };
}

/** The string SigV2 signs for a presigned request: the Expires value stands where Date would be. */
export function sigV2StringToSign(method: string, rawPath: string, params: readonly QueryParam[], headers: IncomingHttpHeaders, expires: number): string {
  const amz = Object.keys(headers)
    .filter((h) => h.startsWith('x-amz-'))
    .sort()
    .map((h) => `${h}:${one(headers, h).trim()}\n`)
    .join('');
  const sub = params
    .filter((p) => SIGNED_SUBRESOURCES.has(p.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((p) => (p.value === '' && !p.name.startsWith('response-') ? p.name : `${p.name}=${p.value}`));
  const resource = rawPath + (sub.length > 0 ? `?${sub.join('&')}` : '');
  return `${method.toUpperCase()}\n${one(headers, 'content-md5')}\n${one(headers, 'content-type')}\n${expires}\n${amz}${resource}`;
}

export function verifySigV2Presigned(p: SigV2Presigned, stringToSign: string, secret: string, now: Date): void {
  if (Math.floor(now.getTime() / 1000) > p.expires) throw new SigV4Error('AccessDenied', 'Request has expired', 403);
  if (!sigV2SignatureMatches(secret, stringToSign, p.signature)) {
    throw new SigV4Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', 403);
  }
}

/** SigV2's signature — base64(HMAC-SHA1(secret, string to sign)) — compared in constant time. */
export function sigV2SignatureMatches(secret: string, stringToSign: string, provided: string): boolean {
  const expected = createHmac('sha1', secret).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(provided, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
