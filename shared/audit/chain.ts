// The chain in PostgreSQL: appending entries under the head row's lock, and walking
// the chain to recompute every link (migrations/003_audit.sql).
import type { Queryable } from '../../metadata/db.ts';
import { GENESIS_HASH, entryHash, type Plane } from './canonical.ts';
import { cleanString, redactDetails, type JsonObject } from './redact.ts';

export interface AuditEvent {
  plane: Plane;
  /** Tenant / access-key id / virtual-token id: an identity, never a secret. */
  actor: string;
  action: string;
  resource: string;
  result: string;
  details?: Record<string, unknown>;
  at?: Date;
}

/** An event made safe to queue and store: redacted details, clean strings, fixed time. */
export interface PreparedEntry {
  at: string;
  plane: Plane;
  actor: string;
  action: string;
  resource: string;
  result: string;
  details: JsonObject;
}

export interface VerifyResult {
  ok: boolean;
  /** Entries read and compared, the broken one included. */
  checked: number;
  brokenAt?: number;
  reason?: string;
}

const PLANES = new Set<string>(['s3', 'admin', 'ai']);
/** Bounds text columns (an S3 resource is bucket + a key of at most 1024 bytes). */
const MAX_FIELD_CHARS = 4096;
const VERIFY_PAGE = 1000;
// timestamptz accepts far more, but an audit time outside this range is a bug upstream;
// clamping keeps one bad event from failing the batch it travels in.
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31);

/** Snapshot the event now (the caller may reuse its objects). Throws TypeError on a bad plane. */
export function prepareEntry(e: AuditEvent, now: () => Date = () => new Date()): PreparedEntry {
  if (!e || !PLANES.has(e.plane)) throw new TypeError(`audit event plane must be s3, admin or ai, got ${String(e?.plane)}`);
  const t = e.at instanceof Date ? e.at.getTime() : NaN;
  const at = t >= MIN_TIME && t <= MAX_TIME ? e.at! : now();
  return {
    at: at.toISOString(),
    plane: e.plane,
    actor: field(e.actor),
    action: field(e.action),
    resource: field(e.resource),
    result: field(e.result),
    details: redactDetails(e.details),
  };
}

function field(v: unknown): string {
  return cleanString(typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v), MAX_FIELD_CHARS);
}

/**
 * Append entries as the next links of the chain, inside the caller's transaction.
 * SELECT ... FOR UPDATE on the one head row makes every appender (any process, any
 * host) wait for the previous one to commit, so each batch links to the true head.
 * The conditional head update and the id primary key are a second guard: a caller
 * that forgot BEGIN gets an error, never a fork.
 */
export async function appendEntries(tx: Queryable, entries: PreparedEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const head = await tx.query<{ last_id: number | string; last_hash: string }>(
    'SELECT last_id, last_hash FROM audit_head WHERE singleton FOR UPDATE',
  );
  if (head.rows.length !== 1) throw new Error('audit_head row is missing (migration 003_audit not applied?)');
  const startId = Number(head.rows[0].last_id);
  let id = startId;
  let prevHash = head.rows[0].last_hash;
  const cols: unknown[][] = [[], [], [], [], [], [], [], [], [], []];
  for (const e of entries) {
    id += 1;
    const hash = entryHash({ ...e, id, prevHash });
    const row = [id, e.at, e.plane, e.actor, e.action, e.resource, e.result, JSON.stringify(e.details), prevHash, hash];
    for (let c = 0; c < 10; c++) cols[c].push(row[c]);
    prevHash = hash;
  }
  // One statement per batch with ten array parameters (not 10 parameters per row): it
  // is parsed once whatever the batch size, and appends about twice as fast here.
  // details travel as text[] and are cast per row, which avoids jsonb[] (CockroachDB
  // only accepts arrays of JSONB since v23.1). Not yet run against CockroachDB.
  await tx.query(
    `INSERT INTO audit_log (id, at, plane, actor, action, resource, result, details, prev_hash, hash)
     SELECT u.id, u.at, u.plane, u.actor, u.action, u.resource, u.result, u.details::jsonb, u.prev_hash, u.hash
       FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
         AS u (id, at, plane, actor, action, resource, result, details, prev_hash, hash)`,
    cols,
  );
  const moved = await tx.query('UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE singleton AND last_id = $3', [id, prevHash, startId]);
  if (moved.rowCount !== 1) throw new Error('audit head moved during an append (was the caller inside BEGIN ... COMMIT?)');
}

