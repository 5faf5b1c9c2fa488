// The `x-amz-copy-source` header of CopyObject and UploadPartCopy
// (API_CopyObject.html): `bucket/key` or `/bucket/key`, URL-encoded, with an
// optional `?versionId=…`. Access point and Outposts ARNs are not served.
import { S3Error } from '../s3-errors.ts';
import { validateObjectKey } from './validate.ts';

export interface CopySource {
  bucket: string;
  key: string;
  versionId?: string;
}

function invalid(value: string): S3Error {
  return new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', {
    ArgumentName: 'x-amz-copy-source',
    ArgumentValue: value,
  });
}

export function parseCopySource(header: string | string[] | undefined): CopySource {
  if (typeof header !== 'string') throw invalid(Array.isArray(header) ? header.join(',') : '');
  // A '?' inside the key arrives encoded as %3F, so the first raw '?' starts the query.
  const q = header.indexOf('?');
  const rawPath = q < 0 ? header : header.slice(0, q);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw invalid(header);
  }
  if (path.startsWith('arn:')) {
    throw new S3Error('NotImplemented', 'Copying from an access point or Outposts ARN is not implemented.');
  }
  if (path.startsWith('/')) path = path.slice(1);
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw invalid(header);
  const source: CopySource = { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
  validateObjectKey(source.key);
  if (q >= 0) {
    const versionId = new URLSearchParams(header.slice(q + 1)).get('versionId');
    if (versionId !== null) {
      if (versionId === '') throw invalid(header);
      source.versionId = versionId;
    }
  }
  return source;
}
