// The append-only changelog (PRODUCT.md §2): one row per metadata change, written
// with the same Queryable — hence in the same transaction — as the change itself.
// `data` identifies what changed; it never carries secrets (sealed or not).
import type { Queryable } from '../db.ts';

export type ChangeEntity = 'tenant' | 'access_key' | 'backend' | 'bucket' | 'chunk' | 'blob' | 'object' | 'upload';

export async function appendChange(q: Queryable, entity: ChangeEntity, action: string, data: Record<string, unknown>): Promise<void> {
  await q.query('INSERT INTO changelog (entity, action, data) VALUES ($1, $2, $3)', [entity, action, JSON.stringify(data)]);
}
