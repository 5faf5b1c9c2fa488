// The S3 listener: parse the operation, authenticate, run the handler, serialize.
// Every failure leaves as an S3 XML error with a request id (house rule 2); the
// detail of an unexpected one goes to the log only.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseOperation } from './router/index.ts';
import { authenticate, createPayloadVerifier, SigningKeyCache } from './sigv4/index.ts';
import { toS3Error } from './error-mapping.ts';
import { isDatabaseUnreachable } from '../metadata/db.ts';
import { S3Error, errorHasBody, renderErrorXml } from './s3-errors.ts';
import type { GatewayContext } from './context.ts';
import type { HandlerResult, S3Request } from './http-types.ts';
import { dispatch } from './handlers/index.ts';
import { postObject } from './handlers/post-object.ts';
import { applyCorsHeaders, preflight } from './handlers/cors.ts';
import { transferred } from '../shared/observability/gc-pacer.ts';

function decodeResource(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    return rawPath;
  }
}

export function createS3RequestListener(ctx: GatewayContext): http.RequestListener {
  // Signing keys change once a day per key and region: derive each once, not per request.
  const keyCache = new SigningKeyCache();
  return (req, res) => {
    void serve(ctx, keyCache, req, res);
  };
}

function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  const q = url.indexOf('?');
  return q < 0 ? { rawPath: url, rawQuery: '' } : { rawPath: url.slice(0, q), rawQuery: url.slice(q + 1) };
}

