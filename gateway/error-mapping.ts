// Errors from below the gateway (SigV4 verifier, data plane, metadata authority)
// become catalogued S3 errors; anything unknown is an InternalError whose detail
// goes to the log only (house rule 2).
import { S3Error, S3_ERRORS } from './s3-errors.ts';
import { MetadataError } from '../metadata/types.ts';
import { isDatabaseUnreachable } from '../metadata/db.ts';

const METADATA_TO_S3: Record<string, string> = {
  NotFound: 'NoSuchKey',
  BackendHoldsSoleCopies: 'InvalidRequest',
};

export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  // PRODUCT.md §9: PostgreSQL unreachable → 503, which clients retry; the cause goes to the log.
  if (isDatabaseUnreachable(err)) return new S3Error('ServiceUnavailable');
  const code = err && typeof err === 'object' && 'code' in err ? (err as { code: unknown }).code : undefined;
  if (typeof code === 'string') {
    const mapped = METADATA_TO_S3[code] ?? code;
    if (mapped in S3_ERRORS) {
      // The metadata layer words its errors for operators (ids, table facts); a client gets
      // S3's own message for the code, as S3 would send it.
      // S3 names the header whose condition failed in a write's 412, as it does for reads.
      if (err instanceof MetadataError) return new S3Error(mapped, undefined, err.condition ? { Condition: err.condition } : undefined);
      const msg = (err as Error).message;
      return new S3Error(mapped, msg && msg !== code ? msg : undefined);
    }
  }
  return new S3Error('InternalError');
}
