// Tenants (the principals of PRODUCT.md §1.1) and their access keys.
import type pg from 'pg';
import { withTransaction, type Queryable } from '../db.ts';
import { MetadataError, type AccessKeyRow, type TenantRow } from '../types.ts';
import { appendChange } from './changelog.ts';
import { isForeignKeyViolation, isUniqueViolation } from './pg-errors.ts';

interface TenantDbRow {
  id: string;
  name: string;
  created_at: Date;
}

const toTenant = (r: TenantDbRow): TenantRow => ({ id: r.id, name: r.name, createdAt: r.created_at });

interface AccessKeyDbRow {
  access_key_id: string;
  tenant_id: string;
  tenant_name: string;
  secret_sealed: string;
  status: AccessKeyRow['status'];
  created_at: Date;
}

const toAccessKey = (r: AccessKeyDbRow): AccessKeyRow => ({
  accessKeyId: r.access_key_id,
  tenantId: r.tenant_id,
  tenantName: r.tenant_name,
  secretSealed: r.secret_sealed,
  status: r.status,
  createdAt: r.created_at,
});

const ACCESS_KEY_SELECT = `SELECT k.access_key_id, k.tenant_id, t.name AS tenant_name, k.secret_sealed, k.status, k.created_at
  FROM access_keys k JOIN tenants t ON t.id = k.tenant_id`;

export async function createTenant(pool: pg.Pool, name: string): Promise<TenantRow> {
  try {
    return await withTransaction(pool, async (tx) => {
      const r = await tx.query<TenantDbRow>('INSERT INTO tenants (name) VALUES ($1) RETURNING id, name, created_at', [name]);
      const row = toTenant(r.rows[0]);
      await appendChange(tx, 'tenant', 'create', { id: row.id, name });
      return row;
    });
  } catch (err) {
    if (isUniqueViolation(err, 'tenants_name_key')) throw new MetadataError('TenantExists', `tenant ${name} already exists`);
    throw err;
  }
}

export async function getTenantByName(q: Queryable, name: string): Promise<TenantRow | null> {
  const r = await q.query<TenantDbRow>('SELECT id, name, created_at FROM tenants WHERE name = $1', [name]);
  return r.rows[0] ? toTenant(r.rows[0]) : null;
}

export async function listTenants(q: Queryable): Promise<TenantRow[]> {
  const r = await q.query<TenantDbRow>('SELECT id, name, created_at FROM tenants ORDER BY name');
  return r.rows.map(toTenant);
}

export async function addAccessKey(pool: pg.Pool, tenantId: string, accessKeyId: string, secretSealed: string): Promise<AccessKeyRow> {
  try {
    return await withTransaction(pool, async (tx) => {
      await tx.query('INSERT INTO access_keys (access_key_id, tenant_id, secret_sealed) VALUES ($1, $2, $3)', [accessKeyId, tenantId, secretSealed]);
      const r = await tx.query<AccessKeyDbRow>(`${ACCESS_KEY_SELECT} WHERE k.access_key_id = $1`, [accessKeyId]);
      // The secret stays out of the changelog, sealed or not.
      await appendChange(tx, 'access_key', 'create', { accessKeyId, tenantId });
      return toAccessKey(r.rows[0]);
    });
  } catch (err) {
    if (isUniqueViolation(err, 'access_keys_pkey')) throw new MetadataError('AccessKeyExists', `access key ${accessKeyId} already exists`);
    if (isForeignKeyViolation(err)) throw new MetadataError('NotFound', `tenant ${tenantId} does not exist`);
    throw err;
  }
}

export async function getAccessKey(q: Queryable, accessKeyId: string): Promise<AccessKeyRow | null> {
  const r = await q.query<AccessKeyDbRow>(`${ACCESS_KEY_SELECT} WHERE k.access_key_id = $1`, [accessKeyId]);
  return r.rows[0] ? toAccessKey(r.rows[0]) : null;
}

export async function listAccessKeys(q: Queryable, tenantId: string): Promise<AccessKeyRow[]> {
  const r = await q.query<AccessKeyDbRow>(`${ACCESS_KEY_SELECT} WHERE k.tenant_id = $1 ORDER BY k.created_at, k.access_key_id`, [tenantId]);
  return r.rows.map(toAccessKey);
}

/** Sets a key active or inactive; null when `tenantId` has no such key. */
export async function setAccessKeyStatus(pool: pg.Pool, tenantId: string, accessKeyId: string, status: AccessKeyRow['status']): Promise<AccessKeyRow | null> {
  return withTransaction(pool, async (tx) => {
    const u = await tx.query('UPDATE access_keys SET status = $3 WHERE access_key_id = $1 AND tenant_id = $2', [accessKeyId, tenantId, status]);
    if (u.rowCount === 0) return null;
    await appendChange(tx, 'access_key', 'update', { accessKeyId, tenantId, status });
    const r = await tx.query<AccessKeyDbRow>(`${ACCESS_KEY_SELECT} WHERE k.access_key_id = $1`, [accessKeyId]);
    return toAccessKey(r.rows[0]);
  });
}

/** Deletes a key and its sealed secret; false when `tenantId` has no such key. */
export async function deleteAccessKey(pool: pg.Pool, tenantId: string, accessKeyId: string): Promise<boolean> {
  return withTransaction(pool, async (tx) => {
    const d = await tx.query('DELETE FROM access_keys WHERE access_key_id = $1 AND tenant_id = $2', [accessKeyId, tenantId]);
    if (d.rowCount === 0) return false;
    await appendChange(tx, 'access_key', 'delete', { accessKeyId, tenantId });
    return true;
  });
}
