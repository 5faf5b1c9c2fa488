// Operation → handler. The router already decided the operation; nothing here
// looks at the URL again (house rule 1).
import type { GatewayContext } from '../context.ts';
import type { Handler, HandlerResult, S3Request } from '../http-types.ts';
import { S3Error } from '../s3-errors.ts';
import { createBucket, deleteBucket, getBucketLocation, getBucketVersioning, headBucket, listBuckets } from './buckets.ts';
import { putObject } from './put-object.ts';
import { deleteBucketTagging, deleteObjectTagging, getBucketTagging, getObjectTagging, putBucketTagging, putObjectTagging } from './tagging.ts';
import { deleteBucketCors, getBucketCors, putBucketCors } from './cors.ts';
import { getBucketAcl, getBucketOwnershipControls, getObjectAcl, putBucketAcl, putObjectAcl } from './acl.ts';
import { putBucketVersioning } from './versioning.ts';
import { listObjectVersions } from './list-object-versions.ts';
import { getObject, headObject } from './get-object.ts';
import { deleteObject, deleteObjects } from './delete-objects.ts';
import { listObjectsV1, listObjectsV2 } from './list-objects.ts';
import { copyObject } from './copy-object.ts';
import { getObjectAttributes } from './object-attributes.ts';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, listMultipartUploads, listParts, uploadPart, uploadPartCopy } from './multipart.ts';

const HANDLERS: Partial<Record<string, Handler>> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  HeadBucket: headBucket,
  DeleteBucket: deleteBucket,
  GetBucketLocation: getBucketLocation,
  GetBucketVersioning: getBucketVersioning,
  PutBucketVersioning: putBucketVersioning,
  ListObjectVersions: listObjectVersions,
  PutObject: putObject,
  GetObjectTagging: getObjectTagging,
  GetObjectAttributes: getObjectAttributes,
  PutObjectTagging: putObjectTagging,
  DeleteObjectTagging: deleteObjectTagging,
  GetBucketTagging: getBucketTagging,
  PutBucketTagging: putBucketTagging,
  DeleteBucketTagging: deleteBucketTagging,
  GetBucketCors: getBucketCors,
  PutBucketCors: putBucketCors,
  DeleteBucketCors: deleteBucketCors,
  GetBucketAcl: getBucketAcl,
  PutBucketAcl: putBucketAcl,
  GetObjectAcl: getObjectAcl,
  PutObjectAcl: putObjectAcl,
  GetBucketOwnershipControls: getBucketOwnershipControls,
  GetObject: getObject,
  HeadObject: headObject,
  DeleteObject: deleteObject,
  DeleteObjects: deleteObjects,
  ListObjectsV2: listObjectsV2,
  ListObjects: listObjectsV1,
  CopyObject: copyObject,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  UploadPartCopy: uploadPartCopy,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
  ListParts: listParts,
  ListMultipartUploads: listMultipartUploads,
};

export function dispatch(ctx: GatewayContext, req: S3Request): Promise<HandlerResult> {
  const h = HANDLERS[req.op.kind];
  if (!h) throw new S3Error('NotImplemented', `${req.op.kind} is not implemented by Fedgate`);
  return h(ctx, req);
}