interface Row {
  id: number | string;
  at: Date | string;
  plane: Plane;
  actor: string;
  action: string;
  resource: string;
  result: string;
  details_text: string;
  prev_hash: string;
  hash: string;
}

/**
 * Walk the chain in id order from `fromId` (default: the first entry), recompute each
 * hash and compare each prev_hash with the hash before it; stop at the first broken
 * link. The head is read first and only entries up to it are walked, so appends that
 * commit during the walk are neither reported as broken nor waited for; a full walk
 * also checks that the last entry is the head (a cut-off tail is reported).
 */
export async function verifyChain(db: Queryable, opts: { fromId?: number; limit?: number } = {}): Promise<VerifyResult> {
  const head = await db.query<{ last_id: number | string; last_hash: string }>('SELECT last_id, last_hash FROM audit_head WHERE singleton');
  if (head.rows.length !== 1) return { ok: false, checked: 0, reason: 'audit_head row is missing' };
  const headId = Number(head.rows[0].last_id);
  const headHash = head.rows[0].last_hash;
  const limit = opts.limit ?? Infinity;
  const fromId = Math.max(1, Math.floor(opts.fromId ?? 1));

  let expectedId = 1;
  let expectedPrev = GENESIS_HASH;
  if (fromId > 1) {
    const before = await db.query<{ id: number | string; hash: string }>('SELECT id, hash FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT 1', [fromId]);
    if (before.rows.length === 1) {
      expectedId = Number(before.rows[0].id) + 1;
      expectedPrev = before.rows[0].hash;
    }
  }

  let checked = 0;
  let cursor = fromId;
  while (checked < limit && cursor <= headId) {
    const page = await db.query<Row>(
      `SELECT id, at, plane, actor, action, resource, result, details::text AS details_text, prev_hash, hash
         FROM audit_log WHERE id >= $1 AND id <= $2 ORDER BY id LIMIT $3`,
      [cursor, headId, Math.min(VERIFY_PAGE, limit - checked)],
    );
    if (page.rows.length === 0) break;
    for (const row of page.rows) {
      const id = Number(row.id);
      checked += 1;
      if (id !== expectedId) return broken(checked, id, `entry ${expectedId} is missing (next entry is ${id})`);
      if (row.prev_hash !== expectedPrev) return broken(checked, id, 'prev_hash does not match the hash of the previous entry');
      const recomputed = entryHash({
        id,
        at: new Date(row.at).toISOString(),
        plane: row.plane,
        actor: row.actor,
        action: row.action,
        resource: row.resource,
        result: row.result,
        details: JSON.parse(row.details_text) as JsonObject,
        prevHash: row.prev_hash,
      });
      if (recomputed !== row.hash) return broken(checked, id, 'hash does not match the entry content');
      expectedId = id + 1;
      expectedPrev = row.hash;
    }
    cursor = expectedId;
  }
  if (checked < limit && headId > 0 && fromId <= headId) {
    if (expectedId <= headId) return broken(checked, expectedId, `entries ${expectedId}..${headId} are missing (the chain head is ${headId})`);
    if (expectedPrev !== headHash) return broken(checked, headId, 'the last entry does not match the chain head');
  }
  return { ok: true, checked };
}

function broken(checked: number, brokenAt: number, reason: string): VerifyResult {
  return { ok: false, checked, brokenAt, reason };
}
