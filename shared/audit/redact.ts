// The redact step: turns a caller's `details` into plain, secret-free JSON before it
// is queued, hashed or stored. The audit log is kept for years and exported, so a
// secret written into it once would be exposed for as long as the log lives.
//
// Rules (documented in shared/audit/README.md):
//   * A field is redacted (its value becomes "[REDACTED]", the name stays so the
//     reader knows it was present) when its name, split into words (camelCase,
//     snake_case, kebab-case, "X-Amz-..." headers), contains
//       - secret, password, passwd, passphrase, pwd, token, authorization, bearer,
//         credential(s), cookie(s), signature, or "material" (key material); or
//       - "key" right after a qualifier that makes it key material: api, private,
//         secret, master, data, encryption, signing, session, sse, customer, kek, dek,
//         wrapping, hmac, access, shared, client (apiKey, x-api-key, privateKey,
//         SSECustomerKey, secretAccessKey...); or is written as one word: apikey, secretkey...
//     unless the name ends in an identity/measure word (id, name, count, type, kind,
//     length, version, md5, expires, at...): tokenId, accessKeyId, token_count,
//     secretName, x-amz-server-side-encryption-customer-key-MD5 are not secrets.
//     Plain "key" (an S3 object key) and "tokens" (LLM token counts: tokensIn,
//     maxTokens) are not secret words.
//   * A string value is redacted whatever its field name when it is an HTTP credential
//     ("Bearer ...", "Basic ...", "AWS4-HMAC-SHA256 Credential=...") or holds a PEM
//     private key.
// The walk also makes the value JSON- and jsonb-safe: NUL and lone surrogates (which
// PostgreSQL's jsonb refuses) become U+FFFD, bigint becomes a string, Date an ISO
// string, non-finite numbers null, binary a size marker, cycles and deep nesting a
// marker; oversized details are replaced by a marker with their size.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const REDACTED = '[REDACTED]';
const MAX_DEPTH = 32;
/** Serialized details above this are not stored (one runaway caller must not bloat the log). */
export const MAX_DETAILS_CHARS = 64 * 1024;

const SECRET_WORDS = new Set([
  'secret', 'secrets', 'password', 'passwords', 'passwd', 'passphrase', 'pwd', 'token', 'authorization',
  'bearer', 'credential', 'credentials', 'cookie', 'cookies', 'signature', 'material',
  'apikey', 'apikeys', 'secretkey', 'privatekey', 'accesskey', 'masterkey', 'sessiontoken', 'accesstoken', 'refreshtoken',
]);
const KEY_QUALIFIERS = new Set([
  'api', 'private', 'secret', 'master', 'data', 'encryption', 'signing', 'session', 'sse', 'customer',
  'kek', 'dek', 'wrapping', 'hmac', 'access', 'shared', 'client',
]);
const NOT_SECRET_SUFFIXES = new Set([
  'id', 'ids', 'name', 'names', 'count', 'type', 'kind', 'length', 'len', 'version', 'md5',
  'expires', 'expiry', 'expiration', 'ttl', 'at', 'status', 'state',
]);

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** True when a details field of this name must not be stored. */
export function isSecretName(name: string): boolean {
  const w = words(name);
  if (w.length === 0) return false;
  if (w.length > 1 && NOT_SECRET_SUFFIXES.has(w[w.length - 1])) return false;
  for (let i = 0; i < w.length; i++) {
    if (SECRET_WORDS.has(w[i])) return true;
    if ((w[i] === 'key' || w[i] === 'keys') && i > 0 && KEY_QUALIFIERS.has(w[i - 1])) return true;
  }
  return false;
}

// Authorization header schemes (RFC 7617 Basic, RFC 6750 Bearer, AWS SigV4) and PEM
// private keys (RFC 7468 labels "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"...).
const SECRET_VALUE = /^\s*(bearer|basic|aws4-hmac-sha256)\s+\S|-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/i;

export function isSecretValue(value: string): boolean {
  return SECRET_VALUE.test(value);
}

/** Well-formed Unicode without NUL: what PostgreSQL text and jsonb accept. */
export function cleanString(s: string, maxChars = Infinity): string {
  let out = s.toWellFormed();
  if (out.includes('\u0000')) out = out.replace(/\u0000/g, '\uFFFD');
  if (out.length > maxChars) out = `${out.slice(0, maxChars)}…`;
  return out;
}

/** Redacted, JSON-safe copy of `details` (never throws; the caller's object is not touched). */
export function redactDetails(details: unknown): JsonObject {
  if (details === undefined || details === null) return {};
  const value = toJson(details, 0, new Set());
  const obj: JsonObject = value !== null && typeof value === 'object' && !Array.isArray(value) ? value : { value };
  const size = JSON.stringify(obj).length;
  return size > MAX_DETAILS_CHARS ? { _truncated: true, _chars: size } : obj;
}

function toJson(v: unknown, depth: number, ancestors: Set<object>): Json {
  switch (typeof v) {
    case 'string':
      return isSecretValue(v) ? REDACTED : cleanString(v);
    case 'number':
      // JSON has no NaN/Infinity; -0 serializes as 0 either way.
      return Number.isFinite(v) ? (Object.is(v, -0) ? 0 : v) : null;
    case 'boolean':
      return v;
    case 'bigint':
      return v.toString();
    case 'object':
      break;
    default:
      return null; // undefined, function, symbol (dropped from objects by the caller)
  }
  if (v === null) return null;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return `[binary ${v.byteLength} bytes]`;
  if (ancestors.has(v)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  ancestors.add(v);
  try {
    if (Array.isArray(v)) return v.map((item) => toJson(item, depth + 1, ancestors));
    if (v instanceof Error) return { name: cleanString(v.name), message: toJson(v.message, depth + 1, ancestors) };
    if (v instanceof Map) return toJson(Object.fromEntries(v), depth, ancestors);
    if (v instanceof Set) return toJson([...v], depth, ancestors);
    const entries: [string, Json][] = [];
    for (const [k, item] of Object.entries(v)) {
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      const key = cleanString(k);
      entries.push([key, isSecretName(key) ? REDACTED : toJson(item, depth + 1, ancestors)]);
    }
    // fromEntries defines own properties, so a "__proto__" key stays data, not a prototype.
    return Object.fromEntries(entries);
  } finally {
    ancestors.delete(v);
  }
}
