// Canonical URI and canonical query string of a SigV4 canonical request
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html,
// "Canonical request"). S3 neither normalizes the path (no '.'/'..' removal, no
// slash merging) nor double-encodes it. To accept clients that percent-encode more or
// less than AWS's UriEncode on the wire, the raw path and query are decoded to bytes
// and re-encoded with UriEncode, so every spelling of the same bytes canonicalizes
// identically.

const HEX = '0123456789ABCDEF';

/** Bytes AWS UriEncode leaves alone: A-Z a-z 0-9 - _ . ~ */
function isUnreserved(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39)
    || b === 0x2d || b === 0x5f || b === 0x2e || b === 0x7e;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Percent-decodes to raw bytes. A '%' not followed by two hex digits stays a literal
 * '%' (S3 would reject such a URI; here it simply canonicalizes as '%25' and the
 * signature decides). With plusAsSpace, '+' is a space, as in form-encoded query
 * strings (RFC 1866 8.2.1) — SDKs send '%2B' for a literal plus.
 */
export function percentDecode(s: string, plusAsSpace: boolean): Buffer {
  const src = Buffer.from(s, 'utf8');
  if (src.indexOf(0x25) === -1 && !(plusAsSpace && src.indexOf(0x2b) !== -1)) return src;
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === 0x25 && i + 2 < src.length) {
      const hi = hexValue(src[i + 1]);
      const lo = hexValue(src[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = plusAsSpace && c === 0x2b ? 0x20 : c;
  }
  return out.subarray(0, n);
}

/** AWS UriEncode of raw bytes: unreserved bytes kept, '/' kept when keepSlash, the rest %XX. */
export function uriEncode(bytes: Uint8Array, keepSlash: boolean): string {
  let out = '';
  let runStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (isUnreserved(b) || (keepSlash && b === 0x2f)) continue;
    if (i > runStart) out += Buffer.from(bytes.buffer, bytes.byteOffset + runStart, i - runStart).toString('latin1');
    out += '%' + HEX[b >> 4] + HEX[b & 15];
    runStart = i + 1;
  }
  if (runStart === 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  if (runStart < bytes.length) out += Buffer.from(bytes.buffer, bytes.byteOffset + runStart, bytes.length - runStart).toString('latin1');
  return out;
}

/**
 * Canonical URI for S3: each '/'-separated segment of the raw path decoded then
 * UriEncoded, slashes (including repeated and trailing ones) kept as sent. An encoded
 * slash (%2F) inside a segment is a key character, so it is decoded and re-encoded as
 * '%2F' rather than becoming a separator.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/';
  const segments = rawPath.split('/');
  for (let i = 0; i < segments.length; i++) segments[i] = uriEncode(percentDecode(segments[i], false), false);
  const joined = segments.join('/');
  return joined.startsWith('/') ? joined : '/' + joined;
}

export interface QueryParam {
  /** Decoded name (UTF-8). */
  name: string;
  /** Decoded value (UTF-8); '' for both `a` and `a=`. */
  value: string;
  /** UriEncode of the decoded name / value, as the canonical query uses them. */
  encodedName: string;
  encodedValue: string;
}

/** Splits a raw query string (no '?') into decoded and canonically re-encoded pairs, in wire order. */
export function parseQuery(rawQuery: string): QueryParam[] {
  const params: QueryParam[] = [];
  if (rawQuery === '') return params;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? '' : part.slice(eq + 1);
    const nameBytes = percentDecode(rawName, true);
    const valueBytes = percentDecode(rawValue, true);
    params.push({
      name: nameBytes.toString('utf8'),
      value: valueBytes.toString('utf8'),
      encodedName: uriEncode(nameBytes, false),
      encodedValue: uriEncode(valueBytes, false),
    });
  }
  return params;
}

/**
 * Canonical query string: every parameter UriEncoded, sorted by encoded name then
 * encoded value (byte order, which is code-point order for these ASCII strings),
 * empty values kept as `name=`. `exclude` drops one parameter by exact decoded name
 * (X-Amz-Signature for presigned URLs).
 */
export function canonicalQuery(params: readonly QueryParam[], exclude?: string): string {
  const kept = exclude === undefined ? params.slice() : params.filter((p) => p.name !== exclude);
  kept.sort((a, b) => compare(a.encodedName, b.encodedName) || compare(a.encodedValue, b.encodedValue));
  let out = '';
  for (let i = 0; i < kept.length; i++) {
    if (i > 0) out += '&';
    out += kept[i].encodedName + '=' + kept[i].encodedValue;
  }
  return out;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
