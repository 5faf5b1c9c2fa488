// The CORSConfiguration document (API_PutBucketCors.html, API_CORSRule.html) in both
// directions. Limits and refusals as S3 answers them: at most 100 rules and 64 KB,
// AllowedMethod only GET/PUT/HEAD/POST/DELETE, at most one `*` in an AllowedOrigin
// or AllowedHeader (userguide/ManageCorsUsing.html, "CORS configuration").
import type { CorsRule } from '../../metadata/tagging-cors.ts';
import { S3Error } from '../s3-errors.ts';
import type { XmlElement } from '../../shared/xml/parse.ts';
import { leafText, parseRoot } from './decode.ts';
import { document } from './encode-common.ts';
import { element } from './escape.ts';

export const CORS_BODY_LIMIT = 64 * 1024;
export const MAX_CORS_RULES = 100;
const METHODS = new Set(['GET', 'PUT', 'HEAD', 'POST', 'DELETE']);

function malformed(): S3Error {
  return new S3Error('MalformedXML');
}


function oneWildcard(kind: string, value: string): void {
  if (value.split('*').length > 2) throw new S3Error('InvalidRequest', `${kind} "${value}" can not have more than one wildcard.`);
}

function decodeRule(el: XmlElement): CorsRule {
  if (el.name !== 'CORSRule' || el.text.trim() !== '') throw malformed();
  const rule: CorsRule = { allowedOrigins: [], allowedMethods: [], allowedHeaders: [], exposeHeaders: [] };
  for (const c of el.children) {
    const v = leafText(c);
    switch (c.name) {
      case 'ID':
        if (rule.id !== undefined) throw malformed();
        rule.id = v;
        break;
      case 'AllowedOrigin':
        oneWildcard('AllowedOrigin', v);
        rule.allowedOrigins.push(v);
        break;
      case 'AllowedMethod':
        if (!METHODS.has(v)) throw new S3Error('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${v}`);
        rule.allowedMethods.push(v);
        break;
      case 'AllowedHeader':
        oneWildcard('AllowedHeader', v);
        rule.allowedHeaders.push(v);
        break;
      case 'ExposeHeader':
        rule.exposeHeaders.push(v);
        break;
      case 'MaxAgeSeconds': {
        if (rule.maxAgeSeconds !== undefined || !/^\d+$/.test(v.trim())) throw malformed();
        rule.maxAgeSeconds = Number(v.trim());
        break;
      }
      default:
        throw malformed();
    }
  }
  if (rule.allowedOrigins.length === 0 || rule.allowedMethods.length === 0) throw malformed();
  return rule;
}

export function decodeCorsConfiguration(body: Buffer): CorsRule[] {
  const root = parseRoot(body, 'CORSConfiguration', CORS_BODY_LIMIT);
  if (root.children.length === 0) throw malformed();
  if (root.children.length > MAX_CORS_RULES) throw new S3Error('InvalidRequest', `The number of CORS rules should not exceed allowed limit of ${MAX_CORS_RULES} rules.`);
  return root.children.map(decodeRule);
}

export function encodeCorsConfiguration(rules: CorsRule[]): string {
  const body = rules
    .map((r) => {
      let x = '<CORSRule>';
      if (r.id !== undefined) x += element('ID', r.id);
      for (const h of r.allowedHeaders) x += element('AllowedHeader', h);
      for (const m of r.allowedMethods) x += element('AllowedMethod', m);
      for (const o of r.allowedOrigins) x += element('AllowedOrigin', o);
      for (const h of r.exposeHeaders) x += element('ExposeHeader', h);
      if (r.maxAgeSeconds !== undefined) x += element('MaxAgeSeconds', String(r.maxAgeSeconds));
      return x + '</CORSRule>';
    })
    .join('');
  return document('CORSConfiguration', body);
}
