// Arguments every S3 listing shares: a page size (max-keys / max-uploads / max-parts,
// capped at 1000 as S3 does), a part number marker, and encoding-type, whose only value is `url`.
import type { S3Request } from '../http-types.ts';
import { S3Error } from '../s3-errors.ts';

export function pageSize(req: S3Request, name: 'max-keys' | 'max-uploads' | 'max-parts'): number {
  return pageSizeValue(req.query.get(name), name);
}

/** A page size from a query parameter or a header (`x-amz-max-parts`): absent → 1000, larger values capped at 1000. */
export function pageSizeValue(raw: string | null | undefined, name: string): number {
  if (raw === null || raw === undefined) return 1000;
  return Math.min(nonNegativeInt(raw, name), 1000);
}

/** A part number marker (query parameter or header): absent → 0. */
export function partNumberMarker(raw: string | null | undefined, name: string): number {
  return raw === null || raw === undefined ? 0 : nonNegativeInt(raw, name);
}

function nonNegativeInt(raw: string, name: string): number {
  if (!/^\d+$/.test(raw)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: raw });
  return Number(raw);
}

export function encodingType(req: S3Request): 'url' | undefined {
  const e = req.query.get('encoding-type');
  if (e === null) return undefined;
  if (e.toLowerCase() !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: e });
  return 'url';
}
