// The AI proxy with the real `openai` and `@anthropic-ai/sdk` clients against a local
// mock provider that records exactly what it received (test/helpers/mock-llm.ts).
// Real PostgreSQL (store + audit), the real detection engine, in-process KV.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { PassThrough } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { startMockLlm, chatJson, chatSseEvents, anthropicSseEvents, splitAt, type MockLlm } from '../helpers/mock-llm.ts';
import { createVault } from '../../shared/vault/index.ts';
import { createAuditLog, type AuditLog } from '../../shared/audit/index.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { createDetector } from '../../ai-proxy/detection/index.ts';
import { openAiState, startAiProxy, type AiProxy } from '../../ai-proxy/main.ts';
import { createAiAdminRoutes } from '../../ai-proxy/admin.ts';

const OPENAI_KEY = 'sk-real-openai-provider-key-0123456789abcdef';
const ANTHROPIC_KEY = 'sk-ant-real-anthropic-provider-key-0123456789';
const ADMIN = 'test-admin-' + randomBytes(6).toString('hex');

let db: TestDatabase;
let audit: AuditLog;
let mock: MockLlm;
let proxy: AiProxy;
let adminServer: http.Server;
let adminUrl: string;
let base: string;
let closeStore: () => Promise<void>;
const logs = new PassThrough();
let logText = '';
logs.on('data', (c: Buffer) => (logText += c.toString('utf8')));

