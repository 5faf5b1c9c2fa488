// Bucket-level response documents: ListBuckets, GetBucketLocation, GetBucketVersioning.
import type { BucketRow, Versioning } from '../../metadata/types.ts';
import { S3_NAMESPACE, XML_DECLARATION } from './escape.ts';
import { document, element, escapeXml, isoDate, optional, ownerXml } from './encode-common.ts';
import type { Owner } from './encode-common.ts';

export interface ListBucketsInput {
  owner: Owner;
  buckets: readonly Pick<BucketRow, 'name' | 'createdAt' | 'region'>[];
  /** Present only when the request paginated (max-buckets) and more remain. */
  continuationToken?: string | null;
  /** Echo of the request's prefix, if any. */
  prefix?: string | null;
}

/** ListAllMyBucketsResult (API_ListBuckets.html). */
export function encodeListAllMyBuckets(input: ListBucketsInput): string {
  let buckets = '';
  for (const b of input.buckets) {
    buckets += `<Bucket>${element('Name', b.name)}${element('CreationDate', isoDate(b.createdAt))}${element('BucketRegion', b.region)}</Bucket>`;
  }
  return document(
    'ListAllMyBucketsResult',
    ownerXml('Owner', input.owner) +
      `<Buckets>${buckets}</Buckets>` +
      optional('ContinuationToken', input.continuationToken) +
      optional('Prefix', input.prefix),
  );
}

/**
 * LocationConstraint (API_GetBucketLocation.html). S3 answers an empty element for
 * us-east-1 ("Buckets in Region us-east-1 have a LocationConstraint of null").
 */
export function encodeLocationConstraint(region: string): string {
  const root = `LocationConstraint xmlns="${S3_NAMESPACE}"`;
  if (region === '' || region === 'us-east-1') return `${XML_DECLARATION}<${root}/>`;
  return `${XML_DECLARATION}<${root}>${escapeXml(region)}</LocationConstraint>`;
}

/**
 * VersioningConfiguration (API_GetBucketVersioning.html): a bucket that never had
 * versioning enabled answers the element without a Status.
 */
export function encodeVersioningConfiguration(status: Versioning): string {
  return document('VersioningConfiguration', status === 'Unversioned' ? '' : element('Status', status));
}
