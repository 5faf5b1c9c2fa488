// PostgreSQL errors the store turns into MetadataError codes: constraint violations
// (SQLSTATE 23505 unique_violation, 23503 foreign_key_violation; Appendix A) and the
// refusals of the server-side functions (FG001, migrations/007_write_paths.sql).
import { pgErrorCode, prepared, type Queryable } from '../db.ts';
import { MetadataError, type MetadataErrorCode } from '../types.ts';

function constraintOf(err: unknown): string | undefined {
  const c = err && typeof err === 'object' && 'constraint' in err ? (err as { constraint: unknown }).constraint : undefined;
  return typeof c === 'string' ? c : undefined;
}

/** A unique violation, optionally of one named constraint. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  return pgErrorCode(err) === '23505' && (constraint === undefined || constraintOf(err) === constraint);
}

/** A foreign-key violation, optionally of one named constraint. */
export function isForeignKeyViolation(err: unknown, constraint?: string): boolean {
  return pgErrorCode(err) === '23503' && (constraint === undefined || constraintOf(err) === constraint);
}

/**
 * Call a server-side function of migrations/007 or later with a jsonb argument (and `more`
 * plain ones after it) and return its jsonb result. Its refusals (SQLSTATE FG001, the
 * MetadataError code in DETAIL) come back as MetadataError. One statement: atomic on its own,
 * or part of `q`'s transaction.
 */
export async function callFunction<T>(q: Queryable, name: string, arg: unknown, more: unknown[] = []): Promise<T> {
  try {
    const params = ['$1::jsonb', ...more.map((_, i) => `$${i + 2}`)].join(', ');
    const r = await q.query<{ r: T }>(prepared(name, `SELECT ${name}(${params}) AS r`), [JSON.stringify(arg), ...more]);
    return r.rows[0].r;
  } catch (err) {
    throw asMetadataError(err) ?? err;
  }
}

/** A refusal raised by fedgate_fail() as the MetadataError it stands for. */
export function asMetadataError(err: unknown): MetadataError | null {
  if (pgErrorCode(err) !== 'FG001') return null;
  const e = err as { detail?: string; hint?: string; message: string };
  const condition = e.hint === 'If-None-Match' || e.hint === 'If-Match' ? e.hint : undefined;
  return new MetadataError((e.detail ?? 'NotFound') as MetadataErrorCode, e.message, condition);
}
