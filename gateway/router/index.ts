// The S3 request router: parse first (this module), then authorize (the caller).
export type { BucketOperationKind, ObjectOperationKind, Operation, RouterInput, RouterOptions } from './types.ts';
export { bucketFromHost, parseOperation } from './parse.ts';
export { MAX_KEY_BYTES, validateBucketName, validateObjectKey } from './validate.ts';
export { parseCopySource } from './copy-source.ts';
export type { CopySource } from './copy-source.ts';
export { SUBRESOURCES } from './subresources.ts';
