// A small configuration document from the request body, with Content-MD5 checked
// when the client sent one (PutBucketCors / Put*Tagging list Content-MD5; the SDKs
// send it or an x-amz-checksum-*, which the payload verifier already covers).
import { createHash } from 'node:crypto';
import type { S3Request } from '../http-types.ts';
import { S3Error } from '../s3-errors.ts';
import { header } from './object-headers.ts';

export async function readXmlBody(req: S3Request, limit: number): Promise<Buffer> {
  const body = await req.bodyBuffer(limit);
  const md5 = header(req.headers, 'content-md5');
  if (md5 !== undefined) {
    if (Buffer.from(md5, 'base64').length !== 16) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
    if (createHash('md5').update(body).digest('base64') !== md5) throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  return body;
}
