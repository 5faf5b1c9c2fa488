// Multipart upload response documents. ListMultipartUploads URL-encodes
// Delimiter, KeyMarker, Prefix, NextKeyMarker and Key under encoding-type=url
// (API_ListMultipartUploads.html, EncodingType).
import type { ChecksumAlgorithm, ChecksumSet, ChecksumType } from '../../metadata/types.ts';
import {
  bool,
  checksumsXml,
  commonPrefixesXml,
  document,
  element,
  isoDate,
  keyField,
  num,
  optional,
  optionalKeyField,
  ownerXml,
  etagXml,
} from './encode-common.ts';
import type { Owner } from './encode-common.ts';

/** InitiateMultipartUploadResult (API_CreateMultipartUpload.html). */
export function encodeInitiateMultipartUpload(input: { bucket: string; key: string; uploadId: string }): string {
  return document(
    'InitiateMultipartUploadResult',
    element('Bucket', input.bucket) + element('Key', input.key) + element('UploadId', input.uploadId),
  );
}

export interface CompleteMultipartUploadInput {
  /** URL of the new object, e.g. `http://host/bucket/key`. */
  location: string;
  bucket: string;
  key: string;
  /** Unquoted, `<md5-of-md5s>-<N>`. */
  etag: string;
  checksums?: ChecksumSet;
  checksumType?: ChecksumType | null;
}

/** CompleteMultipartUploadResult (API_CompleteMultipartUpload.html). */
export function encodeCompleteMultipartUpload(input: CompleteMultipartUploadInput): string {
  return document(
    'CompleteMultipartUploadResult',
    element('Location', input.location) +
      element('Bucket', input.bucket) +
      element('Key', input.key) +
      etagXml(input.etag) +
      checksumsXml(input.checksums, input.checksumType),
  );
}

export interface ListPartsInput {
  bucket: string;
  key: string;
  uploadId: string;
  partNumberMarker: number;
  nextPartNumberMarker?: number | null;
  maxParts: number;
  isTruncated: boolean;
  parts: readonly { partNumber: number; lastModified: Date; etag: string; size: number; checksums: ChecksumSet }[];
  owner: Owner;
  /** Defaults to the owner. */
  initiator?: Owner;
  storageClass: string;
  checksumAlgorithm?: ChecksumAlgorithm | null;
  checksumType?: ChecksumType | null;
}

/** ListPartsResult (API_ListParts.html). */
export function encodeListParts(input: ListPartsInput): string {
  let parts = '';
  for (const p of input.parts) {
    parts +=
      '<Part>' +
      num('PartNumber', p.partNumber) +
      element('LastModified', isoDate(p.lastModified)) +
      etagXml(p.etag) +
      num('Size', p.size) +
      checksumsXml(p.checksums) +
      '</Part>';
  }
  return document(
    'ListPartsResult',
    element('Bucket', input.bucket) +
      element('Key', input.key) +
      element('UploadId', input.uploadId) +
      num('PartNumberMarker', input.partNumberMarker) +
      (input.nextPartNumberMarker === undefined || input.nextPartNumberMarker === null
        ? ''
        : num('NextPartNumberMarker', input.nextPartNumberMarker)) +
      num('MaxParts', input.maxParts) +
      bool('IsTruncated', input.isTruncated) +
      parts +
      ownerXml('Initiator', input.initiator ?? input.owner) +
      ownerXml('Owner', input.owner) +
      element('StorageClass', input.storageClass) +
      optional('ChecksumAlgorithm', input.checksumAlgorithm) +
      optional('ChecksumType', input.checksumType),
  );
}

export interface UploadEntry {
  key: string;
  uploadId: string;
  initiated: Date;
  storageClass: string;
  checksumAlgorithm?: ChecksumAlgorithm | null;
  checksumType?: ChecksumType | null;
}

export interface ListMultipartUploadsInput {
  bucket: string;
  /** Echoes of the request; S3 always writes these elements ('' when absent). */
  keyMarker?: string | null;
  uploadIdMarker?: string | null;
  nextKeyMarker?: string | null;
  nextUploadIdMarker?: string | null;
  delimiter?: string | null;
  prefix?: string | null;
  maxUploads: number;
  isTruncated: boolean;
  encodingType?: 'url' | null;
  uploads: readonly UploadEntry[];
  commonPrefixes: readonly string[];
  /** Initiator and owner of every upload (the tenant). */
  owner: Owner;
}

/** ListMultipartUploadsResult (API_ListMultipartUploads.html). */
export function encodeListMultipartUploads(input: ListMultipartUploadsInput): string {
  const url = input.encodingType === 'url';
  let uploads = '';
  for (const u of input.uploads) {
    uploads +=
      '<Upload>' +
      keyField('Key', u.key, url) +
      element('UploadId', u.uploadId) +
      ownerXml('Initiator', input.owner) +
      ownerXml('Owner', input.owner) +
      element('StorageClass', u.storageClass) +
      element('Initiated', isoDate(u.initiated)) +
      optional('ChecksumAlgorithm', u.checksumAlgorithm) +
      optional('ChecksumType', u.checksumType) +
      '</Upload>';
  }
  return document(
    'ListMultipartUploadsResult',
    element('Bucket', input.bucket) +
      keyField('KeyMarker', input.keyMarker ?? '', url) +
      element('UploadIdMarker', input.uploadIdMarker ?? '') +
      optionalKeyField('NextKeyMarker', input.nextKeyMarker, url) +
      optional('NextUploadIdMarker', input.nextUploadIdMarker) +
      optionalKeyField('Delimiter', input.delimiter, url) +
      keyField('Prefix', input.prefix ?? '', url) +
      num('MaxUploads', input.maxUploads) +
      bool('IsTruncated', input.isTruncated) +
      optional('EncodingType', input.encodingType) +
      uploads +
      commonPrefixesXml(input.commonPrefixes, url),
  );
}
