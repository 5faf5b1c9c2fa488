// The S3 sub-resources (query parameters without meaningful values, like `?acl`)
// and the operation each names per method and target. Mirrors the keyword table
// of Garage's src/api/s3/router.rs and the request syntax in the S3 API reference.
import type { BucketOperationKind, ObjectOperationKind } from './types.ts';

/** A served operation, or the S3 name of one this gateway answers 501 for. */
export type Route = { implemented: BucketOperationKind | ObjectOperationKind } | { notImplemented: string };

type Table = Record<string, Route>;

const ni = (name: string): Route => ({ notImplemented: name });
const im = (kind: BucketOperationKind | ObjectOperationKind): Route => ({ implemented: kind });

export const SUBRESOURCES: ReadonlySet<string> = new Set([
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'delete', 'encryption', 'intelligent-tiering',
  'inventory', 'legal-hold', 'lifecycle', 'location', 'logging', 'metrics', 'notification', 'object-lock',
  'ownershipControls', 'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment',
  'restore', 'retention', 'select', 'tagging', 'torrent', 'uploads', 'versioning', 'versions', 'website',
]);

// Configurations addressed by `id`: with an id GET reads one, without it lists them.
const BY_ID: Record<string, string> = {
  analytics: 'BucketAnalyticsConfiguration',
  'intelligent-tiering': 'BucketIntelligentTieringConfiguration',
  inventory: 'BucketInventoryConfiguration',
  metrics: 'BucketMetricsConfiguration',
};

const BUCKET_GET: Table = {
  location: im('GetBucketLocation'),
  versioning: im('GetBucketVersioning'),
  uploads: im('ListMultipartUploads'),
  versions: im('ListObjectVersions'),
  accelerate: ni('GetBucketAccelerateConfiguration'),
  acl: im('GetBucketAcl'),
  cors: im('GetBucketCors'),
  encryption: ni('GetBucketEncryption'),
  lifecycle: ni('GetBucketLifecycleConfiguration'),
  logging: ni('GetBucketLogging'),
  notification: ni('GetBucketNotificationConfiguration'),
  'object-lock': ni('GetObjectLockConfiguration'),
  ownershipControls: im('GetBucketOwnershipControls'),
  policy: ni('GetBucketPolicy'),
  policyStatus: ni('GetBucketPolicyStatus'),
  publicAccessBlock: ni('GetPublicAccessBlock'),
  replication: ni('GetBucketReplication'),
  requestPayment: ni('GetBucketRequestPayment'),
  tagging: im('GetBucketTagging'),
  website: ni('GetBucketWebsite'),
};

const BUCKET_PUT: Table = {
  versioning: im('PutBucketVersioning'),
  accelerate: ni('PutBucketAccelerateConfiguration'),
  acl: im('PutBucketAcl'),
  analytics: ni('PutBucketAnalyticsConfiguration'),
  cors: im('PutBucketCors'),
  encryption: ni('PutBucketEncryption'),
  'intelligent-tiering': ni('PutBucketIntelligentTieringConfiguration'),
  inventory: ni('PutBucketInventoryConfiguration'),
  lifecycle: ni('PutBucketLifecycleConfiguration'),
  logging: ni('PutBucketLogging'),
  metrics: ni('PutBucketMetricsConfiguration'),
  notification: ni('PutBucketNotificationConfiguration'),
  'object-lock': ni('PutObjectLockConfiguration'),
  ownershipControls: ni('PutBucketOwnershipControls'),
  policy: ni('PutBucketPolicy'),
  publicAccessBlock: ni('PutPublicAccessBlock'),
  replication: ni('PutBucketReplication'),
  requestPayment: ni('PutBucketRequestPayment'),
  tagging: im('PutBucketTagging'),
  website: ni('PutBucketWebsite'),
};

const BUCKET_DELETE: Table = {
  analytics: ni('DeleteBucketAnalyticsConfiguration'),
  cors: im('DeleteBucketCors'),
  encryption: ni('DeleteBucketEncryption'),
  'intelligent-tiering': ni('DeleteBucketIntelligentTieringConfiguration'),
  inventory: ni('DeleteBucketInventoryConfiguration'),
  lifecycle: ni('DeleteBucketLifecycle'),
  metrics: ni('DeleteBucketMetricsConfiguration'),
  ownershipControls: ni('DeleteBucketOwnershipControls'),
  policy: ni('DeleteBucketPolicy'),
  publicAccessBlock: ni('DeletePublicAccessBlock'),
  replication: ni('DeleteBucketReplication'),
  tagging: im('DeleteBucketTagging'),
  website: ni('DeleteBucketWebsite'),
};

const BUCKET_POST: Table = {
  delete: im('DeleteObjects'),
};

const OBJECT_GET: Table = {
  acl: im('GetObjectAcl'),
  attributes: im('GetObjectAttributes'),
  'legal-hold': ni('GetObjectLegalHold'),
  retention: ni('GetObjectRetention'),
  tagging: im('GetObjectTagging'),
  torrent: ni('GetObjectTorrent'),
};

const OBJECT_PUT: Table = {
  acl: im('PutObjectAcl'),
  'legal-hold': ni('PutObjectLegalHold'),
  retention: ni('PutObjectRetention'),
  tagging: im('PutObjectTagging'),
};

const OBJECT_DELETE: Table = {
  tagging: im('DeleteObjectTagging'),
};

const OBJECT_POST: Table = {
  uploads: im('CreateMultipartUpload'),
  restore: ni('RestoreObject'),
  select: ni('SelectObjectContent'),
};

const TABLES: Record<string, { bucket: Table; object: Table }> = {
  GET: { bucket: BUCKET_GET, object: OBJECT_GET },
  PUT: { bucket: BUCKET_PUT, object: OBJECT_PUT },
  DELETE: { bucket: BUCKET_DELETE, object: OBJECT_DELETE },
  POST: { bucket: BUCKET_POST, object: OBJECT_POST },
};

/** The route for a sub-resource, or undefined when it does not exist for that method and target. */
export function subresourceRoute(method: string, target: 'bucket' | 'object', keyword: string, query: URLSearchParams): Route | undefined {
  if (method === 'GET' && target === 'bucket' && Object.hasOwn(BY_ID, keyword)) {
    return ni(query.has('id') ? `Get${BY_ID[keyword]}` : `List${BY_ID[keyword]}s`);
  }
  const table = TABLES[method]?.[target];
  return table && Object.hasOwn(table, keyword) ? table[keyword] : undefined;
}

/** The first sub-resource named in the query, in request order. */
export function findSubresource(query: URLSearchParams): string | undefined {
  for (const name of query.keys()) if (SUBRESOURCES.has(name)) return name;
  return undefined;
}
