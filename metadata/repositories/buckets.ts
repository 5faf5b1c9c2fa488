// Logical buckets of a tenant and their physical bucket on each backend.
import type pg from 'pg';
import { prepared, withTransaction, type Queryable } from '../db.ts';
import { MetadataError, type BucketBackendRow, type BucketRow } from '../types.ts';
import { appendChange } from './changelog.ts';
import { isForeignKeyViolation, isUniqueViolation } from './pg-errors.ts';

export interface BucketDbRow {
  id: string;
  tenant_id: string;
  name: string;
  region: string;
  versioning: BucketRow['versioning'];
  created_at: Date;
}

const BUCKET_COLUMNS = 'id, tenant_id, name, region, versioning, created_at';

export const toBucket = (r: BucketDbRow): BucketRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  region: r.region,
  versioning: r.versioning,
  createdAt: r.created_at,
});

interface BucketBackendDbRow {
  bucket_id: string;
  backend_id: string;
  physical_name: string;
}

const toBucketBackend = (r: BucketBackendDbRow): BucketBackendRow => ({ bucketId: r.bucket_id, backendId: r.backend_id, physicalName: r.physical_name });

export async function createBucket(
  pool: pg.Pool,
  input: { tenantId: string; name: string; region: string; physical: { backendId: string; physicalName: string }[] },
): Promise<BucketRow> {
  try {
    return await withTransaction(pool, async (tx) => {
      const r = await tx.query<BucketDbRow>(`INSERT INTO buckets (tenant_id, name, region) VALUES ($1, $2, $3) RETURNING ${BUCKET_COLUMNS}`, [
        input.tenantId,
        input.name,
        input.region,
      ]);
      const bucket = toBucket(r.rows[0]);
      if (input.physical.length > 0) {
        await tx.query(
          `INSERT INTO bucket_backends (bucket_id, backend_id, physical_name)
           SELECT $1, t.backend_id, t.physical_name FROM unnest($2::uuid[], $3::text[]) AS t(backend_id, physical_name)`,
          [bucket.id, input.physical.map((p) => p.backendId), input.physical.map((p) => p.physicalName)],
        );
      }
      await appendChange(tx, 'bucket', 'create', {
        id: bucket.id,
        tenantId: input.tenantId,
        name: input.name,
        region: input.region,
        physical: input.physical,
      });
      return bucket;
    });
  } catch (err) {
    // Names are per tenant (PRODUCT.md §1.3), so a clash is always with the caller's own bucket.
    if (isUniqueViolation(err, 'buckets_tenant_name_key')) throw new MetadataError('BucketAlreadyOwnedByYou', `bucket ${input.name} already exists`);
    if (isForeignKeyViolation(err)) throw new MetadataError('NotFound', 'the tenant or a backend does not exist');
    throw err;
  }
}

const GET_BUCKET = prepared('fedgate_get_bucket', `SELECT ${BUCKET_COLUMNS} FROM buckets WHERE tenant_id = $1 AND name = $2`);

export async function getBucket(q: Queryable, tenantId: string, name: string): Promise<BucketRow | null> {
  const r = await q.query<BucketDbRow>(GET_BUCKET, [tenantId, name]);
  return r.rows[0] ? toBucket(r.rows[0]) : null;
}

export async function listBuckets(q: Queryable, tenantId: string): Promise<BucketRow[]> {
  const r = await q.query<BucketDbRow>(`SELECT ${BUCKET_COLUMNS} FROM buckets WHERE tenant_id = $1 ORDER BY name`, [tenantId]);
  return r.rows.map(toBucket);
}

export async function getBucketBackends(q: Queryable, bucketId: string): Promise<BucketBackendRow[]> {
  const r = await q.query<BucketBackendDbRow>('SELECT bucket_id, backend_id, physical_name FROM bucket_backends WHERE bucket_id = $1 ORDER BY backend_id', [
    bucketId,
  ]);
  return r.rows.map(toBucketBackend);
}

export async function addBucketBackend(pool: pg.Pool, bucketId: string, backendId: string, physicalName: string): Promise<void> {
  try {
    await withTransaction(pool, async (tx) => {
      const r = await tx.query(
        'INSERT INTO bucket_backends (bucket_id, backend_id, physical_name) VALUES ($1, $2, $3) ON CONFLICT (bucket_id, backend_id) DO NOTHING',
        [bucketId, backendId, physicalName],
      );
      // Idempotent: a repeated call changes nothing, so it logs nothing.
      if (r.rowCount) await appendChange(tx, 'bucket', 'add-backend', { id: bucketId, backendId, physicalName });
    });
  } catch (err) {
    if (isForeignKeyViolation(err)) throw new MetadataError('NotFound', 'the bucket or the backend does not exist');
    throw err;
  }
}

export async function deleteBucket(pool: pg.Pool, bucketId: string): Promise<BucketBackendRow[]> {
  return withTransaction(pool, async (tx) => {
    // FOR UPDATE waits for writers holding FOR KEY SHARE (versions.ts lockBucketForWrite);
    // the checks below then see everything they committed.
    const b = await tx.query<{ name: string; tenant_id: string }>('SELECT name, tenant_id FROM buckets WHERE id = $1 FOR UPDATE', [bucketId]);
    if (b.rows.length === 0) throw new MetadataError('NoSuchBucket', `bucket ${bucketId} does not exist`);
    const busy = await tx.query(
      `SELECT 1 WHERE EXISTS (SELECT 1 FROM object_versions WHERE bucket_id = $1)
                    OR EXISTS (SELECT 1 FROM multipart_uploads WHERE bucket_id = $1)`,
      [bucketId],
    );
    if (busy.rows.length > 0) throw new MetadataError('BucketNotEmpty', 'the bucket holds objects, versions or multipart uploads');
    const physical = await tx.query<BucketBackendDbRow>('DELETE FROM bucket_backends WHERE bucket_id = $1 RETURNING bucket_id, backend_id, physical_name', [bucketId]);
    // No versions remain, so no head rows should either; clear any so the FK cannot block.
    await tx.query('DELETE FROM objects WHERE bucket_id = $1', [bucketId]);
    await tx.query('DELETE FROM buckets WHERE id = $1', [bucketId]);
    await appendChange(tx, 'bucket', 'delete', { id: bucketId, tenantId: b.rows[0].tenant_id, name: b.rows[0].name });
    return physical.rows.map(toBucketBackend).sort((x, y) => (x.backendId < y.backendId ? -1 : 1));
  });
}

/**
 * PutBucketVersioning. Once enabled, a bucket can only be Enabled or Suspended
 * (S3 User Guide, "Using versioning in S3 buckets"); existing versions are untouched.
 * Writes in flight keep the state they read (FOR KEY SHARE does not block this
 * update), which S3 also allows: the change takes effect for later requests.
 */
export async function setBucketVersioning(pool: pg.Pool, bucketId: string, status: 'Enabled' | 'Suspended'): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const r = await tx.query<{ versioning: string }>('SELECT versioning FROM buckets WHERE id = $1 FOR NO KEY UPDATE', [bucketId]);
    if (r.rows.length === 0) throw new MetadataError('NoSuchBucket', `bucket ${bucketId} does not exist`);
    if (r.rows[0].versioning === status) return;
    await tx.query('UPDATE buckets SET versioning = $2 WHERE id = $1', [bucketId, status]);
    await appendChange(tx, 'bucket', 'versioning', { id: bucketId, from: r.rows[0].versioning, to: status });
  });
}
