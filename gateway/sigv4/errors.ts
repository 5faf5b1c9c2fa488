// The S3 errors SigV4 verification can answer with. Codes, statuses and messages are
// the ones S3 returns, from the error list in
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html and, where the
// list gives no text, the messages S3 is observed to send (the same ones S3-compatible
// servers that test against S3 reproduce, e.g. versitygw's s3err package).

export class SigV4Error extends Error {
  /** S3 error code, e.g. 'SignatureDoesNotMatch'. */
  readonly code: string;
  /** HTTP status S3 answers this code with. */
  readonly httpStatus: number;
  /** Extra elements S3 adds to the <Error> document (e.g. HeadersNotSigned, ServerTime). */
  readonly details: Readonly<Record<string, string>>;

  constructor(code: string, message: string, httpStatus: number, details: Record<string, string> = {}) {
    super(message);
    this.name = 'SigV4Error';
    this.code = code;
    this.httpStatus = httpStatus;
    this.details = details;
  }
}

/** Which authentication form failed: S3 words parsing errors differently for each. */
export type AuthForm = 'header' | 'query';

function malformed(form: AuthForm, text: string, details: Record<string, string> = {}): SigV4Error {
  // Header auth: AuthorizationHeaderMalformed; presigned URLs: AuthorizationQueryParametersError.
  return form === 'header'
    ? new SigV4Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${text}`, 400, details)
    : new SigV4Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${text}`, 400, details);
}

export const credentialMalformed = (form: AuthForm): SigV4Error =>
  malformed(form, 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');

export const credentialDateMalformed = (form: AuthForm, date: string): SigV4Error =>
  malformed(form, `incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`);

export const wrongRegion = (form: AuthForm, got: string, expected: string): SigV4Error =>
  malformed(form, `the region '${got}' is wrong; expecting '${expected}'`, { Region: expected });

export const wrongService = (form: AuthForm, got: string): SigV4Error =>
  malformed(form, `incorrect service "${got}". This endpoint belongs to "s3".`);

export const wrongTerminal = (form: AuthForm, got: string): SigV4Error =>
  malformed(form, `incorrect terminal "${got}". This endpoint uses "aws4_request".`);

export function credentialDateMismatch(form: AuthForm, scopeDate: string, amzDate: string): SigV4Error {
  return form === 'header'
    ? new SigV4Error('AuthorizationHeaderMalformed',
      'The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.', 400)
    : new SigV4Error('AuthorizationQueryParametersError',
      `Invalid credential date "${scopeDate}". This date is not the same as X-Amz-Date: "${amzDate}".`, 400);
}

export const authComponentsMissing = (): SigV4Error =>
  new SigV4Error('AuthorizationHeaderMalformed',
    'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.', 400);

export const authComponentMalformed = (component: string): SigV4Error =>
  new SigV4Error('AuthorizationHeaderMalformed',
    `The authorization header is malformed; the authorization component "${component}" is malformed.`, 400);

export const unsupportedAuthType = (value: string): SigV4Error =>
  new SigV4Error('InvalidArgument', 'Unsupported Authorization Type', 400,
    { ArgumentName: 'Authorization', ArgumentValue: value });

/** SigV2 and SigV4a: S3 regions launched after 2014 answer SigV2 this way. */
export const mechanismNotSupported = (): SigV4Error =>
  new SigV4Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.', 400);

export const multipleAuthMechanisms = (): SigV4Error =>
  new SigV4Error('InvalidArgument',
    'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    400, { ArgumentName: 'Authorization' });

export const queryParamsMissing = (): SigV4Error =>
  new SigV4Error('AuthorizationQueryParametersError',
    'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.', 400);

export const queryAlgorithmUnsupported = (): SigV4Error =>
  new SigV4Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"', 400);

export const queryDateMalformed = (): SigV4Error =>
  new SigV4Error('AuthorizationQueryParametersError', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"', 400);

export const expiresNotNumber = (): SigV4Error =>
  new SigV4Error('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number', 400);

export const expiresNegative = (): SigV4Error =>
  new SigV4Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be non-negative', 400);

export const expiresTooSmall = (): SigV4Error =>
  new SigV4Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be at least 1 second', 400);

export const expiresTooLarge = (): SigV4Error =>
  new SigV4Error('AuthorizationQueryParametersError',
    'X-Amz-Expires must be less than a week (in seconds) that is 604800', 400);

export const requestExpired = (expires: string, expiresAt: Date, now: Date): SigV4Error =>
  new SigV4Error('AccessDenied', 'Request has expired', 403,
    { 'X-Amz-Expires': expires, Expires: iso(expiresAt), ServerTime: iso(now) });

export const requestNotYetValid = (): SigV4Error => new SigV4Error('AccessDenied', 'Request is not valid yet', 403);

export const missingDate = (): SigV4Error =>
  new SigV4Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header', 403);

export const requestTimeTooSkewed = (requestTime: Date, now: Date, maxSkewMs: number): SigV4Error =>
  new SigV4Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', 403,
    { RequestTime: iso(requestTime), ServerTime: iso(now), MaxAllowedSkewMilliseconds: String(maxSkewMs) });

export const anonymousDenied = (): SigV4Error => new SigV4Error('AccessDenied', 'Access Denied', 403);

export const headersNotSigned = (names: readonly string[]): SigV4Error =>
  new SigV4Error('AccessDenied', 'There were headers present in the request which were not signed', 403,
    { HeadersNotSigned: names.join(', ') });

export const invalidAccessKeyId = (accessKeyId: string): SigV4Error =>
  new SigV4Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403,
    { AWSAccessKeyId: accessKeyId });

export const signatureDoesNotMatch = (details: Record<string, string> = {}): SigV4Error =>
  new SigV4Error('SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.', 403, details);

export const missingContentSha256 = (): SigV4Error =>
  new SigV4Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256', 400);

export const invalidContentSha256 = (value: string): SigV4Error =>
  new SigV4Error('InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    400, { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value });

export const invalidDecodedLength = (value: string): SigV4Error =>
  new SigV4Error('InvalidArgument', 'x-amz-decoded-content-length must be a non-negative integer.', 400,
    { ArgumentName: 'x-amz-decoded-content-length', ArgumentValue: value });

export const contentSha256Mismatch = (expected: string, computed: string): SigV4Error =>
  new SigV4Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", 400,
    { ClientComputedContentSHA256: expected, S3ComputedContentSHA256: computed });

export const incompleteBody = (): SigV4Error =>
  new SigV4Error('IncompleteBody', 'The request body terminated unexpectedly', 400);

export const decodedLengthMismatch = (): SigV4Error =>
  new SigV4Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header', 400);

export const invalidChunkSize = (chunk: number, size: number): SigV4Error =>
  new SigV4Error('InvalidChunkSizeError', 'Only the last chunk is allowed to have a size less than 8192 bytes', 400,
    { Chunk: String(chunk), BadChunkSize: String(size) });

export const malformedTrailer = (): SigV4Error =>
  new SigV4Error('MalformedTrailerError',
    'The request contained trailing data that was not well-formed or did not conform to our published schema.', 400);

export const trailerNotSupported = (): SigV4Error =>
  new SigV4Error('InvalidRequest', 'The value specified in the x-amz-trailer header is not supported', 400);

export const invalidTrailerValue = (header: string): SigV4Error =>
  new SigV4Error('InvalidRequest', `Value for ${header} trailing header is invalid.`, 400);

export const checksumBadDigest = (algorithm: string): SigV4Error =>
  new SigV4Error('BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`, 400);

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
