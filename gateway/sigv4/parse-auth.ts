// Parsing of the two SigV4 forms S3 accepts: the Authorization header
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html)
// and presigned-URL query parameters
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
// Only syntax is checked here; dates, scope values and signatures are checked by the caller.
import {
  authComponentMalformed, authComponentsMissing, credentialMalformed, expiresNegative, expiresNotNumber,
  expiresTooLarge, expiresTooSmall, mechanismNotSupported, queryAlgorithmUnsupported, queryParamsMissing, unsupportedAuthType,
} from './errors.ts';
import type { AuthForm } from './errors.ts';
import { ALGORITHM } from './signing.ts';
import type { QueryParam } from './uri-encode.ts';

/** Longest X-Amz-Expires S3 accepts: seven days. */
export const MAX_PRESIGN_EXPIRES = 604800;

export interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminal: string;
}

export interface ParsedAuth {
  form: AuthForm;
  credential: Credential;
  signedHeaders: string[];
  signature: string;
  /** Presigned only: X-Amz-Date and X-Amz-Expires as sent. */
  amzDate?: string;
  expires?: string;
  expiresSeconds?: number;
}

/** `AKID/YYYYMMDD/region/service/aws4_request`; the key id is everything before the last four parts. */
export function parseCredential(value: string, form: AuthForm): Credential {
  const parts = value.split('/');
  if (parts.length < 5) throw credentialMalformed(form);
  const [date, region, service, terminal] = parts.slice(-4);
  const accessKeyId = parts.slice(0, -4).join('/');
  if (accessKeyId === '') throw credentialMalformed(form);
  return { accessKeyId, date, region, service, terminal };
}

function parseSignedHeaders(value: string): string[] {
  return value.split(';').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
}

/**
 * `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`. Components are
 * comma-separated with optional spaces (clients differ), in any order.
 */
export function parseAuthorizationHeader(header: string): ParsedAuth {
  const value = header.trim();
  const space = value.indexOf(' ');
  const algorithm = space === -1 ? value : value.slice(0, space);
  if (algorithm !== ALGORITHM) {
    // SigV2 ("AWS AKID:sig") and SigV4a are S3 mechanisms this gateway does not speak.
    if (algorithm === 'AWS' || algorithm === 'AWS4-ECDSA-P256-SHA256') throw mechanismNotSupported();
    throw unsupportedAuthType(value);
  }
  const fields = new Map<string, string>();
  for (const raw of value.slice(space + 1).split(',')) {
    const component = raw.trim();
    if (component === '') continue;
    const eq = component.indexOf('=');
    if (eq <= 0) throw authComponentMalformed(component);
    fields.set(component.slice(0, eq).trim(), component.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) throw authComponentsMissing();
  return {
    form: 'header',
    credential: parseCredential(credential, 'header'),
    signedHeaders: parseSignedHeaders(signedHeaders),
    signature,
  };
}

/** The query parameters that mark a SigV4 presigned URL. */
export const PRESIGN_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature'] as const;

export function isPresigned(params: readonly QueryParam[]): boolean {
  return params.some((p) => (PRESIGN_PARAMS as readonly string[]).includes(p.name));
}

/** SigV2 presigned URLs (AWSAccessKeyId + Signature + Expires). */
export function isSigV2Presigned(params: readonly QueryParam[]): boolean {
  return params.some((p) => p.name === 'AWSAccessKeyId') && params.some((p) => p.name === 'Signature');
}

export function parsePresignedQuery(params: readonly QueryParam[]): ParsedAuth {
  const get = (name: string): string | undefined => params.find((p) => p.name === name)?.value;
  const algorithm = get('X-Amz-Algorithm');
  const credential = get('X-Amz-Credential');
  const signature = get('X-Amz-Signature');
  const amzDate = get('X-Amz-Date');
  const signedHeaders = get('X-Amz-SignedHeaders');
  const expires = get('X-Amz-Expires');
  if (algorithm === undefined || credential === undefined || signature === undefined || amzDate === undefined
    || signedHeaders === undefined || expires === undefined) {
    throw queryParamsMissing();
  }
  if (algorithm !== ALGORITHM) throw queryAlgorithmUnsupported();
  if (!/^-?\d+$/.test(expires)) throw expiresNotNumber();
  const expiresSeconds = Number(expires);
  if (expiresSeconds < 0) throw expiresNegative();
  // "The minimum value you can set is 1, and the maximum is 604800 (seven days)" (sigv4-query-string-auth).
  if (expiresSeconds === 0) throw expiresTooSmall();
  if (expiresSeconds > MAX_PRESIGN_EXPIRES) throw expiresTooLarge();
  return {
    form: 'query',
    credential: parseCredential(credential, 'query'),
    signedHeaders: parseSignedHeaders(signedHeaders),
    signature,
    amzDate,
    expires,
    expiresSeconds,
  };
}
