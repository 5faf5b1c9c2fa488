// S3 error codes used by tagging, CORS and POST Object that the shared catalog
// (gateway/s3-errors.ts, owned elsewhere) does not list yet. Status and wording as
// AWS answers them: InvalidTag and BadRequest from API_PutObjectTagging.html's
// error list, AccessForbidden from the CORS preflight responses (userguide/cors.html,
// "403 Forbidden ... CORSResponse"). They are S3Errors, so every path renders them.
import { S3Error } from './s3-errors.ts';

const EXTRA = {
  InvalidTag: 400,
  BadRequest: 400,
  AccessForbidden: 403,
  MalformedPOSTRequest: 400,
  InvalidPolicyDocument: 400,
  MaxPostPreDataLengthExceeded: 400,
} as const;

export type ExtraErrorCode = keyof typeof EXTRA;

export function extraError(code: ExtraErrorCode, message: string, extra?: Record<string, string>): S3Error {
  const e = new S3Error('InvalidRequest', message, extra);
  // The catalog's constructor only knows catalogued codes; these keep their own code and status.
  Object.defineProperty(e, 'code', { value: code, enumerable: true });
  Object.defineProperty(e, 'status', { value: EXTRA[code], enumerable: true });
  return e;
}
