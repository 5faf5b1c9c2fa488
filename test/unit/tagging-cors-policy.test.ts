import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { S3Error } from '../../gateway/s3-errors.ts';
import { parseOperation } from '../../gateway/router/index.ts';
import { decodeTagging, encodeTagging, parseTaggingHeader, validateTags } from '../../gateway/s3-xml/tagging.ts';
import { decodeCorsConfiguration, encodeCorsConfiguration } from '../../gateway/s3-xml/cors.ts';
import { corsHeaders, matchRule, wildcardMatch } from '../../gateway/handlers/cors-match.ts';
import { checkPolicy, decodePolicy, parsePostCredential, postSignature } from '../../gateway/post-policy/index.ts';

const code = (c: string) => (err: unknown) => err instanceof S3Error && err.code === c;
const route = (method: string, target: string) => {
  const q = target.indexOf('?');
  return parseOperation({ method, rawPath: q < 0 ? target : target.slice(0, q), rawQuery: q < 0 ? '' : target.slice(q + 1), host: 'localhost', headers: {} }, {}).op;
};

describe('router: tagging, CORS, preflight and POST Object', () => {
  const table: [string, string, object][] = [
    ['GET', '/b?tagging', { kind: 'GetBucketTagging', bucket: 'b' }],
    ['PUT', '/b?tagging', { kind: 'PutBucketTagging', bucket: 'b' }],
    ['DELETE', '/b?tagging', { kind: 'DeleteBucketTagging', bucket: 'b' }],
    ['GET', '/b?cors', { kind: 'GetBucketCors', bucket: 'b' }],
    ['PUT', '/b?cors', { kind: 'PutBucketCors', bucket: 'b' }],
    ['DELETE', '/b?cors', { kind: 'DeleteBucketCors', bucket: 'b' }],
    ['GET', '/b/k?tagging', { kind: 'GetObjectTagging', bucket: 'b', key: 'k' }],
    ['PUT', '/b/k?tagging', { kind: 'PutObjectTagging', bucket: 'b', key: 'k' }],
    ['DELETE', '/b/k?tagging', { kind: 'DeleteObjectTagging', bucket: 'b', key: 'k' }],
    ['OPTIONS', '/b/k', { kind: 'PreflightRequest', bucket: 'b', key: 'k' }],
    ['OPTIONS', '/b', { kind: 'PreflightRequest', bucket: 'b' }],
    ['POST', '/b', { kind: 'PostObject', bucket: 'b' }],
  ];
  for (const [m, t, op] of table) it(`${m} ${t} routes to ${(op as { kind: string }).kind}`, () => assert.deepEqual(route(m, t), op));
});

describe('Tagging document and x-amz-tagging header', () => {
  it('decodes and re-encodes a TagSet in order, with an empty value', () => {
    const tags = decodeTagging(Buffer.from('<Tagging><TagSet><Tag><Key>b</Key><Value>2</Value></Tag><Tag><Key>a</Key><Value></Value></Tag></TagSet></Tagging>'));
    assert.deepEqual(tags, [{ key: 'b', value: '2' }, { key: 'a', value: '' }]);
    assert.equal(encodeTagging(tags), '<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>b</Key><Value>2</Value></Tag><Tag><Key>a</Key><Value></Value></Tag></TagSet></Tagging>');
  });
  it('refuses a Tag without Value as MalformedXML', () => {
    assert.throws(() => decodeTagging(Buffer.from('<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>')), code('MalformedXML'));
  });
  it('parses the URL-encoded header form', () => {
    assert.deepEqual(parseTaggingHeader('a=1&b%20c=x%2By&empty='), [{ key: 'a', value: '1' }, { key: 'b c', value: 'x+y' }, { key: 'empty', value: '' }]);
  });
  it('refuses duplicate keys, 11 object tags, 51 bucket tags, long keys and values, aws: keys', () => {
    assert.throws(() => parseTaggingHeader('a=1&a=2'), code('InvalidTag'));
    assert.throws(() => validateTags([{ key: 'a', value: '1' }, { key: 'a', value: '2' }], 'object'), code('InvalidTag'));
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    assert.throws(() => validateTags(many(11), 'object'), code('BadRequest'));
    assert.equal(validateTags(many(10), 'object').length, 10);
    assert.throws(() => validateTags(many(51), 'bucket'), code('InvalidTag'));
    assert.equal(validateTags(many(50), 'bucket').length, 50);
    assert.throws(() => validateTags([{ key: 'k'.repeat(129), value: '' }], 'object'), code('InvalidTag'));
    assert.equal(validateTags([{ key: 'é'.repeat(128), value: 'ü'.repeat(256) }], 'object').length, 1, 'limits count Unicode characters, not bytes');
    assert.throws(() => validateTags([{ key: 'k', value: 'v'.repeat(257) }], 'object'), code('InvalidTag'));
    assert.throws(() => validateTags([{ key: 'aws:x', value: '' }], 'object'), code('InvalidTag'));
  });
});

