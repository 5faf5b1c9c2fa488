// The S3 error catalog: every error code the gateway can answer, declared once,
// with AWS's HTTP status and default message. Source: the "List of error codes"
// in https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (also
// shipped in @aws-sdk/client-s3's model docs for `_Error.Code`). Codes AWS uses
// but leaves out of that list carry the message AWS actually sends, with the
// page that documents the status.
import { XML_DECLARATION, element, escapeXml } from './s3-xml/escape.ts';

export interface S3ErrorSpec {
  status: number;
  message: string;
}

export const S3_ERRORS = {
  AccessDenied: { status: 403, message: 'Access Denied' },
  // Object Ownership = BucketOwnerEnforced, S3's default since April 2023: a write that sets an
  // ACL other than private / bucket-owner-full-control (userguide/object-ownership-error-responses.html).
  AccessControlListNotSupported: { status: 400, message: 'The bucket does not allow ACLs' },
  AccountProblem: {
    status: 403,
    message:
      'There is a problem with your Amazon Web Services account that prevents the action from completing successfully. Contact Amazon Web Services Support for further assistance.',
  },
  AuthorizationHeaderMalformed: { status: 400, message: 'The authorization header you provided is invalid.' },
  // Not in the list; status and wording from AWS's SigV4 query-auth responses.
  AuthorizationQueryParametersError: {
    status: 400,
    message:
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
  },
  BadDigest: { status: 400, message: 'The Content-MD5 you specified did not match what we received.' },
  BucketAlreadyExists: {
    status: 409,
    message:
      'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
  },
  // The list's description differs from what S3 sends; this is the wire message (the text the
  // SDKs and the aws cli show for a CreateBucket of a name you own).
  BucketAlreadyOwnedByYou: { status: 409, message: 'Your previous request to create the named bucket succeeded and you already own it.' },
  // BucketNotEmpty, NoSuchBucket, InvalidAccessKeyId, SignatureDoesNotMatch: the wire message
  // (the doc list words them slightly differently), so every path that raises them agrees.
  BucketNotEmpty: { status: 409, message: 'The bucket you tried to delete is not empty' },
  // Conditional writes (userguide/conditional-writes.html, API_PutObject.html): 409 when
  // a concurrent write or delete wins the race while a conditional write is in flight.
  ConditionalRequestConflict: {
    status: 409,
    message:
      'A conflicting operation occurred. If using PutObject you can retry the request. If using multipart upload you should initiate another CreateMultipartUpload request and re-upload each part.',
  },
  EntityTooLarge: { status: 400, message: 'Your proposed upload exceeds the maximum allowed object size.' },
  EntityTooSmall: { status: 400, message: 'Your proposed upload is smaller than the minimum allowed object size.' },
  IllegalLocationConstraintException: {
    status: 400,
    message: 'The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.',
  },
  IllegalVersioningConfigurationException: {
    status: 400,
    message: 'Indicates that the versioning configuration specified in the request is invalid.',
  },
  IncompleteBody: {
    status: 400,
    message: 'You did not provide the number of bytes specified by the Content-Length HTTP header',
  },
  InternalError: { status: 500, message: 'We encountered an internal error. Please try again.' },
  InvalidAccessKeyId: { status: 403, message: 'The AWS Access Key Id you provided does not exist in our records.' },
  InvalidArgument: { status: 400, message: 'Invalid Argument' },
  // CreateBucket's answer to an ACL on a BucketOwnerEnforced bucket (same page as above), wire message.
  InvalidBucketAclWithObjectOwnership: { status: 400, message: "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting" },
  InvalidBucketName: { status: 400, message: 'The specified bucket is not valid.' },
  InvalidBucketState: { status: 409, message: 'The request is not valid with the current state of the bucket.' },
  InvalidDigest: { status: 400, message: 'The Content-MD5 you specified is not valid.' },
  InvalidLocationConstraint: { status: 400, message: 'The specified location constraint is not valid.' },
  InvalidObjectState: { status: 403, message: 'The action is not valid for the current state of the object.' },
  InvalidPart: {
    status: 400,
    message:
      "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
  },
  InvalidPartOrder: {
    status: 400,
    message: 'The list of parts was not in ascending order. Parts list must be specified in order by part number.',
  },
  // GetObject / HeadObject with a partNumber beyond the object's parts (API_GetObject.html).
  InvalidPartNumber: { status: 416, message: 'The requested partnumber is not satisfiable' },
  InvalidRange: { status: 416, message: 'The requested range cannot be satisfied.' },
  InvalidRequest: { status: 400, message: 'Invalid Request' },
  InvalidStorageClass: { status: 400, message: 'The storage class you specified is not valid.' },
  InvalidURI: { status: 400, message: "Couldn't parse the specified URI." },
  KeyTooLongError: { status: 400, message: 'Your key is too long.' },
  MalformedACLError: { status: 400, message: 'The XML you provided was not well-formed or did not validate against our published schema.' },
  MalformedXML: {
    status: 400,
    message: 'The XML you provided was not well-formed or did not validate against our published schema.',
  },
  MaxMessageLengthExceeded: { status: 400, message: 'Your request was too big.' },
  MetadataTooLarge: { status: 400, message: 'Your metadata headers exceed the maximum allowed metadata size.' },
  MethodNotAllowed: { status: 405, message: 'The specified method is not allowed against this resource.' },
  MissingContentLength: { status: 411, message: 'You must provide the Content-Length HTTP header.' },
  MissingRequestBodyError: { status: 400, message: 'Request body is empty.' },
  MissingSecurityHeader: { status: 400, message: 'Your request is missing a required header.' },
  NoSuchBucket: { status: 404, message: 'The specified bucket does not exist' },
  NoSuchBucketPolicy: { status: 404, message: 'The specified bucket does not have a bucket policy.' },
  NoSuchCORSConfiguration: { status: 404, message: 'The CORS configuration does not exist' },
  NoSuchKey: { status: 404, message: 'The specified key does not exist.' },
  NoSuchTagSet: { status: 404, message: 'The TagSet does not exist' },
  NoSuchUpload: {
    status: 404,
    message:
      'The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.',
  },
  NoSuchVersion: {
    status: 404,
    message: 'Indicates that the version ID specified in the request does not match an existing version.',
  },
  NotImplemented: { status: 501, message: 'A header you provided implies functionality that is not implemented.' },
  // RFC 9110 §15.4.5: a 304 carries no body; see errorHasBody().
  NotModified: { status: 304, message: 'Not Modified' },
  OperationAborted: {
    status: 409,
    message: 'A conflicting conditional action is currently in progress against this resource. Try again.',
  },
  // The wire message (conditional reads, copies and writes all send it).
  PreconditionFailed: { status: 412, message: 'At least one of the pre-conditions you specified did not hold' },
  RequestTimeout: {
    status: 400,
    message: 'Your socket connection to the server was not read from or written to within the timeout period.',
  },
  RequestTimeTooSkewed: {
    status: 403,
    message: "The difference between the request time and the server's time is too large.",
  },
  ServiceUnavailable: { status: 503, message: 'Service is unable to handle request.' },
  SignatureDoesNotMatch: {
    status: 403,
    message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  },
  SlowDown: { status: 503, message: 'Reduce your request rate.' },
  TooManyBuckets: { status: 400, message: 'You have attempted to create more buckets than allowed.' },
  // Not in the list; AWS's SigV4 payload check answers this (400) with this text.
  XAmzContentSHA256Mismatch: {
    status: 400,
    message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
  },
} as const satisfies Record<string, S3ErrorSpec>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

