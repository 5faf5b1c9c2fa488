// The POST policy document (API/sigv4-HTTPPOSTConstructPolicy.html): base64 JSON with
// `expiration` and `conditions`; every condition must hold for the form, and every
// form field except x-amz-signature, file, policy and x-ignore-* must be named by a
// condition. Failures answer 403 AccessDenied "Invalid according to Policy: …", a
// document that cannot be read answers 400 InvalidPolicyDocument, as S3 does.
import { S3Error } from '../s3-errors.ts';
import { extraError } from '../s3-errors-extra.ts';

export type PolicyCondition =
  | { op: 'eq' | 'starts-with'; field: string; value: string; text: string }
  | { op: 'content-length-range'; min: number; max: number; text: string };

export interface PostPolicy {
  expiration: Date;
  conditions: PolicyCondition[];
}

export interface SizeRange {
  min: number;
  max: number | undefined;
}

function invalid(message: string): S3Error {
  return extraError('InvalidPolicyDocument', `Invalid Policy: ${message}`);
}

export function denied(message: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${message}`);
}

/** How S3 quotes a condition in its failure message: `["eq", "$key", "x"]`. */
function show(parts: unknown[]): string {
  return '[' + parts.map((p) => JSON.stringify(p)).join(', ') + ']';
}

function fieldName(raw: unknown): string {
  if (typeof raw !== 'string') throw invalid('Invalid Condition: field name must be a string.');
  return (raw.startsWith('$') ? raw.slice(1) : raw).toLowerCase();
}

function parseCondition(c: unknown): PolicyCondition {
  if (Array.isArray(c)) {
    const op = typeof c[0] === 'string' ? c[0].toLowerCase() : '';
    if (op === 'content-length-range') {
      const [min, max] = [Number(c[1]), Number(c[2])];
      if (c.length !== 3 || !Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < min) {
        throw invalid('Invalid content-length-range condition.');
      }
      return { op, min, max, text: show(c) };
    }
    if (op !== 'eq' && op !== 'starts-with') throw invalid(`Invalid Condition: unknown operation ${String(c[0])}.`);
    if (c.length !== 3 || typeof c[1] !== 'string' || !c[1].startsWith('$') || typeof c[2] !== 'string') {
      throw invalid(`Invalid Condition: ${show(c)}`);
    }
    return { op, field: fieldName(c[1]), value: c[2], text: show(c) };
  }
  if (c && typeof c === 'object') {
    const entries = Object.entries(c as Record<string, unknown>);
    if (entries.length !== 1 || typeof entries[0][1] !== 'string') throw invalid('Invalid Condition: an exact-match condition names one field.');
    const [name, value] = entries[0] as [string, string];
    return { op: 'eq', field: fieldName(name), value, text: show(['eq', '$' + name, value]) };
  }
  throw invalid('Invalid Condition.');
}

/** Decodes the base64 `policy` form field. */
export function decodePolicy(base64: string): PostPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    throw invalid('Invalid JSON.');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid('Invalid JSON.');
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown };
  if (typeof expiration !== 'string') throw invalid('Policy missing expiration.');
  const when = new Date(expiration);
  if (Number.isNaN(when.getTime())) throw invalid('Invalid \'expiration\' value: \'' + expiration + '\'');
  if (!Array.isArray(conditions)) throw invalid('Policy missing conditions.');
  return { expiration: when, conditions: conditions.map(parseCondition) };
}

// Fields the policy need not name (sigv4-HTTPPOSTConstructPolicy.html, "Conditions"); a SigV2
// form exempts its own credential fields instead (HTTPPOSTForms.html, "Policy construction").
export const SIGV4_EXEMPT: ReadonlySet<string> = new Set(['x-amz-signature', 'file', 'policy']);
export const SIGV2_EXEMPT: ReadonlySet<string> = new Set(['awsaccesskeyid', 'signature', 'file', 'policy']);

/**
 * Checks expiration and every eq / starts-with condition against the form fields
 * (names lower-cased; `bucket` is the request's bucket). Returns the size range the
 * file must fall in (content-length-range), checked once its length is known.
 */
export function checkPolicy(policy: PostPolicy, fields: ReadonlyMap<string, string>, now = new Date(), exempt: ReadonlySet<string> = SIGV4_EXEMPT): SizeRange {
  if (policy.expiration.getTime() <= now.getTime()) throw denied('Policy expired.');
  const range: SizeRange = { min: 0, max: undefined };
  const named = new Set<string>();
  for (const c of policy.conditions) {
    if (c.op === 'content-length-range') {
      range.min = Math.max(range.min, c.min);
      range.max = range.max === undefined ? c.max : Math.min(range.max, c.max);
      continue;
    }
    named.add(c.field);
    const actual = fields.get(c.field) ?? '';
    let ok: boolean;
    if (c.op === 'eq') ok = actual === c.value;
    // Content-Type may list several types; each must start with the prefix (same page, "starts-with").
    else if (c.field === 'content-type') ok = actual.split(',').every((t) => t.trim().startsWith(c.value));
    else ok = actual.startsWith(c.value);
    if (!ok) throw denied(`Policy Condition failed: ${c.text}`);
  }
  const extra = [...fields.keys()].filter((f) => f !== 'bucket' && !exempt.has(f) && !f.startsWith('x-ignore-') && !named.has(f));
  if (extra.length > 0) throw denied(`Extra input fields: ${extra.join(', ')}`);
  return range;
}