describe('CORSConfiguration and rule matching', () => {
  const xml = '<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>content-type</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>';
  const rules = decodeCorsConfiguration(Buffer.from(xml));
  it('decodes rules in order and encodes them back', () => {
    assert.equal(rules.length, 2);
    assert.deepEqual(rules[0], { allowedOrigins: ['https://*.example.com'], allowedMethods: ['PUT', 'POST'], allowedHeaders: ['x-amz-*', 'content-type'], exposeHeaders: ['ETag'], maxAgeSeconds: 600 });
    assert.deepEqual(decodeCorsConfiguration(Buffer.from(encodeCorsConfiguration(rules))), rules);
  });
  it('refuses unsupported methods, two wildcards, and a rule without origin', () => {
    assert.throws(() => decodeCorsConfiguration(Buffer.from('<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>')), code('InvalidRequest'));
    assert.throws(() => decodeCorsConfiguration(Buffer.from('<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>')), code('InvalidRequest'));
    assert.throws(() => decodeCorsConfiguration(Buffer.from('<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>')), code('MalformedXML'));
    assert.throws(() => decodeCorsConfiguration(Buffer.from('<CORSConfiguration></CORSConfiguration>')), code('MalformedXML'));
  });
  it('matches origin wildcards, methods and every requested header', () => {
    assert.ok(wildcardMatch('https://*.example.com', 'https://app.example.com'));
    assert.ok(!wildcardMatch('https://*.example.com', 'https://example.org'));
    assert.equal(matchRule(rules, { origin: 'https://app.example.com', method: 'PUT', requestHeaders: ['x-amz-date', 'content-type'] }), rules[0]);
    assert.equal(matchRule(rules, { origin: 'https://app.example.com', method: 'PUT', requestHeaders: ['authorization'] }), undefined);
    assert.equal(matchRule(rules, { origin: 'https://app.example.com', method: 'GET', requestHeaders: [] }), rules[1], 'first matching rule wins');
    assert.equal(matchRule(rules, { origin: 'https://other.org', method: 'DELETE', requestHeaders: [] }), undefined);
  });
  it('answers * without credentials for a wildcard origin, echoes a named one with credentials', () => {
    const q = { origin: 'https://app.example.com', method: 'PUT', requestHeaders: ['x-amz-date'] };
    assert.deepEqual(corsHeaders(rules[0], q, true), {
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'PUT, POST',
      'access-control-allow-headers': 'x-amz-date',
      'access-control-expose-headers': 'ETag',
      'access-control-max-age': '600',
      vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
    });
    assert.equal(corsHeaders(rules[1], { origin: 'https://x', method: 'GET', requestHeaders: [] }, false)['access-control-allow-origin'], '*');
  });
});

describe('POST policy', () => {
  const enc = (doc: unknown) => Buffer.from(JSON.stringify(doc)).toString('base64');
  const future = new Date(Date.now() + 3600_000).toISOString();
  const fields = (o: Record<string, string>) => new Map(Object.entries(o));
  it('passes eq, starts-with and exact conditions and returns the content-length-range', () => {
    const p = decodePolicy(enc({ expiration: future, conditions: [{ bucket: 'b' }, ['starts-with', '$key', 'up/'], ['eq', '$Content-Type', 'image/png'], ['content-length-range', 1, 100], { success_action_status: '201' }] }));
    assert.deepEqual(checkPolicy(p, fields({ bucket: 'b', key: 'up/x', 'content-type': 'image/png', success_action_status: '201', policy: 'x', 'x-amz-signature': 'y', 'x-ignore-me': '1' })), { min: 1, max: 100 });
  });
  it('fails a condition with AccessDenied naming it, and unlisted fields as Extra input fields', () => {
    const p = decodePolicy(enc({ expiration: future, conditions: [{ bucket: 'b' }, ['starts-with', '$key', 'up/']] }));
    assert.throws(() => checkPolicy(p, fields({ bucket: 'b', key: 'down/x' })), (e: unknown) => e instanceof S3Error && e.code === 'AccessDenied' && e.message === 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "up/"]');
    assert.throws(() => checkPolicy(p, fields({ bucket: 'b', key: 'up/x', 'x-amz-meta-a': '1' })), (e: unknown) => e instanceof S3Error && e.message === 'Invalid according to Policy: Extra input fields: x-amz-meta-a');
  });
  it('refuses an expired policy and an unreadable one', () => {
    const p = decodePolicy(enc({ expiration: '2000-01-01T00:00:00.000Z', conditions: [] }));
    assert.throws(() => checkPolicy(p, fields({ bucket: 'b' })), (e: unknown) => e instanceof S3Error && e.message === 'Invalid according to Policy: Policy expired.');
    assert.throws(() => decodePolicy('!!notjson'), code('InvalidPolicyDocument'));
    assert.throws(() => decodePolicy(enc({ conditions: [] })), code('InvalidPolicyDocument'));
  });
  it('signs the base64 policy with the SigV4 signing key', () => {
    const cred = parsePostCredential('AKID/20260101/us-east-1/s3/aws4_request');
    const h = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();
    const key = h(h(h(h('AWS4secret', '20260101'), 'us-east-1'), 's3'), 'aws4_request');
    assert.equal(postSignature('secret', cred, 'cG9saWN5'), createHmac('sha256', key).update('cG9saWN5').digest('hex'));
    assert.throws(() => parsePostCredential('AKID/2026/us-east-1/s3/aws4_request'), code('InvalidArgument'));
  });
});
