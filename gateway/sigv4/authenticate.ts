// Verification of an inbound S3 request's SigV4 signature, header or presigned form, as
// S3 does it (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html).
// The body is not read here: the payload verifier (payload-verifier.ts) checks it as it
// streams, using the signing context this returns.
import { createSecretKey } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { canonicalRequest, stringToSign } from './canonical.ts';
import type { DistinctHeaders } from './canonical.ts';
import {
  anonymousDenied, credentialDateMalformed, credentialDateMismatch, headersNotSigned, invalidAccessKeyId,
  missingContentSha256, missingDate, multipleAuthMechanisms, queryDateMalformed, requestExpired,
  requestNotYetValid, requestTimeTooSkewed, signatureDoesNotMatch, wrongRegion, wrongService, wrongTerminal,
} from './errors.ts';
import { isPresigned, isSigV2Presigned, parseAuthorizationHeader, parsePresignedQuery } from './parse-auth.ts';
import { parseSigV2Presigned, sigV2StringToSign, verifySigV2Presigned } from './sigv2-presigned.ts';
import type { ParsedAuth } from './parse-auth.ts';
import { UNSIGNED_PAYLOAD, decodedContentLength, parsePayloadMode } from './payload-mode.ts';
import type { PayloadMode } from './payload-mode.ts';
import type { SigningContext, SigningKeyCache } from './signing.ts';
import { SERVICE, TERMINAL, deriveSigningKey, formatAmzDate, parseAmzDate, signHex, signaturesEqual } from './signing.ts';
import { canonicalQuery, canonicalUri, parseQuery } from './uri-encode.ts';
import type { QueryParam } from './uri-encode.ts';

export interface SigV4Request {
  method: string;
  /** Path exactly as received on the wire (still percent-encoded), no query string. */
  rawPath: string;
  /** Query string exactly as received, without '?', '' if none. */
  rawQuery: string;
  /** Node's lower-cased headers. */
  headers: IncomingHttpHeaders;
  /**
   * Optional IncomingMessage.headersDistinct. Node joins a repeated header with ', '
   * while SigV4 joins with ','; pass this so a signed repeated header verifies.
   */
  headersDistinct?: DistinctHeaders;
}

/** Returns the secret for a key id, or null when the key is unknown. */
export type SecretLookup = (accessKeyId: string) => Promise<string | null>;


export interface AuthResult {
  accessKeyId: string;
  payload: PayloadMode;
  presigned: boolean;
  /** From the credential scope. */
  region: string;
  /** Decoded (object) length for aws-chunked bodies (x-amz-decoded-content-length), else content-length, or null. */
  decodedContentLength: number | null;
  /** Lower-case names the client signed. */
  signedHeaders: readonly string[];
  /**
   * Signing key, seed signature, scope and timestamp for the payload verifier. It is a
   * non-enumerable property so that logging or serializing a result never prints the key.
   */
  readonly signing: SigningContext;
}

export interface AuthenticateOptions {
  now?: Date;
  /** Allowed clock difference for header auth, and how far in the future a presigned URL may start; default 15 min. */
  maxSkewMs?: number;
  /** When set, the credential scope must name this region (else AuthorizationHeaderMalformed). */
  region?: string;
  /** Signing-key cache to reuse across requests; without one each call derives the key afresh. */
  keyCache?: SigningKeyCache;
}

/** S3's limit for the difference between request time and server time. */
export const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;

/**
 * Authenticates a request. Throws SigV4Error with S3's code on any failure; resolves
 * with the verified identity and payload mode otherwise.
 */
