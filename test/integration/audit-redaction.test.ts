// Secret hygiene and the canonical form of the audit log: what reaches audit_log.details
// has its secret-looking fields redacted, and awkward JSON values survive the jsonb
// round trip so the chain still verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase } from '../helpers/pg.ts';
import { createAuditLog, canonicalJson, isSecretName, redactDetails, REDACTED } from '../../shared/audit/index.ts';

test('isSecretName flags secret and key-material field names and leaves identities and counters alone', () => {
  const secret = [
    'secret', 'password', 'Password', 'passwd', 'passphrase', 'token', 'accessToken', 'session_token', 'x-amz-security-token',
    'authorization', 'Authorization', 'apiKey', 'api_key', 'x-api-key', 'APIKey', 'apikey', 'privateKey', 'private-key-pem',
    'secretAccessKey', 'secret_access_key', 'accessKey', 'SSECustomerKey', 'x-amz-server-side-encryption-customer-key',
    'masterKey', 'dataKey', 'keyMaterial', 'credentials', 'cookie', 'Set-Cookie', 'X-Amz-Signature', 'clientSecret', 'passwordHash',
  ];
  const plain = [
    'key', 'keys', 'bucket', 'tokensIn', 'tokens_out', 'maxTokens', 'inputTokens', 'tokenId', 'token_count', 'accessKeyId',
    'access_key_id', 'secretName', 'x-amz-server-side-encryption-customer-key-MD5', 'model', 'bytes', 'latencyMs', 'keyCount',
    'monkey', 'keystone', 'author', 'passes',
  ];
  for (const name of secret) assert.equal(isSecretName(name), true, name);
  for (const name of plain) assert.equal(isSecretName(name), false, name);
});

test('redactDetails replaces secret fields and credential values at any depth without touching the input', () => {
  const input = {
    key: 'photos/cat.jpg',
    tokensIn: 120,
    headers: { Authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/s3/aws4_request', 'x-amz-date': '20250101T000000Z' },
    upstream: [{ apiKey: 'sk-live-abc', model: 'gpt' }],
    note: 'Bearer eyJhbGciOi.payload.sig',
    pem: 'x\n-----BEGIN RSA PRIVATE KEY-----\nMIIB...',
    nested: { deeper: { password: { any: 'shape' } } },
  };
  const copy = structuredClone(input);
  assert.deepEqual(redactDetails(input), {
    key: 'photos/cat.jpg',
    tokensIn: 120,
    headers: { Authorization: REDACTED, 'x-amz-date': '20250101T000000Z' },
    upstream: [{ apiKey: REDACTED, model: 'gpt' }],
    note: REDACTED,
    pem: REDACTED,
    nested: { deeper: { password: REDACTED } },
  });
  assert.deepEqual(input, copy);
});

test('canonicalJson sorts keys by UTF-16 code units at every level', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: null, y: true }], c: 'x' }, A: 0, é: 1 }), '{"A":0,"a":{"c":"x","d":[3,{"y":true,"z":null}]},"b":1,"é":1}');
});

test('secret-looking fields never reach audit_log and the stored entries still verify', async () => {
  const db = await createTestDatabase();
  try {
    const log = createAuditLog(db.pool);
    const details: Record<string, unknown> = {
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: 'topsecret-value-1',
      password: 'topsecret-value-2',
      request: { headers: { authorization: 'topsecret-value-3', 'x-amz-security-token': 'topsecret-value-4' } },
      bytes: 42,
    };
    log.record({ plane: 'admin', actor: 'admin-token-7', action: 'CreateAccessKey', resource: 'tenant/acme', result: 'ok', details });
    // The queued event is a snapshot: later changes by the caller do not reach the log.
    details.bytes = 0;
    details.password = 'changed';
    await log.flush();
    const stored = (await db.pool.query('SELECT actor, details FROM audit_log')).rows;
    assert.deepEqual(stored, [
      {
        actor: 'admin-token-7',
        details: {
          accessKeyId: 'AKIAEXAMPLE',
          secretAccessKey: REDACTED,
          password: REDACTED,
          request: { headers: { authorization: REDACTED, 'x-amz-security-token': REDACTED } },
          bytes: 42,
        },
      },
    ]);
    const leaks = await db.pool.query("SELECT count(*)::int AS n FROM audit_log WHERE details::text LIKE '%topsecret%'");
    assert.equal(leaks.rows[0].n, 0);
    assert.deepEqual(await log.verify(), { ok: true, checked: 1 });
    await log.close();
  } finally {
    await db.drop();
  }
});

test('details with awkward JSON values survive the jsonb round trip and the chain verifies', async () => {
  const db = await createTestDatabase();
  try {
    const log = createAuditLog(db.pool);
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const awkward: Record<string, unknown>[] = [
      { big: 1e21, small: 1e-7, tenth: 0.1, negZero: -0, maxSafe: Number.MAX_SAFE_INTEGER, huge: 2 ** 70, nan: NaN, inf: -Infinity },
      { nul: 'a\u0000b', lone: 'x\uD800y', emoji: '😀', rtl: 'שלום', quote: '"\\\n\t', empty: {}, list: [] },
      { count: 10n, when: new Date('2025-01-02T03:04:05.678Z'), bytes: Buffer.from('abc'), fn: () => 1, undef: undefined, arr: [undefined, () => 1] },
      { zz: 1, a: 2, é: 3, Z: 4, '10': 5, '9': 6, __proto__x: 7 },
      circular,
      JSON.parse('{"__proto__": {"polluted": true}}'),
    ];
    for (const details of awkward) log.record({ plane: 'ai', actor: 'vt-1', action: 'chat.completions', resource: 'gpt-x', result: 'allow', details });
    log.record({ plane: 'ai', actor: 'vt-\u00001', action: 'a'.repeat(10_000), resource: 'r', result: 'ok', at: new Date(NaN) });
    await log.flush();
    assert.equal(log.dropped, 0);
    assert.deepEqual(await log.verify(), { ok: true, checked: 7 });
    const rows = (await db.pool.query('SELECT details FROM audit_log ORDER BY id')).rows.map((r) => r.details);
    assert.deepEqual(rows[0], { big: 1e21, small: 1e-7, tenth: 0.1, negZero: 0, maxSafe: Number.MAX_SAFE_INTEGER, huge: 2 ** 70, nan: null, inf: null });
    assert.deepEqual(rows[1], { nul: 'a\uFFFDb', lone: 'x\uFFFDy', emoji: '😀', rtl: 'שלום', quote: '"\\\n\t', empty: {}, list: [] });
    assert.deepEqual(rows[2], { count: '10', when: '2025-01-02T03:04:05.678Z', bytes: '[binary 3 bytes]', arr: [null, null] });
    assert.deepEqual(rows[4], { name: 'loop', self: '[circular]' });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    await log.close();
  } finally {
    await db.drop();
  }
});