async function admin(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(adminUrl + p, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function token(policy: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const r = await admin('POST', '/admin/ai/tokens', { name: 't', upstreams: ['oa', 'an'], policy, ...extra });
  assert.equal(r.status, 201);
  return r.json;
}

const openai = (t: string) => new OpenAI({ apiKey: t, baseURL: `${base}/v1`, maxRetries: 0 });
const anthropic = (t: string) => new Anthropic({ apiKey: t, baseURL: base, maxRetries: 0 });

/** Audit entries of one actor, after they were flushed (the entry is written when the answer ends). */
async function auditOf(actor: string, n: number): Promise<Array<{ result: string; details: any }>> {
  for (let i = 0; i < 100; i++) {
    await audit.flush();
    const r = await db.pool.query("SELECT result, details FROM audit_log WHERE plane = 'ai' AND actor = $1 ORDER BY id", [actor]);
    if (r.rows.length >= n) return r.rows;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`expected ${n} audit entries for ${actor}`);
}

before(async () => {
  db = await createTestDatabase();
  audit = createAuditLog(db.pool, { flushMs: 20 });
  const vault = createVault(randomBytes(32));
  const { store, kv } = openAiState({ pool: db.pool, vault });
  closeStore = () => store.close();
  mock = await startMockLlm();
  const log = createLogger('debug', logs);
  proxy = await startAiProxy({ store, kv, audit, log, createDetector, upstream: { retries: 1, backoffMs: 5, timeoutMs: 5000 }, approvalPollMs: 20 }, { port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${proxy.port}`;
  const routes = createAiAdminRoutes({ store });
  adminServer = http.createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${ADMIN}`) return void res.writeHead(401).end();
    routes(req, res, new URL(req.url ?? '/', 'http://a')).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => adminServer.listen(0, '127.0.0.1', r));
  adminUrl = `http://127.0.0.1:${(adminServer.address() as AddressInfo).port}`;
  assert.equal((await admin('POST', '/admin/ai/upstreams', { name: 'oa', provider: 'openai', baseUrl: `${mock.url}/v1`, apiKey: OPENAI_KEY })).status, 201);
  assert.equal((await admin('POST', '/admin/ai/upstreams', { name: 'an', provider: 'anthropic', baseUrl: mock.url, apiKey: ANTHROPIC_KEY })).status, 201);
});

after(async () => {
  await proxy?.close(100);
  await closeStore?.();
  await mock?.close();
  await new Promise((r) => adminServer?.close(r));
  await audit?.close().catch(() => {});
  await db?.drop();
});

describe('AI proxy: keys and tokens', () => {
  it('OpenAI SDK chat: the upstream gets the real provider key and never the fgt_ token', async () => {
    const t = await token();
    assert.match(t.token, /^fgt_[A-Za-z0-9_-]{40,}$/);
    mock.respond(null);
    const { data, response } = await openai(t.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(data.choices[0].message.content, 'Hello from mock');
    const got = mock.received.at(-1)!;
    assert.equal(got.path, '/v1/chat/completions');
    assert.equal(got.headers.authorization, `Bearer ${OPENAI_KEY}`);
    assert.ok(!JSON.stringify(got).includes(t.token), 'the virtual token reached the upstream');
    const overhead = Number(response.headers.get('x-fedgate-overhead-ms'));
    assert.ok(Number.isFinite(overhead));
    console.log(`# x-fedgate-overhead-ms (first request of the process, cold caches): ${overhead}`);
  });

  it('Anthropic SDK messages: the upstream gets x-api-key with the provider key', async () => {
    const t = await token();
    const msg = await anthropic(t.token).messages.create({ model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    assert.deepEqual(msg.content, [{ type: 'text', text: 'Hello from mock' }]);
    const got = mock.received.at(-1)!;
    assert.equal(got.path, '/v1/messages');
    assert.equal(got.headers['x-api-key'], ANTHROPIC_KEY);
    assert.equal(got.headers.authorization, undefined);
    assert.ok(!JSON.stringify(got).includes(t.token));
  });

  it('a revoked token is refused with 401 in the provider error format', async () => {
    const t = await token();
    assert.equal((await admin('DELETE', `/admin/ai/tokens/${t.id}`)).status, 204);
    const before = mock.received.length;
    await assert.rejects(openai(t.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }), (e: any) => {
      assert.ok(e instanceof OpenAI.AuthenticationError);
      assert.equal(e.status, 401);
      assert.match(e.message, /ai\.token\.revoked/);
      return true;
    });
    await assert.rejects(anthropic(t.token).messages.create({ model: 'claude-sonnet-5-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }), (e: any) => {
      assert.ok(e instanceof Anthropic.AuthenticationError);
      assert.equal((e.error as { error?: { type?: string } }).error?.type, 'authentication_error');
      return true;
    });
    assert.equal(mock.received.length, before);
  });

  it('an unknown token gets 401 and nothing goes upstream', async () => {
    const before = mock.received.length;
    await assert.rejects(openai('fgt_' + 'x'.repeat(43)).models.list(), (e: any) => e.status === 401);
    assert.equal(mock.received.length, before);
  });
});

describe('AI proxy: detection and masking', () => {
  it('PII and AWS ids are masked before the upstream and restored in the answer', async () => {
    const t = await token();
    const prompt = 'Write to alice@example.com about instance i-0abcd1234ef567890 in vpc-0a1b2c3d4e5f67890';
    mock.respond((r) => ({ json: chatJson(`You said: ${r.json.messages[0].content}`) }));
    const out = await openai(t.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] });
    mock.respond(null);
    const sent = mock.received.at(-1)!.json.messages[0].content;
    assert.equal(sent, 'Write to EMAIL_001 about instance EC2_001 in VPC_001');
    assert.equal(out.choices[0].message.content, `You said: ${prompt}`);
    const [entry] = await auditOf(t.id, 1);
    assert.deepEqual(entry.details.findings, { 'pii.email': 1, 'aws.ec2-instance': 1, 'aws.vpc': 1 });
  });

  it('a placeholder split across OpenAI SSE events is restored in the streamed answer', async () => {
    const t = await token();
    const prompt = 'Reboot i-0abcd1234ef567890 and tell bob@example.org';
    mock.respond(() => ({ sse: chatSseEvents(['Rebooting EC', '2_0', '01 now; mail sent to EMA', 'IL_', '001.']) }));
    const stream = await openai(t.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    mock.respond(null);
    assert.equal(mock.received.at(-1)!.json.messages[0].content, 'Reboot EC2_001 and tell EMAIL_001');
    assert.equal(text, 'Rebooting i-0abcd1234ef567890 now; mail sent to bob@example.org.');
  });

  it('a placeholder split inside raw Anthropic SSE bytes is restored (Anthropic SDK stream)', async () => {
    const t = await token();
    const events = anthropicSseEvents(['Instance EC2', '_001 is ', 'healthy.']);
    const joined = events.join('');
    const cut = joined.indexOf('EC2') + 2;
    mock.respond(() => ({ sse: splitAt(events, [cut, cut + 7, joined.length - 20]) }));
    const stream = anthropic(t.token).messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'status of i-0fedcba9876543210?' }] });
    const final = await stream.finalMessage();
    mock.respond(null);
    assert.equal(mock.received.at(-1)!.json.messages[0].content, 'status of EC2_001?');
    assert.deepEqual(final.content, [{ type: 'text', text: 'Instance i-0fedcba9876543210 is healthy.', citations: undefined }].map(({ type, text }) => ({ type, text })));
    assert.equal(final.usage.output_tokens, 5);
  });

  it('a secret in the request is blocked with an error naming the rule, and never sent upstream', async () => {
    const t = await token();
    const before = mock.received.length;
    const secret = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
    await assert.rejects(openai(t.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'be terse' }, { role: 'user', content: `use ${secret}` }] }), (e: any) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.match(e.message, /secret\.github-token/);
      assert.ok(!e.message.includes(secret));
      return true;
    });
    assert.equal(mock.received.length, before);
    const [entry] = await auditOf(t.id, 1);
    assert.equal(entry.result, '400');
    assert.ok(!JSON.stringify(entry).includes(secret));
  });

  it('a secret split across streamed answer events is redacted and never reaches the client', async () => {
    const t = await token();
    mock.respond(() => ({ sse: chatSseEvents(['Your key is AKIA4QWE', 'RTYUIOPASDFG', ' keep it safe']) }));
    const stream = await openai(t.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'key?' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    mock.respond(null);
    assert.equal(text, 'Your key is [REDACTED:secret.aws-access-key] keep it safe');
  });

  it('a BLOCK rule on the answer stops the stream with an error event; the forbidden text is never sent', async () => {
    const r = await admin('POST', '/admin/ai/rules', { name: 'project-x', pattern: 'PROJECT-X-[0-9]{4}', action: 'BLOCK', appliesTo: 'response' });
    assert.equal(r.status, 201);
    const t = await token();
    mock.respond(() => ({ sse: anthropicSseEvents(['The code name is PROJ', 'ECT-X-', '4242 and more text']) }));
    const stream = anthropic(t.token).messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'code name?' }] });
    let text = '';
    stream.on('text', (d) => (text += d));
    await assert.rejects(stream.finalMessage(), (e: any) => {
      assert.match(String(e.message), /custom\.project-x/);
      return true;
    });
    mock.respond(null);
    assert.ok(!text.includes('PROJ'), `client received ${JSON.stringify(text)}`);
    assert.equal(text, 'The code name is ');
    const [entry] = await auditOf(t.id, 1);
    assert.equal(entry.details.decision, 'block-response');
    assert.ok(entry.details.rules.includes('custom.project-x'));
  });
});

