// The payload modes x-amz-content-sha256 can announce
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html,
// table of x-amz-content-sha256 values).
import type { IncomingHttpHeaders } from 'node:http';
import { invalidContentSha256, invalidDecodedLength } from './errors.ts';

export type PayloadMode =
  | { kind: 'unsigned' }
  | { kind: 'sha256'; hex: string }
  | { kind: 'streaming-signed'; trailer: boolean }
  | { kind: 'streaming-unsigned-trailer' };

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * Maps an x-amz-content-sha256 value to a mode. The SigV4a streaming values
 * (STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD[-TRAILER]) need an ECDSA-signed request,
 * which this verifier does not accept, so they are refused like any unknown value.
 */
export function parsePayloadMode(value: string): PayloadMode {
  switch (value) {
    case UNSIGNED_PAYLOAD:
      return { kind: 'unsigned' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { kind: 'streaming-signed', trailer: false };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { kind: 'streaming-signed', trailer: true };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'streaming-unsigned-trailer' };
  }
  if (HEX64.test(value)) return { kind: 'sha256', hex: value.toLowerCase() };
  throw invalidContentSha256(value);
}

export function isChunked(mode: PayloadMode): boolean {
  return mode.kind === 'streaming-signed' || mode.kind === 'streaming-unsigned-trailer';
}

function headerString(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Object length the body should decode to: x-amz-decoded-content-length for
 * aws-chunked bodies (sigv4-streaming: "you must include the
 * x-amz-decoded-content-length header"), content-length otherwise; null when absent.
 */
export function decodedContentLength(mode: PayloadMode, headers: IncomingHttpHeaders): number | null {
  const name = isChunked(mode) ? 'x-amz-decoded-content-length' : 'content-length';
  const raw = headerString(headers, name);
  if (raw === undefined) return null;
  const trimmed = raw.trim();
  if (!/^\d{1,16}$/.test(trimmed) || !Number.isSafeInteger(Number(trimmed))) {
    if (isChunked(mode)) throw invalidDecodedLength(raw);
    return null; // Node's HTTP parser already rejects a malformed Content-Length.
  }
  return Number(trimmed);
}