export async function authenticate(req: SigV4Request, lookup: SecretLookup, opts: AuthenticateOptions = {}): Promise<AuthResult> {
  const now = opts.now ?? new Date();
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const params = parseQuery(req.rawQuery);
  const authorization = header(req.headers, 'authorization');
  const presigned = isPresigned(params);
  if (authorization !== undefined && presigned) throw multipleAuthMechanisms();
  if (authorization === undefined && !presigned) {
    if (isSigV2Presigned(params)) return authenticateSigV2Presigned(req, params, lookup, now);
    throw anonymousDenied();
  }
  const parsed = authorization !== undefined ? parseAuthorizationHeader(authorization) : parsePresignedQuery(params);
  checkScope(parsed, opts.region);

  const { amzDate, requestTime } = requestTimestamp(parsed, req.headers);
  if (parsed.credential.date !== amzDate.slice(0, 8)) throw credentialDateMismatch(parsed.form, parsed.credential.date, amzDate);

  const payloadHash = payloadHashOf(parsed, req.headers, params);
  const payload = parsePayloadMode(payloadHash);
  const decodedLength = decodedContentLength(payload, req.headers);
  checkHeadersSigned(parsed, req.headers);

  const secret = await lookup(parsed.credential.accessKeyId);
  if (secret === null) throw invalidAccessKeyId(parsed.credential.accessKeyId);

  checkTime(parsed, requestTime, now, maxSkewMs);

  const { credential } = parsed;
  const scope = `${credential.date}/${credential.region}/${SERVICE}/${TERMINAL}`;
  const canonical = canonicalRequest({
    method: req.method.toUpperCase(),
    canonicalUri: canonicalUri(req.rawPath),
    canonicalQuery: canonicalQuery(params, parsed.form === 'query' ? 'X-Amz-Signature' : undefined),
    signedHeaders: parsed.signedHeaders,
    headers: req.headers,
    distinctHeaders: req.headersDistinct,
    payloadHash,
  });
  const toSign = stringToSign(amzDate, scope, canonical);
  const key = opts.keyCache
    ? opts.keyCache.get(secret, credential.date, credential.region)
    : deriveSigningKey(secret, credential.date, credential.region);
  const expected = signHex(key, toSign);
  if (!signaturesEqual(expected, parsed.signature)) {
    // S3 returns what it signed so client authors can diff; none of it is secret.
    throw signatureDoesNotMatch({
      AWSAccessKeyId: credential.accessKeyId, StringToSign: toSign, SignatureProvided: parsed.signature, CanonicalRequest: canonical,
    });
  }

  const result: Omit<AuthResult, 'signing'> = {
    accessKeyId: credential.accessKeyId,
    payload,
    presigned: parsed.form === 'query',
    region: credential.region,
    decodedContentLength: decodedLength,
    signedHeaders: parsed.signedHeaders,
  };
  const signing: SigningContext = { key, seedSignature: expected, scope, amzDate };
  return Object.defineProperty(result, 'signing', { value: Object.freeze(signing), enumerable: false }) as AuthResult;
}

/**
 * aws cli v1 presigns with SigV2 by default; such a URL carries an unsigned payload. The
 * canonical resource is the path as received (path-style addressing).
 */
