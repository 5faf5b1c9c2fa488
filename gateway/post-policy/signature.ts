// The SigV4 POST signature (API/sigv4-authentication-HTTPPOST.html): the string to
// sign is the base64 policy itself, signed with the same derived signing key as a
// header-signed request: HMAC-SHA256(kSigning(secret, date, region), policy), hex.
// The SigV2 form (API/HTTPPOSTForms.html, "Constructing a signature") signs the same base64
// policy with the secret itself: base64(HMAC-SHA1(secret, policy)), in the `signature` field.
import { sigV2SignatureMatches } from '../sigv4/sigv2-presigned.ts';
import { ALGORITHM, SERVICE, TERMINAL, deriveSigningKey, signHex, signaturesEqual } from '../sigv4/signing.ts';
import { S3Error } from '../s3-errors.ts';

export interface PostCredential {
  accessKeyId: string;
  date: string;
  region: string;
}

/** `AKID/YYYYMMDD/region/s3/aws4_request` from the x-amz-credential field. */
export function parsePostCredential(value: string | undefined): PostCredential {
  const parts = (value ?? '').split('/');
  if (parts.length !== 5 || parts[0] === '' || !/^\d{8}$/.test(parts[1]) || parts[2] === '' || parts[3] !== SERVICE || parts[4] !== TERMINAL) {
    throw new S3Error('InvalidArgument', 'Invalid argument: x-amz-credential', { ArgumentName: 'x-amz-credential', ArgumentValue: value ?? '' });
  }
  return { accessKeyId: parts[0], date: parts[1], region: parts[2] };
}

export function checkPostAlgorithm(value: string | undefined): void {
  if (value !== ALGORITHM) {
    throw new S3Error('InvalidArgument', 'Invalid argument: x-amz-algorithm', { ArgumentName: 'x-amz-algorithm', ArgumentValue: value ?? '' });
  }
}

export function postSignature(secret: string, cred: PostCredential, base64Policy: string): string {
  return signHex(deriveSigningKey(secret, cred.date, cred.region), base64Policy);
}

export function verifyPostSignature(secret: string, cred: PostCredential, base64Policy: string, provided: string): void {
  if (!signaturesEqual(postSignature(secret, cred, base64Policy), provided)) throw new S3Error('SignatureDoesNotMatch');
}

export function verifyPostSignatureV2(secret: string, base64Policy: string, provided: string): void {
  if (!sigV2SignatureMatches(secret, base64Policy, provided)) throw new S3Error('SignatureDoesNotMatch');
}
