// Canonical request and string to sign
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
import type { IncomingHttpHeaders } from 'node:http';
import { ALGORITHM, sha256Hex } from './signing.ts';

/** Per-name header values before Node joined duplicates with ', ' (IncomingMessage.headersDistinct). */
export type DistinctHeaders = Record<string, string[] | undefined>;

/**
 * Canonical value of one header: each value trimmed, inner runs of spaces and tabs
 * collapsed to one space ("Trimall"), repeated headers joined with ','. Node joins
 * repeated headers with ', ' in IncomingHttpHeaders, so the distinct values are used
 * when the caller has them.
 */
export function canonicalHeaderValue(name: string, headers: IncomingHttpHeaders, distinct?: DistinctHeaders): string | undefined {
  const many = distinct?.[name];
  const raw = many ?? headers[name];
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) return raw.map(trimAll).join(',');
  return trimAll(raw);
}

function trimAll(v: string): string {
  return v.replace(/[ \t]+/g, ' ').trim();
}

export interface CanonicalRequestInput {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  /** Lower-case, in the order the client listed them (S3 requires that to be sorted). */
  signedHeaders: readonly string[];
  headers: IncomingHttpHeaders;
  distinctHeaders?: DistinctHeaders;
  payloadHash: string;
}

/**
 * The canonical request. A signed header the request does not carry canonicalizes to
 * an empty value ("name:"), which is what clients that sign a header they then drop
 * (e.g. content-length on a chunked body) computed too.
 */
export function canonicalRequest(input: CanonicalRequestInput): string {
  let headerBlock = '';
  for (const name of input.signedHeaders) {
    headerBlock += `${name}:${canonicalHeaderValue(name, input.headers, input.distinctHeaders) ?? ''}\n`;
  }
  return `${input.method}\n${input.canonicalUri}\n${input.canonicalQuery}\n${headerBlock}\n${input.signedHeaders.join(';')}\n${input.payloadHash}`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}