async function authenticateSigV2Presigned(req: SigV4Request, params: QueryParam[], lookup: SecretLookup, now: Date): Promise<AuthResult> {
  const p = parseSigV2Presigned(params);
  const secret = await lookup(p.accessKeyId);
  if (secret === null) throw invalidAccessKeyId(p.accessKeyId);
  verifySigV2Presigned(p, sigV2StringToSign(req.method, req.rawPath, params, req.headers, p.expires), secret, now);
  const payload: PayloadMode = { kind: 'unsigned' };
  const result: Omit<AuthResult, 'signing'> = {
    accessKeyId: p.accessKeyId,
    payload,
    presigned: true,
    region: '',
    decodedContentLength: decodedContentLength(payload, req.headers),
    signedHeaders: [],
  };
  const signing: SigningContext = { key: createSecretKey(Buffer.alloc(0)), seedSignature: '', scope: '', amzDate: '' };
  return Object.defineProperty(result, 'signing', { value: Object.freeze(signing), enumerable: false }) as AuthResult;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function checkScope(parsed: ParsedAuth, expectedRegion: string | undefined): void {
  const { credential, form } = parsed;
  if (!/^\d{8}$/.test(credential.date)) throw credentialDateMalformed(form, credential.date);
  if (expectedRegion !== undefined && credential.region !== expectedRegion) throw wrongRegion(form, credential.region, expectedRegion);
  if (credential.service !== SERVICE) throw wrongService(form, credential.service);
  if (credential.terminal !== TERMINAL) throw wrongTerminal(form, credential.terminal);
}

/**
 * The signed timestamp: X-Amz-Date for presigned URLs; for header auth x-amz-date, or
 * the Date header when there is none (S3: "x-amz-date ... or Date", with x-amz-date
 * taking precedence), converted to ISO 8601 basic format for the string to sign.
 */
function requestTimestamp(parsed: ParsedAuth, headers: IncomingHttpHeaders): { amzDate: string; requestTime: Date } {
  if (parsed.form === 'query') {
    const t = parseAmzDate(parsed.amzDate ?? '');
    if (!t) throw queryDateMalformed();
    return { amzDate: parsed.amzDate as string, requestTime: t };
  }
  const amz = header(headers, 'x-amz-date');
  if (amz !== undefined) {
    const t = parseAmzDate(amz.trim());
    if (!t) throw missingDate();
    return { amzDate: amz.trim(), requestTime: t };
  }
  const date = header(headers, 'date');
  const ms = date === undefined ? NaN : Date.parse(date);
  if (Number.isNaN(ms)) throw missingDate();
  const t = new Date(Math.floor(ms / 1000) * 1000);
  return { amzDate: formatAmzDate(t), requestTime: t };
}

/**
 * The payload-hash line of the canonical request. Header auth: x-amz-content-sha256,
 * which S3 requires. Presigned: UNSIGNED-PAYLOAD (sigv4-query-string-auth), unless the
 * URL itself carries a signed X-Amz-Content-Sha256.
 */
function payloadHashOf(parsed: ParsedAuth, headers: IncomingHttpHeaders, params: readonly QueryParam[]): string {
  // Any case: the SDK presigner hoists its lower-case header name into the query.
  if (parsed.form === 'query') return params.find((p) => p.name.toLowerCase() === 'x-amz-content-sha256')?.value ?? UNSIGNED_PAYLOAD;
  const v = header(headers, 'x-amz-content-sha256');
  if (v === undefined) throw missingContentSha256();
  return v.trim();
}

/**
 * S3 refuses requests whose Host, or any x-amz-* header, is left out of the signature
 * ("There were headers present in the request which were not signed"). The payload
 * hash is exempt: it is part of the canonical request whether or not it is listed.
 */
function checkHeadersSigned(parsed: ParsedAuth, headers: IncomingHttpHeaders): void {
  const signed = new Set(parsed.signedHeaders);
  const missing: string[] = [];
  if (!signed.has('host')) missing.push('host');
  for (const name of Object.keys(headers)) {
    if (name.startsWith('x-amz-') && name !== 'x-amz-content-sha256' && !signed.has(name)) missing.push(name);
  }
  if (missing.length > 0) throw headersNotSigned(missing.sort());
}

function checkTime(parsed: ParsedAuth, requestTime: Date, now: Date, maxSkewMs: number): void {
  const delta = requestTime.getTime() - now.getTime();
  if (parsed.form === 'header') {
    if (Math.abs(delta) > maxSkewMs) throw requestTimeTooSkewed(requestTime, now, maxSkewMs);
    return;
  }
  if (delta > maxSkewMs) throw requestNotYetValid();
  const expiresAt = new Date(requestTime.getTime() + (parsed.expiresSeconds ?? 0) * 1000);
  if (now.getTime() > expiresAt.getTime()) throw requestExpired(parsed.expires ?? '', expiresAt, now);
}
