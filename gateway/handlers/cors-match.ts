// How S3 evaluates a bucket's CORS rules (userguide/cors.html, "How does Amazon S3
// evaluate the CORS configuration on a bucket?"): the first rule whose AllowedOrigin
// matches the Origin, whose AllowedMethod holds the (requested) method, and — for a
// preflight — whose AllowedHeader patterns cover every Access-Control-Request-Headers
// entry wins; its settings become the Access-Control-* response headers.
import type { CorsRule } from '../../metadata/tagging-cors.ts';

/** `*` in a pattern stands for any run of characters (at most one `*`, checked on PutBucketCors). */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = caseInsensitive ? value.toLowerCase() : value;
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  const head = p.slice(0, star);
  const tail = p.slice(star + 1);
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

export interface CorsQuery {
  origin: string;
  method: string;
  /** Access-Control-Request-Headers entries (preflight only). */
  requestHeaders: string[];
}

export function matchRule(rules: readonly CorsRule[], q: CorsQuery): CorsRule | undefined {
  return rules.find(
    (r) =>
      r.allowedOrigins.some((o) => wildcardMatch(o, q.origin)) &&
      r.allowedMethods.includes(q.method) &&
      q.requestHeaders.every((h) => r.allowedHeaders.some((a) => wildcardMatch(a, h, true))),
  );
}

export function splitHeaderList(v: string | undefined): string[] {
  return (v ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
}

/**
 * The Access-Control-* headers for a matched rule. A rule allowing any origin (`*`)
 * answers `*` without credentials; a named origin is echoed with
 * Access-Control-Allow-Credentials: true, as S3 does.
 */
export function corsHeaders(rule: CorsRule, q: CorsQuery, preflight: boolean): Record<string, string> {
  const anyOrigin = rule.allowedOrigins.includes('*');
  const h: Record<string, string> = {
    'access-control-allow-origin': anyOrigin ? '*' : q.origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (!anyOrigin) h['access-control-allow-credentials'] = 'true';
  if (preflight && q.requestHeaders.length > 0) h['access-control-allow-headers'] = q.requestHeaders.join(', ');
  if (rule.exposeHeaders.length > 0) h['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) h['access-control-max-age'] = String(rule.maxAgeSeconds);
  return h;
}
