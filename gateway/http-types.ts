// The shape handlers work with: data in, data out. One wrapper (gateway/s3-server.ts)
// authenticates, serializes and logs; handlers never touch the response object.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Operation } from './router/index.ts';
import type { AuthResult } from './sigv4/index.ts';
import type { GatewayContext } from './context.ts';

export interface S3Request {
  id: string;
  method: string;
  op: Operation;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  tenantId: string;
  tenantName: string;
  auth: AuthResult;
  /** The raw request (body source). Read it through `body()` so the payload is verified. */
  raw: IncomingMessage;
  /** The verified, de-framed body stream, with the verified trailing checksum once it ended. */
  body(): Readable & { readonly trailerChecksum: { algorithm: string; value: string } | null };
  /** Whole (small) body, e.g. an XML document; over `limit` bytes → the given S3 error code. */
  bodyBuffer(limit: number, tooLargeCode?: string): Promise<Buffer>;
}

export interface HandlerResult {
  status: number;
  headers?: Record<string, string | number | undefined>;
  body?: string | Buffer | Readable;
  /** Bytes moved, for the access log. */
  bytes?: number;
}

export type Handler = (ctx: GatewayContext, req: S3Request) => Promise<HandlerResult>;
