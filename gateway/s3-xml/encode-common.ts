// Building blocks shared by the response encoders: S3's formats for dates,
// ETags, owners and checksum fields, written with a plain escaping writer.
//
// Why not fast-xml-parser's XMLBuilder: measured on a 1000-entry
// ListBucketResult (Node 24), this writer takes ~1.5 ms per page against ~5.5 ms
// for XMLBuilder, and XMLBuilder cannot write the `&#x..;` references S3 uses
// for characters XML 1.0 forbids.
import type { ChecksumSet, ChecksumType } from '../../metadata/types.ts';
import { S3_NAMESPACE, XML_DECLARATION, element, escapeXml, s3UrlEncode } from './escape.ts';

export interface Owner {
  id: string;
  displayName: string;
}

/** `<?xml …?>` + `<Root xmlns="…">` + body + `</Root>`. */
export function document(root: string, body: string): string {
  return `${XML_DECLARATION}<${root} xmlns="${S3_NAMESPACE}">${body}</${root}>`;
}

/** ISO 8601 with milliseconds, as S3 writes timestamps in XML (2026-01-01T00:00:00.000Z). */
export function isoDate(d: Date): string {
  return d.toISOString();
}

function unquoted(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

/**
 * `<ETag>&quot;…&quot;</ETag>`: ETags are quoted in XML as in the ETag header,
 * and S3 writes the quotes as entities. An already quoted ETag is not re-quoted.
 */
export function etagXml(etag: string): string {
  return `<ETag>&quot;${escapeXml(unquoted(etag))}&quot;</ETag>`;
}

export function optional(name: string, value: string | null | undefined): string {
  return value === undefined || value === null ? '' : element(name, value);
}

export function bool(name: string, value: boolean): string {
  return `<${name}>${value ? 'true' : 'false'}</${name}>`;
}

export function num(name: string, value: number): string {
  return `<${name}>${String(value)}</${name}>`;
}

export function ownerXml(name: 'Owner' | 'Initiator', owner: Owner): string {
  return `<${name}>${element('ID', owner.id)}${element('DisplayName', owner.displayName)}</${name}>`;
}

const CHECKSUM_ORDER = [
  ['CRC32', 'ChecksumCRC32'],
  ['CRC32C', 'ChecksumCRC32C'],
  ['CRC64NVME', 'ChecksumCRC64NVME'],
  ['SHA1', 'ChecksumSHA1'],
  ['SHA256', 'ChecksumSHA256'],
] as const;

/** `<ChecksumCRC32>…</ChecksumCRC32>…` for each value present, then `<ChecksumType>` if given. */
export function checksumsXml(checksums: ChecksumSet | undefined, type?: ChecksumType | null): string {
  let out = '';
  if (checksums) {
    for (const [algorithm, elName] of CHECKSUM_ORDER) {
      const value = checksums[algorithm];
      if (value !== undefined) out += element(elName, value);
    }
  }
  return out + optional('ChecksumType', type);
}

/** With encoding-type=url, the key-like fields go out URL-encoded; otherwise verbatim. */
export function keyField(name: string, value: string, urlEncode: boolean): string {
  return element(name, urlEncode ? s3UrlEncode(value) : value);
}

export function optionalKeyField(name: string, value: string | null | undefined, urlEncode: boolean): string {
  return value === undefined || value === null ? '' : keyField(name, value, urlEncode);
}

export function commonPrefixesXml(prefixes: readonly string[], urlEncode: boolean): string {
  let out = '';
  for (const p of prefixes) out += `<CommonPrefixes>${keyField('Prefix', p, urlEncode)}</CommonPrefixes>`;
  return out;
}

export { element, escapeXml };
