// Canonical serialization and hash of one audit entry. The hash must come out the
// same when the entry is recomputed from what PostgreSQL returns, whatever order
// jsonb keeps the keys in (jsonb sorts them by length, then bytes), so object keys
// are sorted the RFC 8785 (JCS) way: by UTF-16 code units, which is what the default
// Array.prototype.sort compares. Numbers and strings use ECMAScript JSON.stringify,
// which is also what RFC 8785 §3.2.2 prescribes.
import { createHash } from 'node:crypto';
import type { Json, JsonObject } from './redact.ts';

/** prev_hash of the first entry of the chain. */
export const GENESIS_HASH = '0'.repeat(64);

export type Plane = 's3' | 'admin' | 'ai';

/** The fields an entry's hash commits to. */
export interface ChainedFields {
  id: number;
  /** ISO 8601 with milliseconds and "Z" (Date.prototype.toISOString). */
  at: string;
  plane: Plane;
  actor: string;
  action: string;
  resource: string;
  result: string;
  details: JsonObject;
  prevHash: string;
}

export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

/** Hex SHA-256 of the canonical form of the entry, prev_hash included. */
export function entryHash(f: ChainedFields): string {
  const doc: JsonObject = {
    id: f.id,
    at: f.at,
    plane: f.plane,
    actor: f.actor,
    action: f.action,
    resource: f.resource,
    result: f.result,
    details: f.details,
    prev_hash: f.prevHash,
  };
  return createHash('sha256').update(canonicalJson(doc), 'utf8').digest('hex');
}