async function serve(ctx: GatewayContext, keyCache: SigningKeyCache, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const started = process.hrtime.bigint();
  const id = randomBytes(8).toString('hex').toUpperCase();
  res.setHeader('x-amz-request-id', id);
  res.setHeader('x-amz-id-2', id);
  res.setHeader('server', 'Fedgate');
  const { rawPath, rawQuery } = splitUrl(req.url ?? '/');
  const resource = rawPath;
  let opName = 'Unknown';
  let tenantId: string | undefined;
  let tenantName = '';
  let result: HandlerResult | undefined;
  let errorCode: string | undefined;
  // A 5xx answer's message goes into the request's log line: why the service was unavailable.
  let serverFault: string | undefined;
  let corsBucket: string | undefined;
  let verifier: ReturnType<typeof createPayloadVerifier> | undefined;
  try {
    const { op, query } = parseOperation({ method: req.method ?? 'GET', rawPath, rawQuery, host: req.headers.host, headers: req.headers }, { domain: ctx.options.domain });
    opName = op.kind === 'NotImplemented' ? op.name : op.kind;
    corsBucket = 'bucket' in op ? op.bucket : undefined;
    if (op.kind === 'PreflightRequest' || op.kind === 'PostObject') {
      // Not SigV4-header-authenticated: a preflight is anonymous (RESTOPTIONSobject.html) and a
      // browser form carries its own policy signature (sigv4-HTTPPOSTForms.html).
      result =
        op.kind === 'PreflightRequest'
          ? await preflight(ctx, op.bucket, op.key !== undefined, req.headers)
          : await postObject(ctx, op.bucket, req, (c) => {
              tenantId = c.tenantId;
              tenantName = c.tenantName;
            });
    } else {
      const auth = await authenticate({ method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers, headersDistinct: req.headersDistinct }, async (akid) => {
        const k = await ctx.resolveKey(akid);
        if (k) {
          tenantId = k.tenantId;
          tenantName = k.tenantName;
        }
        return k?.secret ?? null;
      }, { keyCache });
      if (!tenantId) throw new S3Error('InvalidAccessKeyId');
      if (op.kind === 'NotImplemented') {
        throw new S3Error('NotImplemented', `${op.name} is not implemented by Fedgate`);
      }
      const s3req: S3Request = {
        id,
        method: req.method ?? 'GET',
        op,
        query,
        headers: req.headers,
        tenantId,
        tenantName,
        auth,
        raw: req,
        body() {
          if (!verifier) {
            verifier = createPayloadVerifier(auth, req.headers);
            // Consumers see a verification failure through their own listener or iterator; this one
            // only guarantees a late failure (e.g. the trailer check at the very end) never goes uncaught.
            verifier.on('error', () => {});
            req.pipe(verifier);
            req.on('error', (e) => verifier!.destroy(e));
            req.on('aborted', () => verifier!.destroy(new S3Error('IncompleteBody', 'The client closed the connection before the body was complete')));
          }
          return verifier;
        },
        async bodyBuffer(limit, tooLargeCode = 'MaxMessageLengthExceeded') {
          const chunks: Buffer[] = [];
          let n = 0;
          for await (const c of this.body()) {
            n += c.length;
            if (n > limit) throw new S3Error(tooLargeCode === 'MaxMessageLengthExceeded' ? 'MalformedXML' : tooLargeCode, 'The request body is too large');
            chunks.push(c);
          }
          return Buffer.concat(chunks);
        },
      };
      result = await dispatch(ctx, s3req);
    }
  } catch (err) {
    const e = toS3Error(err);
    errorCode = e.code;
    if (e.status >= 500) serverFault = e.message;
    if (e.code === 'InternalError') ctx.log.error({ reqId: id, op: opName, err }, 'internal error');
    else if (isDatabaseUnreachable(err)) ctx.log.warn({ reqId: id, op: opName, err: (err as Error).message }, 'metadata database unreachable');
    result = {
      status: e.status,
      headers: { 'content-type': 'application/xml', ...((err as { responseHeaders?: Record<string, string> }).responseHeaders ?? {}) },
      body: errorHasBody(e, req.method ?? 'GET') ? renderErrorXml(e, resource, id) : undefined,
    };
  }
  // Actual cross-origin requests get the matching rule's Access-Control-* headers (userguide/cors.html).
  if (corsBucket !== undefined && tenantId && req.headers.origin !== undefined) await applyCorsHeaders(ctx, tenantId, corsBucket, req.method ?? 'GET', req.headers, result);
  if (!req.complete && !req.destroyed) {
    // The answer came before the whole body (an error, or a 503 from a failed quorum): stop
    // feeding the verifier nobody reads any more, drain what the client still sends so it can
    // read the answer, and don't reuse the connection (S3 closes it too).
    if (verifier) {
      req.unpipe(verifier);
      verifier.destroy();
    }
    req.resume();
    result.headers = { ...result.headers, connection: 'close' };
  }
  await send(req, res, result, ctx, id);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  ctx.observe?.(opName, result.status, ms / 1000);
  // Object access goes to the hash-chained audit log in batches, off the data path (PRODUCT.md §5.3).
  ctx.audit.record({
    plane: 's3',
    actor: tenantId ?? 'anonymous',
    action: opName,
    resource: decodeResource(rawPath),
    result: errorCode ?? String(result.status),
    details: { requestId: id, status: result.status, bytes: result.bytes ?? 0, ms: Math.round(ms * 10) / 10 },
  });
  ctx.log.info({ reqId: id, op: opName, method: req.method, tenant: tenantId, status: result.status, code: errorCode, reason: serverFault, ms: Math.round(ms * 10) / 10, bytes: result.bytes }, 's3 request');
}

async function send(req: http.IncomingMessage, res: http.ServerResponse, result: HandlerResult, ctx: GatewayContext, id: string): Promise<void> {
  res.statusCode = result.status;
  for (const [k, v] of Object.entries(result.headers ?? {})) if (v !== undefined) res.setHeader(k, v);
  const body = result.body;
  try {
    if (body === undefined || req.method === 'HEAD') {
      if (body instanceof Readable) body.destroy();
      res.end();
    } else if (typeof body === 'string' || Buffer.isBuffer(body)) {
      res.setHeader('content-length', Buffer.byteLength(body));
      res.end(body);
    } else {
      body.on('data', (chunk: Buffer) => transferred(chunk.length));
      await pipeline(body, res);
    }
  } catch (err) {
    // Mid-stream failure after headers went out: the only honest signal left is to cut the connection.
    ctx.log.warn({ reqId: id, err: (err as Error).message }, 'response stream failed');
    res.destroy();
  }
}
