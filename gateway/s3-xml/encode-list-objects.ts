// ListBucketResult (ListObjectsV2 and V1) and ListVersionsResult. With
// encoding-type=url, S3 URL-encodes exactly the fields its API reference names
// for each operation (the EncodingType member docs):
//   V2:        Delimiter, Prefix, Key, StartAfter
//   V1:        Delimiter, Marker, Prefix, NextMarker, Key
//   Versions:  KeyMarker, NextKeyMarker, Prefix, Key, Delimiter
// CommonPrefixes/Prefix is a Prefix and is encoded too.
import type { ObjectSummary } from '../../metadata/types.ts';
import {
  bool,
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

function contentsXml(objects: readonly ObjectSummary[], urlEncode: boolean, owner: Owner | undefined): string {
  let out = '';
  for (const o of objects) {
    out +=
      '<Contents>' +
      keyField('Key', o.key, urlEncode) +
      element('LastModified', isoDate(o.lastModified)) +
      etagXml(o.etag) +
      optional('ChecksumAlgorithm', o.checksumAlgorithm) +
      num('Size', o.size) +
      (owner ? ownerXml('Owner', owner) : '') +
      element('StorageClass', o.storageClass) +
      '</Contents>';
  }
  return out;
}

export interface ListObjectsV2Input {
  bucket: string;
  /** Echo of the request's prefix; S3 always writes the element ('' when none). */
  prefix?: string | null;
  delimiter?: string | null;
  maxKeys: number;
  encodingType?: 'url' | null;
  /** Echo of the request's continuation-token. */
  continuationToken?: string | null;
  nextContinuationToken?: string | null;
  startAfter?: string | null;
  isTruncated: boolean;
  contents: readonly ObjectSummary[];
  commonPrefixes: readonly string[];
  /** Set when the request asked fetch-owner=true: each Contents then carries Owner. */
  owner?: Owner | null;
}

/** ListBucketResult for ListObjectsV2 (API_ListObjectsV2.html); KeyCount = keys + common prefixes. */
export function encodeListObjectsV2(input: ListObjectsV2Input): string {
  const url = input.encodingType === 'url';
  return document(
    'ListBucketResult',
    element('Name', input.bucket) +
      keyField('Prefix', input.prefix ?? '', url) +
      optionalKeyField('Delimiter', input.delimiter, url) +
      num('MaxKeys', input.maxKeys) +
      num('KeyCount', input.contents.length + input.commonPrefixes.length) +
      bool('IsTruncated', input.isTruncated) +
      optional('EncodingType', input.encodingType) +
      optional('ContinuationToken', input.continuationToken) +
      optional('NextContinuationToken', input.nextContinuationToken) +
      optionalKeyField('StartAfter', input.startAfter, url) +
      contentsXml(input.contents, url, input.owner ?? undefined) +
      commonPrefixesXml(input.commonPrefixes, url),
  );
}

export interface ListObjectsV1Input {
  bucket: string;
  /** Echoes of the request; S3 always writes both elements ('' when none). */
  prefix?: string | null;
  marker?: string | null;
  delimiter?: string | null;
  maxKeys: number;
  encodingType?: 'url' | null;
  isTruncated: boolean;
  /** S3 returns NextMarker only when a delimiter was given and the list is truncated. */
  nextMarker?: string | null;
  contents: readonly ObjectSummary[];
  commonPrefixes: readonly string[];
  /** V1 always lists the owner of each object. */
  owner: Owner;
}

/** ListBucketResult for ListObjects (API_ListObjects.html). */
export function encodeListObjectsV1(input: ListObjectsV1Input): string {
  const url = input.encodingType === 'url';
  return document(
    'ListBucketResult',
    element('Name', input.bucket) +
      keyField('Prefix', input.prefix ?? '', url) +
      keyField('Marker', input.marker ?? '', url) +
      optionalKeyField('NextMarker', input.nextMarker, url) +
      num('MaxKeys', input.maxKeys) +
      optionalKeyField('Delimiter', input.delimiter, url) +
      bool('IsTruncated', input.isTruncated) +
      optional('EncodingType', input.encodingType) +
      contentsXml(input.contents, url, input.owner) +
      commonPrefixesXml(input.commonPrefixes, url),
  );
}

export interface VersionEntry {
  key: string;
  versionId: string;
  isLatest: boolean;
  lastModified: Date;
  deleteMarker: boolean;
  /** Unquoted; ignored for delete markers. */
  etag: string;
  size: number;
  storageClass: string;
}

export interface ListVersionsInput {
  bucket: string;
  /** Echoes of the request ('' when none). */
  prefix?: string | null;
  keyMarker?: string | null;
  versionIdMarker?: string | null;
  nextKeyMarker?: string | null;
  nextVersionIdMarker?: string | null;
  delimiter?: string | null;
  maxKeys: number;
  encodingType?: 'url' | null;
  isTruncated: boolean;
  /** Versions and delete markers, in S3's order (key, then newest first). */
  versions: readonly VersionEntry[];
  commonPrefixes: readonly string[];
  owner: Owner;
}

/** ListVersionsResult (API_ListObjectVersions.html): Version and DeleteMarker entries. */
export function encodeListVersions(input: ListVersionsInput): string {
  const url = input.encodingType === 'url';
  let entries = '';
  for (const v of input.versions) {
    const common =
      keyField('Key', v.key, url) +
      element('VersionId', v.versionId) +
      bool('IsLatest', v.isLatest) +
      element('LastModified', isoDate(v.lastModified));
    entries += v.deleteMarker
      ? `<DeleteMarker>${common}${ownerXml('Owner', input.owner)}</DeleteMarker>`
      : `<Version>${common}${etagXml(v.etag)}${num('Size', v.size)}${ownerXml('Owner', input.owner)}${element('StorageClass', v.storageClass)}</Version>`;
  }
  return document(
    'ListVersionsResult',
    element('Name', input.bucket) +
      keyField('Prefix', input.prefix ?? '', url) +
      keyField('KeyMarker', input.keyMarker ?? '', url) +
      element('VersionIdMarker', input.versionIdMarker ?? '') +
      optionalKeyField('NextKeyMarker', input.nextKeyMarker, url) +
      optional('NextVersionIdMarker', input.nextVersionIdMarker) +
      num('MaxKeys', input.maxKeys) +
      optionalKeyField('Delimiter', input.delimiter, url) +
      bool('IsTruncated', input.isTruncated) +
      optional('EncodingType', input.encodingType) +
      entries +
      commonPrefixesXml(input.commonPrefixes, url),
  );
}