describe('AI proxy: OpenAI stream stopped by a BLOCK rule', () => {
  it('the OpenAI SDK stream ends with an APIError naming the rule; the forbidden text is never sent', async () => {
    await admin('POST', '/admin/ai/rules', { name: 'project-y', pattern: 'PROJECT-Y-[0-9]{4}', action: 'BLOCK', appliesTo: 'response' });
    const t = await token();
    mock.respond(() => ({ sse: chatSseEvents(['Status: fine. Code PROJECT', '-Y-12', '34 leaked']) }));
    const stream = await openai(t.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'status?' }], stream: true });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
      })(),
      (e: any) => e instanceof OpenAI.APIError && /custom\.project-y/.test(e.message),
    );
    mock.respond(null);
    assert.equal(text, 'Status: fine. Code ');
  });
});

describe('AI proxy: policy chain', () => {
  it('requests over the per-minute limit get 429', async () => {
    const t = await token({ rpm: 2 });
    const c = openai(t.token);
    const ask = () => c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    await ask();
    await ask();
    await assert.rejects(ask(), (e: any) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.status, 429);
      assert.match(e.message, /ai\.rate-limit\.requests/);
      return true;
    });
  });

  it('the spend cap settles to streamed usage; a request whose worst case no longer fits is refused', async () => {
    // gpt-4o: 2.5 USD / M input, 10 USD / M output. Reserved: ~23 input tokens (bytes / 4)
    // + max_tokens 5 ≈ 0.000108 USD; charged: 10 in + 5 out = 0.000075 USD.
    const t = await token({ spendCapUsd: 0.00012 });
    const c = openai(t.token);
    const stream = await c.chat.completions.create({ model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const chunk of stream) void chunk;
    assert.equal(mock.received.at(-1)!.json.stream_options.include_usage, true);
    const [entry] = await auditOf(t.id, 1);
    assert.equal(entry.details.costUsd, 0.000075);
    assert.equal(entry.details.tokensIn, 10);
    assert.equal(entry.details.tokensOut, 5);
    await assert.rejects(c.chat.completions.create({ model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }), (e: any) => {
      assert.equal(e.status, 403);
      assert.equal(e.code, 'spend_cap');
      assert.match(e.message, /ai\.spend-cap/);
      // The reservation was settled to the streamed usage, not kept at the estimate.
      assert.match(e.message, /\(0\.000075 USD spent or reserved\)/);
      return true;
    });
  });

  it('the spend cap holds under concurrent requests: only one of five in flight is let through', async () => {
    // Each reserves ≈ 0.00055 USD (max_tokens 50 at 10 USD / M + input): one fits in 0.0006.
    const t = await token({ spendCapUsd: 0.0006 });
    const c = openai(t.token);
    mock.respond(() => ({ json: chatJson('slow answer'), delayMs: 150 }));
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => c.chat.completions.create({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] })));
    mock.respond(null);
    assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? 200 : (r.reason as any).status)).sort(), [200, 403, 403, 403, 403]);
  });

  it('a model outside the token allowlist is refused with 403', async () => {
    const t = await token({}, { models: ['gpt-4o-mini'] });
    await assert.rejects(openai(t.token).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), (e: any) => e.status === 403 && /ai\.model-allowlist/.test(e.message));
    const models = await openai(t.token).models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['gpt-4o-mini']);
  });

  it('shadow mode records what would be refused but enforces nothing', async () => {
    const t = await token({ shadow: true, rpm: 1, ipAllow: ['10.0.0.0/8'] }, { models: ['gpt-4o-mini'] });
    const c = openai(t.token);
    for (let i = 0; i < 3; i++) await c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `mail carol@example.com ${i}` }] });
    const sent = mock.received.at(-1)!.json.messages[0].content;
    assert.equal(sent, 'mail carol@example.com 2', 'shadow mode must not rewrite the request');
    const entries = await auditOf(t.id, 3);
    assert.deepEqual(entries.map((e) => e.result), ['200', '200', '200']);
    assert.deepEqual(entries[2].details.rules, ['shadow:ai.ip-allowlist', 'shadow:ai.model-allowlist', 'shadow:ai.rate-limit.requests']);
    assert.equal(entries[2].details.decision, 'allow');
  });

  it('approval: approved requests pass, rejected ones get 403, undecided ones expire', async () => {
    const t = await token({ requireApproval: true, approvalTimeoutMs: 400 });
    const c = openai(t.token);
    const ask = () => c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const decide = async (verb: 'approve' | 'reject') => {
      for (let i = 0; i < 500; i++) {
        const list = await admin('GET', '/admin/ai/approvals?status=pending');
        const mine = list.json.approvals.find((a: any) => a.tokenId === t.id);
        if (mine) return admin('POST', `/admin/ai/approvals/${mine.id}/${verb}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('no pending approval appeared');
    };
    const [ok, d1] = await Promise.all([ask(), decide('approve')]);
    assert.equal(d1.status, 200);
    assert.equal(ok.choices[0].message.content, 'Hello from mock');
    const [rej] = await Promise.allSettled([ask(), decide('reject')]);
    assert.equal(rej.status, 'rejected');
    assert.equal((rej as PromiseRejectedResult).reason.status, 403);
    await assert.rejects(ask(), (e: any) => e.status === 403 && /not approved in time/.test(e.message));
  });
});

function responsesJson(text: string): unknown {
  return {
    id: 'resp_mock', object: 'response', created_at: 1_700_000_000, model: 'gpt-4o-mini', status: 'completed',
    output: [{ type: 'message', id: 'msg_mock', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] }],
    usage: { input_tokens: 7, output_tokens: 3, total_tokens: 10 },
  };
}

function responsesSse(pieces: string[]): string[] {
  const ev = (o: any) => `event: ${o.type}\ndata: ${JSON.stringify(o)}\n\n`;
  const full = pieces.join('');
  const done = responsesJson(full) as any;
  return [
    ev({ type: 'response.created', sequence_number: 0, response: { ...done, status: 'in_progress', output: [], usage: null } }),
    ...pieces.map((p, i) => ev({ type: 'response.output_text.delta', sequence_number: i + 1, item_id: 'msg_mock', output_index: 0, content_index: 0, delta: p })),
    ev({ type: 'response.output_text.done', sequence_number: 90, item_id: 'msg_mock', output_index: 0, content_index: 0, text: full }),
    ev({ type: 'response.completed', sequence_number: 91, response: done }),
  ];
}

describe('AI proxy: the other endpoints', () => {
  it('Responses API: input masked, answer restored (non-stream and stream, placeholder split)', async () => {
    const t = await token();
    const c = openai(t.token);
    mock.respond(() => ({ json: responsesJson('Host EC2_001 is fine') }));
    const r1 = await c.responses.create({ model: 'gpt-4o-mini', instructions: 'ops bot', input: 'check i-0123456789abcdef0' });
    assert.equal(mock.received.at(-1)!.json.input, 'check EC2_001');
    assert.equal(r1.output_text, 'Host i-0123456789abcdef0 is fine');
    mock.respond(() => ({ sse: responsesSse(['Host EC', '2_00', '1 rebooted']) }));
    const stream = await c.responses.create({ model: 'gpt-4o-mini', input: 'check i-0123456789abcdef0', stream: true });
    let text = '';
    let completed: any;
    for await (const e of stream) {
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.completed') completed = e.response;
    }
    mock.respond(null);
    assert.equal(text, 'Host i-0123456789abcdef0 rebooted');
    assert.equal(completed.output[0].content[0].text, 'Host i-0123456789abcdef0 rebooted');
  });

  it('embeddings: inputs are masked before the upstream', async () => {
    const t = await token();
    const out = await openai(t.token).embeddings.create({ model: 'text-embedding-3-small', input: ['vpc-0a1b2c3d4e5f67890 routes', 'plain'] });
    assert.equal(out.data.length, 1);
    assert.deepEqual(mock.received.at(-1)!.json.input, ['VPC_001 routes', 'plain']);
  });

  it('Anthropic system prompt, tool results and count_tokens are scanned', async () => {
    const t = await token();
    const a = anthropic(t.token);
    await a.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 16,
      system: 'Account owner: frank@example.com',
      messages: [
        { role: 'user', content: 'what did the tool say?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'lookup', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: 'instance i-0123456789abcdef0 in subnet-0123abcd4567ef890' }] },
      ],
    });
    const sent = mock.received.at(-1)!.json;
    assert.equal(sent.system, 'Account owner: EMAIL_001');
    assert.equal(sent.messages[2].content[0].content, 'instance EC2_001 in SUBNET_001');
    const n = await a.messages.countTokens({ model: 'claude-sonnet-5-5', messages: [{ role: 'user', content: 'mail frank@example.com' }] });
    assert.equal(n.input_tokens, 42);
    assert.equal(mock.received.at(-1)!.path, '/v1/messages/count_tokens');
    assert.equal(mock.received.at(-1)!.json.messages[0].content, 'mail EMAIL_001');
  });
});

describe('AI proxy: upstream resilience and hygiene', () => {
  it('a 503 from the provider is retried and the answer delivered', async () => {
    const t = await token();
    let n = 0;
    mock.respond(() => (n++ === 0 ? { status: 503, json: { error: { message: 'overloaded' } } } : { json: chatJson('second try') }));
    const out = await openai(t.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    mock.respond(null);
    assert.equal(out.choices[0].message.content, 'second try');
    assert.equal(n, 2);
  });

  it('the fallback upstream answers when the primary keeps failing', async () => {
    assert.equal((await admin('POST', '/admin/ai/upstreams', { name: 'oa-down', provider: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1', apiKey: 'sk-down-000000000000' })).status, 201);
    const r = await admin('POST', '/admin/ai/tokens', { name: 'fb', upstreams: ['oa-down', 'oa'] });
    const out = await openai(r.json.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(out.choices[0].message.content, 'Hello from mock');
    const [entry] = await auditOf(r.json.id, 1);
    assert.equal(entry.details.upstream, 'oa');
  });

  it('added latency through the proxy (printed, not asserted)', async () => {
    const t = await token();
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(4000) + ' mail alice@example.com' }] });
    const time = async (url: string, auth: string) => {
      const t0 = performance.now();
      const res = await fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      return { ms: performance.now() - t0, overhead: Number(res.headers.get('x-fedgate-overhead-ms')) };
    };
    const direct: number[] = [];
    const via: number[] = [];
    const header: number[] = [];
    for (let i = 0; i < 150; i++) {
      direct.push((await time(`${mock.url}/v1/chat/completions`, `Bearer ${OPENAI_KEY}`)).ms);
      const v = await time(`${base}/v1/chat/completions`, `Bearer ${t.token}`);
      via.push(v.ms);
      header.push(v.overhead);
    }
    const pct = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
    console.log(`# 4 KiB chat, 1 client, 150 req: direct p50 ${pct(direct, 0.5).toFixed(2)} ms p99 ${pct(direct, 0.99).toFixed(2)} ms; via proxy p50 ${pct(via, 0.5).toFixed(2)} ms p99 ${pct(via, 0.99).toFixed(2)} ms; x-fedgate-overhead-ms p50 ${pct(header, 0.5).toFixed(2)} p99 ${pct(header, 0.99).toFixed(2)}`);
    assert.equal(via.length, 150);
  });

  it('the provider key appears in no audit entry and no log line', async () => {
    await audit.flush();
    const all = await db.pool.query("SELECT actor, action, resource, result, details::text AS d FROM audit_log WHERE plane = 'ai'");
    assert.ok(all.rows.length > 10);
    const text = JSON.stringify(all.rows) + logText;
    assert.ok(!text.includes(OPENAI_KEY));
    assert.ok(!text.includes(ANTHROPIC_KEY));
    assert.ok(!text.includes('alice@example.com'));
    assert.ok(!text.includes('fgt_'));
  });
});
