// Storage backends (PRODUCT.md §1.3): registration, health, and removal that never
// strands the last good copy of a chunk.
import type pg from 'pg';
import { withTransaction, type Queryable } from '../db.ts';
import { MetadataError, type BackendInput, type BackendRow } from '../types.ts';
import { appendChange } from './changelog.ts';
import { lockChunks, recountBlobs } from './chunk-refs.ts';
import { isUniqueViolation } from './pg-errors.ts';

interface BackendDbRow {
  id: string;
  name: string;
  type: BackendRow['type'];
  endpoint: string | null;
  path: string | null;
  region: string;
  jurisdiction: string;
  country: string;
  provider: string;
  credentials_sealed: string | null;
  state: BackendRow['state'];
  healthy: boolean;
  last_rtt_ms: number | null;
  last_error: string | null;
  last_checked_at: Date | null;
  created_at: Date;
}

const BACKEND_COLUMNS = `id, name, type, endpoint, path, region, jurisdiction, country, provider, credentials_sealed,
  state, healthy, last_rtt_ms, last_error, last_checked_at, created_at`;

const toBackend = (r: BackendDbRow): BackendRow => ({
  id: r.id,
  name: r.name,
  type: r.type,
  endpoint: r.endpoint,
  path: r.path,
  region: r.region,
  jurisdiction: r.jurisdiction,
  country: r.country,
  provider: r.provider,
  credentialsSealed: r.credentials_sealed,
  state: r.state,
  healthy: r.healthy,
  lastRttMs: r.last_rtt_ms,
  lastError: r.last_error,
  lastCheckedAt: r.last_checked_at,
  createdAt: r.created_at,
});

export async function createBackend(pool: pg.Pool, input: BackendInput): Promise<BackendRow> {
  try {
    return await withTransaction(pool, async (tx) => {
      const r = await tx.query<BackendDbRow>(
        `INSERT INTO backends (name, type, endpoint, path, region, jurisdiction, country, provider, credentials_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${BACKEND_COLUMNS}`,
        [input.name, input.type, input.endpoint, input.path, input.region, input.jurisdiction, input.country, input.provider, input.credentialsSealed],
      );
      const row = toBackend(r.rows[0]);
      await appendChange(tx, 'backend', 'create', {
        id: row.id,
        name: row.name,
        type: row.type,
        endpoint: row.endpoint,
        region: row.region,
        jurisdiction: row.jurisdiction,
        country: row.country,
        provider: row.provider,
      });
      return row;
    });
  } catch (err) {
    if (isUniqueViolation(err, 'backends_name_key')) throw new MetadataError('BackendExists', `backend ${input.name} already exists`);
    throw err;
  }
}

export async function listBackends(q: Queryable): Promise<BackendRow[]> {
  const r = await q.query<BackendDbRow>(`SELECT ${BACKEND_COLUMNS} FROM backends ORDER BY name`);
  return r.rows.map(toBackend);
}

export async function getBackendByName(q: Queryable, name: string): Promise<BackendRow | null> {
  const r = await q.query<BackendDbRow>(`SELECT ${BACKEND_COLUMNS} FROM backends WHERE name = $1`, [name]);
  return r.rows[0] ? toBackend(r.rows[0]) : null;
}

/**
 * Health probes run every few seconds per backend; logging each one would drown the
 * changelog, so only a change of the healthy flag is recorded there (that is the
 * health history operators care about). The latest RTT / error stay on the row.
 */
export async function recordBackendHealth(
  pool: pg.Pool,
  backendId: string,
  health: { healthy: boolean; rttMs: number | null; error: string | null },
): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const before = await tx.query<{ healthy: boolean }>('SELECT healthy FROM backends WHERE id = $1 FOR UPDATE', [backendId]);
    if (before.rows.length === 0) throw new MetadataError('NotFound', `backend ${backendId} does not exist`);
    await tx.query('UPDATE backends SET healthy = $2, last_rtt_ms = $3, last_error = $4, last_checked_at = now() WHERE id = $1', [
      backendId,
      health.healthy,
      health.rttMs === null ? null : Math.round(health.rttMs),
      health.error,
    ]);
    if (before.rows[0].healthy !== health.healthy) {
      await appendChange(tx, 'backend', health.healthy ? 'healthy' : 'unhealthy', { id: backendId, error: health.error });
    }
  });
}

export async function deleteBackend(pool: pg.Pool, backendId: string): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const b = await tx.query<{ name: string }>('SELECT name FROM backends WHERE id = $1 FOR UPDATE', [backendId]);
    if (b.rows.length === 0) throw new MetadataError('NotFound', `backend ${backendId} does not exist`);
    // Lock every chunk with a blob here before looking at its other copies: a blob state change
    // (a replica marked corrupt or missing, a repair) or a commit takes the same lock, so the
    // check below sees every one that finished first, and none can start until this one ends.
    // (No blob can be added here meanwhile: its foreign key waits for the lock on the backend row.)
    const chunkIds = await tx.query<{ chunk_id: string }>('SELECT chunk_id FROM blobs WHERE backend_id = $1 ORDER BY chunk_id', [backendId]);
    const ids = chunkIds.rows.map((r) => r.chunk_id);
    await lockChunks(tx, ids);
    // A referenced chunk whose only good copy lives here would be lost with it.
    // Unreferenced (garbage or still-being-written) chunks do not count.
    const sole = await tx.query<{ id: string }>(
      `SELECT c.id FROM blobs b JOIN chunks c ON c.id = b.chunk_id
        WHERE b.backend_id = $1 AND b.state = 'ok' AND c.unreferenced_since IS NULL
          AND NOT EXISTS (SELECT 1 FROM blobs o WHERE o.chunk_id = c.id AND o.backend_id <> $1 AND o.state = 'ok')
        LIMIT 1`,
      [backendId],
    );
    if (sole.rows.length > 0) {
      throw new MetadataError('BackendHoldsSoleCopies', `backend ${b.rows[0].name} holds the only good copy of chunk ${sole.rows[0].id}; drain it first`);
    }
    // blobs and bucket_backends go with the backend (ON DELETE CASCADE); the blob
    // counters of the chunks that lost a replica are recounted under their row locks.
    await tx.query('DELETE FROM backends WHERE id = $1', [backendId]);
    await recountBlobs(tx, ids);
    await appendChange(tx, 'backend', 'delete', { id: backendId, name: b.rows[0].name, blobsDropped: ids.length });
  });
}
