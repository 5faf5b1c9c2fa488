// The S3 XML surface: one encoder per response document, one size-limited
// decoder per request document.
export { S3_NAMESPACE, XML_DECLARATION, escapeXml, s3UrlEncode } from './escape.ts';
export type { Owner } from './encode-common.ts';
export { encodeListAllMyBuckets, encodeLocationConstraint, encodeVersioningConfiguration } from './encode-buckets.ts';
export type { ListBucketsInput } from './encode-buckets.ts';
export { encodeListObjectsV1, encodeListObjectsV2, encodeListVersions } from './encode-list-objects.ts';
export type { ListObjectsV1Input, ListObjectsV2Input, ListVersionsInput, VersionEntry } from './encode-list-objects.ts';
export {
  encodeCompleteMultipartUpload,
  encodeInitiateMultipartUpload,
  encodeListMultipartUploads,
  encodeListParts,
} from './encode-multipart.ts';
export type { CompleteMultipartUploadInput, ListMultipartUploadsInput, ListPartsInput, UploadEntry } from './encode-multipart.ts';
export { encodeCopyObjectResult, encodeCopyPartResult, encodeDeleteResult, encodeObjectAttributes } from './encode-objects.ts';
export type { CopyResultInput, DeleteErrorEntry, DeletedEntry, ObjectAttributesInput } from './encode-objects.ts';
export {
  MAX_COMPLETE_PARTS,
  MAX_DELETE_OBJECTS,
  XML_BODY_LIMITS,
  decodeCompleteMultipartUpload,
  decodeCreateBucketConfiguration,
  decodeDelete,
  decodeVersioningConfiguration,
  unquoteEtag,
} from './decode.ts';
export type { CompletePartRequest, CreateBucketConfiguration, DeleteRequest, VersioningRequest } from './decode.ts';
export { XmlSyntaxError, parseXmlDocument } from '../../shared/xml/parse.ts';
export type { XmlElement } from '../../shared/xml/parse.ts';
