// Object-level response documents: CopyObject, UploadPartCopy, DeleteObjects.
import type { ChecksumSet, ChecksumType } from '../../metadata/types.ts';
import { bool, checksumsXml, document, element, etagXml, isoDate, num, optional } from './encode-common.ts';

export interface CopyResultInput {
  /** Unquoted. */
  etag: string;
  lastModified: Date;
  checksums?: ChecksumSet;
  checksumType?: ChecksumType | null;
}

/** CopyObjectResult (API_CopyObject.html). */
export function encodeCopyObjectResult(input: CopyResultInput): string {
  return document(
    'CopyObjectResult',
    element('LastModified', isoDate(input.lastModified)) +
      etagXml(input.etag) +
      checksumsXml(input.checksums, input.checksumType),
  );
}

/** CopyPartResult (API_UploadPartCopy.html). */
export function encodeCopyPartResult(input: Omit<CopyResultInput, 'checksumType'>): string {
  return document(
    'CopyPartResult',
    element('LastModified', isoDate(input.lastModified)) +
      etagXml(input.etag) +
      checksumsXml(input.checksums),
  );
}

export interface DeletedEntry {
  key: string;
  versionId?: string | null;
  deleteMarker?: boolean;
  deleteMarkerVersionId?: string | null;
}

export interface DeleteErrorEntry {
  key: string;
  versionId?: string | null;
  code: string;
  message: string;
}

/**
 * DeleteResult (API_DeleteObjects.html). In quiet mode S3 lists only the errors;
 * the caller passes an empty `deleted` list then.
 */
export function encodeDeleteResult(input: { deleted: readonly DeletedEntry[]; errors: readonly DeleteErrorEntry[] }): string {
  let body = '';
  for (const d of input.deleted) {
    body +=
      '<Deleted>' +
      element('Key', d.key) +
      optional('VersionId', d.versionId) +
      (d.deleteMarker ? '<DeleteMarker>true</DeleteMarker>' : '') +
      optional('DeleteMarkerVersionId', d.deleteMarkerVersionId) +
      '</Deleted>';
  }
  for (const e of input.errors) {
    body +=
      '<Error>' +
      element('Key', e.key) +
      optional('VersionId', e.versionId) +
      element('Code', e.code) +
      element('Message', e.message) +
      '</Error>';
  }
  return document('DeleteResult', body);
}

export interface ObjectAttributesInput {
  /** Unquoted, as S3 writes it in this document. */
  etag?: string;
  checksum?: { checksums: ChecksumSet; type: ChecksumType } | null;
  objectParts?: {
    partsCount: number;
    partNumberMarker: number;
    nextPartNumberMarker: number;
    maxParts: number;
    isTruncated: boolean;
    /** null: not listed, only counted (S3 lists them only for an object with a composite checksum). */
    parts: readonly { partNumber: number; size: number; checksums: ChecksumSet }[] | null;
  } | null;
  storageClass?: string;
  objectSize?: number;
}

/** GetObjectAttributesResponse (API_GetObjectAttributes.html): only the attributes asked for. */
export function encodeObjectAttributes(input: ObjectAttributesInput): string {
  let body = '';
  if (input.etag !== undefined) body += element('ETag', input.etag);
  if (input.checksum) body += `<Checksum>${checksumsXml(input.checksum.checksums, input.checksum.type)}</Checksum>`;
  const op = input.objectParts;
  if (op) {
    const listing =
      op.parts === null
        ? ''
        : num('PartNumberMarker', op.partNumberMarker) +
          num('NextPartNumberMarker', op.nextPartNumberMarker) +
          num('MaxParts', op.maxParts) +
          bool('IsTruncated', op.isTruncated) +
          op.parts.map((p) => `<Part>${checksumsXml(p.checksums)}${num('PartNumber', p.partNumber)}${num('Size', p.size)}</Part>`).join('');
    body += `<ObjectParts>${listing}${num('PartsCount', op.partsCount)}</ObjectParts>`;
  }
  if (input.storageClass !== undefined) body += element('StorageClass', input.storageClass);
  if (input.objectSize !== undefined) body += num('ObjectSize', input.objectSize);
  return document('GetObjectAttributesResponse', body);
}
