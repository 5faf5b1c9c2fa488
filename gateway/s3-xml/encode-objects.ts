// Object-level response documents: CopyObject, UploadPartCopy, DeleteObjects.
import type { ChecksumSet, ChecksumType } from '../../metadata/types.ts';
import { checksumsXml, document, element, etagXml, isoDate, optional } from './encode-common.ts';

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
