// What the router produces: the S3 operation a request names, decided from the
// method, path, query and (for copies) one header, before any authorization.
import type { IncomingHttpHeaders } from 'node:http';

export type BucketOperationKind =
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'PutBucketVersioning'
  | 'ListObjectsV2'
  | 'ListObjects'
  | 'ListMultipartUploads'
  | 'DeleteObjects'
  | 'ListObjectVersions'
  | 'GetBucketTagging'
  | 'PutBucketTagging'
  | 'DeleteBucketTagging'
  | 'GetBucketCors'
  | 'PutBucketCors'
  | 'DeleteBucketCors'
  | 'GetBucketAcl'
  | 'PutBucketAcl'
  | 'GetBucketOwnershipControls'
  /** Browser form upload (RESTObjectPOST), authenticated by the form's policy signature. */
  | 'PostObject';

export type ObjectOperationKind =
  | 'PutObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'CopyObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'GetObjectTagging'
  | 'GetObjectAttributes'
  | 'PutObjectTagging'
  | 'DeleteObjectTagging'
  | 'GetObjectAcl'
  | 'PutObjectAcl';

export type Operation =
  | { kind: 'ListBuckets' }
  | { kind: BucketOperationKind; bucket: string }
  | { kind: ObjectOperationKind; bucket: string; key: string }
  /** Anonymous CORS preflight (RESTOPTIONSobject), answered from the bucket's CORS rules. */
  | { kind: 'PreflightRequest'; bucket: string; key?: string }
  /** A real S3 operation this gateway does not serve; `name` is its S3 API name (e.g. GetBucketAcl). */
  | { kind: 'NotImplemented'; name: string; bucket?: string; key?: string };

export interface RouterInput {
  method: string;
  /** Request path without the query, still percent-encoded. */
  rawPath: string;
  /** Query string without the leading '?'. */
  rawQuery: string;
  host: string | undefined;
  headers: IncomingHttpHeaders;
}

export interface RouterOptions {
  /** Base domain for virtual-hosted-style requests (`bucket.<domain>`); path-style only when unset. */
  domain?: string;
}
