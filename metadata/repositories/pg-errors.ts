// PostgreSQL constraint violations the store turns into MetadataError codes
// (SQLSTATE 23505 unique_violation, 23503 foreign_key_violation; Appendix A).
import { pgErrorCode } from '../db.ts';

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
