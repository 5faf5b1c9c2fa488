// GetObjectAttributes (API_GetObjectAttributes.html): an object's ETag, checksum, parts, storage
// class and size in one XML document, without its body. Only the attributes named in
// x-amz-object-attributes are returned. As S3 writes it: the ETag unquoted; a composite checksum
// without its "-N" suffix; ObjectParts only for a multipart object, listing the parts (with
// x-amz-max-parts / x-amz-part-number-marker) only when the object has a composite checksum, else
// just their count.
import type { Handler } from '../http-types.ts';
import * as xml from '../s3-xml/index.ts';
import { S3Error } from '../s3-errors.ts';
import { noSuchBucket } from './bucket-lookup.ts';
import { pageSizeValue, partNumberMarker } from './list-args.ts';
import { header } from './object-headers.ts';
import { readableVersion, versionHeader, versionIdParam } from './versioning.ts';

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
type Attribute = (typeof ATTRIBUTES)[number];

function wanted(raw: string | undefined): Set<Attribute> {
  const out = new Set<Attribute>();
  for (const name of (raw ?? '').split(',').map((s) => s.trim())) {
    if (name === '') continue;
    if (!(ATTRIBUTES as readonly string[]).includes(name)) {
      throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', { ArgumentName: 'x-amz-object-attributes', ArgumentValue: name });
    }
    out.add(name as Attribute);
  }
  if (out.size === 0) throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', { ArgumentName: 'x-amz-object-attributes', ArgumentValue: raw ?? '' });
  return out;
}

export const getObjectAttributes: Handler = async (ctx, req) => {
  if (req.op.kind !== 'GetObjectAttributes') throw new Error('unreachable');
  const attrs = wanted(header(req.headers, 'x-amz-object-attributes'));
  const maxParts = pageSizeValue(header(req.headers, 'x-amz-max-parts'), 'x-amz-max-parts');
  const marker = partNumberMarker(header(req.headers, 'x-amz-part-number-marker'), 'x-amz-part-number-marker');
  const versionId = versionIdParam(req);
  const read = await ctx.store.readObject(req.tenantId, req.op.bucket, req.op.key, versionId);
  if (!read) throw noSuchBucket(req.op.bucket);
  const v = readableVersion(read.version, req.op.key, versionId, req.method);

  const doc: xml.ObjectAttributesInput = {};
  if (attrs.has('ETag')) doc.etag = v.etag;
  if (attrs.has('Checksum') && v.checksum) {
    const value = v.checksum.type === 'COMPOSITE' ? v.checksum.value.replace(/-\d+$/, '') : v.checksum.value;
    doc.checksum = { checksums: { [v.checksum.algorithm]: value }, type: v.checksum.type };
  }
  if (attrs.has('ObjectParts') && v.multipartParts !== null) {
    const algorithm = v.checksum?.type === 'COMPOSITE' ? v.checksum.algorithm : null;
    const after = v.parts.filter((p) => p.partNumber > marker);
    const page = after.slice(0, maxParts);
    doc.objectParts = {
      partsCount: v.multipartParts,
      partNumberMarker: marker,
      nextPartNumberMarker: page.length > 0 ? page[page.length - 1].partNumber : marker,
      maxParts,
      isTruncated: after.length > page.length,
      parts: algorithm === null ? null : page.map((p) => ({ partNumber: p.partNumber, size: p.size, checksums: { [algorithm]: p.checksums[algorithm] } })),
    };
  }
  if (attrs.has('StorageClass')) doc.storageClass = v.storageClass;
  if (attrs.has('ObjectSize')) doc.objectSize = v.size;
  return {
    status: 200,
    headers: { 'content-type': 'application/xml', 'last-modified': v.lastModified.toUTCString(), ...versionHeader(read.bucket.versioning, v.versionId) },
    body: xml.encodeObjectAttributes(doc),
  };
};

