// Get/Put/DeleteBucketCors, the anonymous preflight (RESTOPTIONSobject.html) and the
// Access-Control-* headers on actual cross-origin requests (userguide/cors.html).
import type { IncomingHttpHeaders } from 'node:http';
import type { CorsRule } from '../../metadata/tagging-cors.ts';
import type { GatewayContext } from '../context.ts';
import type { Handler, HandlerResult } from '../http-types.ts';
import { S3Error } from '../s3-errors.ts';
import { CORS_BODY_LIMIT, decodeCorsConfiguration, encodeCorsConfiguration } from '../s3-xml/cors.ts';
import { requireBucket } from './bucket-lookup.ts';
import { corsHeaders, matchRule, splitHeaderList } from './cors-match.ts';
import { extraError } from '../s3-errors-extra.ts';
import { header } from './object-headers.ts';
import { readXmlBody } from './xml-body.ts';

export const getBucketCors: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  const rules = await ctx.tagsCors.getBucketCors(bucket.id);
  if (!rules) throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: bucket.name });
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: encodeCorsConfiguration(rules) };
};

export const putBucketCors: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  const rules = decodeCorsConfiguration(await readXmlBody(req, CORS_BODY_LIMIT));
  await ctx.tagsCors.putBucketCors(bucket.id, bucket.name, rules);
  return { status: 200 };
};

export const deleteBucketCors: Handler = async (ctx, req) => {
  const bucket = await requireBucket(ctx, req);
  await ctx.tagsCors.deleteBucketCors(bucket.id);
  return { status: 204 };
};

function forbidden(message: string, method: string, resourceType: 'BUCKET' | 'OBJECT'): S3Error {
  return extraError('AccessForbidden', message, { Method: method, ResourceType: resourceType });
}

/**
 * OPTIONS preflight: anonymous, answered from the bucket's CORS rules. No tenant is known
 * (bucket names are per tenant, and a preflight carries no credentials), so the
 * configurations of every bucket of that name are consulted: the preflight is allowed when
 * one of them has a matching rule, and answers that rule's headers. When several tenants'
 * rules match, the one cached for the shortest time (MaxAgeSeconds, none first) answers, so
 * a browser asks again soonest. A preflight grants nothing by itself: the actual request is
 * signed, and gets its own tenant's Access-Control-* headers (applyCorsHeaders), or none.
 */
export async function preflight(ctx: GatewayContext, bucketName: string, hasKey: boolean, headers: IncomingHttpHeaders): Promise<HandlerResult> {
  const origin = header(headers, 'origin');
  const method = header(headers, 'access-control-request-method');
  if (origin === undefined) throw extraError('BadRequest', 'Insufficient information. Origin request header needed.');
  if (method === undefined) throw extraError('BadRequest', 'Invalid Access-Control-Request-Method: null');
  const resourceType = hasKey ? 'OBJECT' : 'BUCKET';
  const configs = await ctx.tagsCors.findCorsByBucketName(bucketName);
  if (configs.length === 0) throw forbidden('CORSResponse: CORS is not enabled for this bucket.', method, resourceType);
  const q = { origin, method, requestHeaders: splitHeaderList(header(headers, 'access-control-request-headers')) };
  const rule = pickRule(configs.map((rules) => matchRule(rules, q)).filter((r): r is CorsRule => r !== undefined));
  if (!rule) {
    throw forbidden(
      "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      method,
      resourceType,
    );
  }
  return { status: 200, headers: corsHeaders(rule, q, true) };
}

/** Of several tenants' matching rules, the shortest-cached; ties by content, so the answer never depends on row order. */
function pickRule(candidates: CorsRule[]): CorsRule | undefined {
  if (candidates.length <= 1) return candidates[0];
  const key = (r: CorsRule) => [r.maxAgeSeconds ?? -1, JSON.stringify(r)] as const;
  return [...candidates].sort((a, b) => {
    const [ma, ja] = key(a);
    const [mb, jb] = key(b);
    return ma !== mb ? ma - mb : ja < jb ? -1 : ja > jb ? 1 : 0;
  })[0];
}

/** Adds the Access-Control-* headers to an actual request's answer (success or error) when a rule matches. */
export async function applyCorsHeaders(ctx: GatewayContext, tenantId: string, bucketName: string, method: string, headers: IncomingHttpHeaders, result: HandlerResult): Promise<void> {
  const origin = header(headers, 'origin');
  if (origin === undefined) return;
  let rules: CorsRule[] | null = null;
  try {
    const bucket = await ctx.store.getBucket(tenantId, bucketName);
    if (bucket) rules = await ctx.tagsCors.getBucketCors(bucket.id);
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'CORS lookup failed');
    return;
  }
  if (!rules) return;
  const q = { origin, method: method.toUpperCase(), requestHeaders: [] };
  const rule = matchRule(rules, q);
  if (!rule) return;
  result.headers = { ...result.headers, ...corsHeaders(rule, q, false) };
}
