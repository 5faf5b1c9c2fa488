// Query arguments every S3 listing shares: a page size (max-keys / max-uploads /
// max-parts, capped at 1000 as S3 does) and encoding-type, whose only value is `url`.
import type { S3Request } from '../http-types.ts';
import { S3Error } from '../s3-errors.ts';

export function pageSize(req: S3Request, name: 'max-keys' | 'max-uploads' | 'max-parts'): number {
  const raw = req.query.get(name);
  if (raw === null) return 1000;
  if (!/^\d+$/.test(raw)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: raw });
  return Math.min(Number(raw), 1000);
}

export function encodingType(req: S3Request): 'url' | undefined {
  const e = req.query.get('encoding-type');
  if (e === null) return undefined;
  if (e.toLowerCase() !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: e });
  return 'url';
}
