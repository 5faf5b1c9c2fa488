// A raw SigV4-signed HTTP request to a test Fedgate, for asserting exact status codes,
// headers and error bodies that SDKs parse away (Resource, RequestId, extra fields).
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { createHash } from 'node:crypto';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface SignedFetchTarget {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** `pathAndQuery` is sent as given (already URI-encoded), e.g. `/bucket/key?partNumber=1`. */
export async function signedFetch(fg: SignedFetchTarget, method: string, pathAndQuery: string, opts: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<RawResponse> {
  const url = new URL(fg.endpoint + pathAndQuery);
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: fg.accessKeyId, secretAccessKey: fg.secretAccessKey }, sha256: Sha256, uriEscapePath: false });
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-content-sha256': createHash('sha256').update(body ?? Buffer.alloc(0)).digest('hex'),
    ...opts.headers,
  };
  if (body !== undefined && headers['content-length'] === undefined) headers['content-length'] = String(body.length);
  const signed = await signer.sign({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query, headers, body });
  const res = await fetch(url, { method, headers: signed.headers as Record<string, string>, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The fields of an S3 `<Error>` body, by element name. */
export function errorFields(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inner = /<Error>([\s\S]*)<\/Error>/.exec(xml)?.[1] ?? '';
  for (const m of inner.matchAll(/<([A-Za-z0-9]+)>([^<]*)<\/\1>/g)) out[m[1]] = m[2].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  return out;
}