function isKnownCode(code: string): code is S3ErrorCode {
  return Object.hasOwn(S3_ERRORS, code);
}

/** An error that is answered to the client as an S3 `<Error>` document. */
export class S3Error extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra XML fields, e.g. { BucketName }, { Key }, { ArgumentName, ArgumentValue }. */
  readonly extra: Record<string, string>;

  /**
   * An unknown code never reaches a client as-is: it becomes InternalError
   * (with the default message, so internal wording does not leak) and the
   * original code and message are kept in `cause` for the logs.
   */
  constructor(code: S3ErrorCode | (string & {}), message?: string, extra?: Record<string, string>) {
    if (isKnownCode(code)) {
      const spec: S3ErrorSpec = S3_ERRORS[code];
      super(message ?? spec.message);
      this.code = code;
      this.status = spec.status;
      this.extra = { ...extra };
    } else {
      const spec: S3ErrorSpec = S3_ERRORS.InternalError;
      super(spec.message, { cause: { unknownCode: code, message } });
      this.code = 'InternalError';
      this.status = spec.status;
      this.extra = {};
    }
    this.name = 'S3Error';
  }
}

/** Whether a response for this error may carry a body: never for 304 (RFC 9110) nor for HEAD. */
export function errorHasBody(err: S3Error, method: string): boolean {
  return err.status !== 304 && method.toUpperCase() !== 'HEAD';
}

// Extra field names come from code, but an odd one must not yield broken XML.
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9]*$/;
const RESERVED_FIELDS = new Set(['Code', 'Message', 'Resource', 'RequestId']);

/** The REST error body (ErrorResponses.html, "REST error responses"); the root has no namespace. */
export function renderErrorXml(err: S3Error, resource: string, requestId: string): string {
  let body = XML_DECLARATION + '<Error>' + element('Code', err.code) + element('Message', err.message);
  for (const [name, value] of Object.entries(err.extra)) {
    if (FIELD_NAME.test(name) && !RESERVED_FIELDS.has(name)) body += `<${name}>${escapeXml(value)}</${name}>`;
  }
  return body + element('Resource', resource) + element('RequestId', requestId) + '</Error>';
}
