// What reaches the client in answers, with the real `openai` and `@anthropic-ai/sdk`
// clients against the mock provider: tool-call arguments are guarded like text
// (streamed and not), MASK rules hold on the answer side, and the approval webhook is
// retried, signed and audited. Real PostgreSQL, in-process KV.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { PassThrough } from 'node:stream';
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { startMockLlm, chatJson, anthropicJson, anthropicSseEvents, chatSseEvents, type MockLlm } from '../helpers/mock-llm.ts';
import { createVault } from '../../shared/vault/index.ts';
import { createAuditLog, type AuditLog } from '../../shared/audit/index.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { createDetector } from '../../ai-proxy/detection/index.ts';
import { openAiState, startAiProxy, type AiProxy } from '../../ai-proxy/main.ts';
import { createAiAdminRoutes } from '../../ai-proxy/admin.ts';
import type { AiStore, TokenPolicy } from '../../ai-proxy/store.ts';

const AWS_KEY = 'AKIA4QWERTYUIOPASDFG';
const GLOBAL_SECRET = 'global-webhook-secret-' + randomBytes(8).toString('hex');

let db: TestDatabase;
let audit: AuditLog;
let mock: MockLlm;
let proxy: AiProxy;
let store: AiStore;
let base: string;
let adminServer: http.Server;
let adminUrl: string;
const logs = new PassThrough();
let logText = '';
logs.on('data', (c: Buffer) => (logText += c.toString('utf8')));

before(async () => {
  db = await createTestDatabase();
  audit = createAuditLog(db.pool, { flushMs: 20 });
  const state = openAiState({ pool: db.pool, vault: createVault(randomBytes(32)) });
  store = state.store;
  mock = await startMockLlm();
  proxy = await startAiProxy(
    { ...state, audit, log: createLogger('debug', logs), createDetector, approvalPollMs: 20, approvalWebhookSecret: GLOBAL_SECRET, webhookBackoffMs: 50 },
    { port: 0, host: '127.0.0.1' },
  );
  base = `http://127.0.0.1:${proxy.port}`;
  await store.addUpstream({ name: 'oa', provider: 'openai', baseUrl: `${mock.url}/v1`, apiKey: 'sk-upstream-openai-key-answers-0000' });
  await store.addUpstream({ name: 'an', provider: 'anthropic', baseUrl: mock.url, apiKey: 'sk-ant-upstream-key-answers-0000' });
  await store.addRule({ name: 'codename', pattern: 'PROJECT-Z-[0-9]{4}', action: 'BLOCK', appliesTo: 'response' });
  const routes = createAiAdminRoutes({ store });
  adminServer = http.createServer((req, res) => void routes(req, res, new URL(req.url ?? '/', 'http://a')));
  await new Promise<void>((r) => adminServer.listen(0, '127.0.0.1', r));
  adminUrl = `http://127.0.0.1:${(adminServer.address() as AddressInfo).port}`;
});

after(async () => {
  await proxy?.close(100);
  await store?.close();
  await mock?.close();
  await new Promise((r) => adminServer?.close(r));
  await audit?.close().catch(() => {});
  await db?.drop();
});

const issue = async (policy: TokenPolicy = {}) => (await store.issueToken({ name: 't', upstreams: ['oa', 'an'], policy })).token;
const openai = (t: string) => new OpenAI({ apiKey: t, baseURL: `${base}/v1`, maxRetries: 0 });
const anthropic = (t: string) => new Anthropic({ apiKey: t, baseURL: base, maxRetries: 0 });

/** OpenAI chat chunks of one streamed tool call whose arguments arrive in `pieces`. */
function chatToolSse(name: string, pieces: string[]): string[] {
  const base = { id: 'chatcmpl-tool', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini' };
  const ev = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  return [
    ev({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name, arguments: '' } }] }, finish_reason: null }] }),
    ...pieces.map((p) => ev({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: p } }] }, finish_reason: null }] })),
    ev({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
    ev({ ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } }),
    'data: [DONE]\n\n',
  ];
}

/** Anthropic stream of one tool_use block whose input JSON arrives in `pieces`. */
function anthropicToolSse(name: string, pieces: string[]): string[] {
  const ev = (n: string, o: unknown) => `event: ${n}\ndata: ${JSON.stringify(o)}\n\n`;
  return [
    ev('message_start', { type: 'message_start', message: { id: 'msg_tool', type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name, input: {} } }),
    ...pieces.map((p) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: p } })),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 5 } }),
    ev('message_stop', { type: 'message_stop' }),
  ];
}

const tools = [{ type: 'function' as const, function: { name: 'reboot', parameters: { type: 'object', properties: {} } } }];

describe('tool-call arguments are guarded like text', () => {
  it('OpenAI stream: a key split across argument deltas is redacted, a split placeholder restored', async () => {
    const t = await issue();
    mock.respond(() => ({ sse: chatToolSse('reboot', ['{"instance":"EC', '2_001","key":"AKIA4QWE', 'RTYUIOPASDFG","why":"ok"}']) }));
    const stream = await openai(t).chat.completions.create({ model: 'gpt-4o-mini', tools, messages: [{ role: 'user', content: 'reboot i-0abcd1234ef567890' }], stream: true });
    let args = '';
    for await (const c of stream) args += c.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '';
    mock.respond(null);
    assert.equal(mock.received.at(-1)!.json.messages[0].content, 'reboot EC2_001');
    assert.ok(!args.includes('AKIA') && !args.includes('RTYUIOPASDFG'), args);
    assert.deepEqual(JSON.parse(args), { instance: 'i-0abcd1234ef567890', key: '[REDACTED:secret.aws-access-key]', why: 'ok' });
  });

  it('Anthropic stream: a placeholder split across input_json_delta events is restored in the tool input', async () => {
    const t = await issue();
    mock.respond(() => ({ sse: anthropicToolSse('reboot', ['{"instance": "EC2', '_00', '1", "note": "now"}']) }));
    const final = await anthropic(t)
      .messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'reboot i-0fedcba9876543210' }] })
      .finalMessage();
    mock.respond(null);
    assert.equal(mock.received.at(-1)!.json.messages[0].content, 'reboot EC2_001');
    const block = final.content[0];
    assert.equal(block.type, 'tool_use');
    assert.deepEqual((block as { input: unknown }).input, { instance: 'i-0fedcba9876543210', note: 'now' });
  });

  it('Anthropic stream: a BLOCK rule in tool arguments stops the stream before the value leaves', async () => {
    const t = await issue();
    mock.respond(() => ({ sse: anthropicToolSse('deploy', ['{"target": "PROJ', 'ECT-Z-12', '34", "x": 1}']) }));
    const stream = anthropic(t).messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'deploy' }] });
    let json = '';
    stream.on('inputJson', (delta) => (json += delta));
    await assert.rejects(stream.finalMessage(), (e: Error) => /custom\.codename/.test(e.message));
    mock.respond(null);
    assert.ok(!json.includes('PROJ'), json);
  });

  it('non-streamed tool calls: OpenAI arguments and Anthropic tool_use input are redacted and restored', async () => {
    const t = await issue();
    const answer = chatJson('') as any;
    answer.choices[0].message = { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'reboot', arguments: `{"instance":"EC2_001","key":"${AWS_KEY}"}` } }] };
    answer.choices[0].finish_reason = 'tool_calls';
    mock.respond(() => ({ json: answer }));
    const out = await openai(t).chat.completions.create({ model: 'gpt-4o-mini', tools, messages: [{ role: 'user', content: 'reboot i-0abcd1234ef567890' }] });
    const tc = out.choices[0].message.tool_calls![0] as { function: { arguments: string } };
    assert.deepEqual(JSON.parse(tc.function.arguments), { instance: 'i-0abcd1234ef567890', key: '[REDACTED:secret.aws-access-key]' });

    const msg = anthropicJson('') as any;
    msg.content = [{ type: 'tool_use', id: 'toolu_1', name: 'reboot', input: { hosts: [{ id: 'EC2_001' }], key: AWS_KEY } }];
    mock.respond(() => ({ json: msg }));
    const a = await anthropic(t).messages.create({ model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'reboot i-0fedcba9876543210' }] });
    mock.respond(null);
    assert.deepEqual((a.content[0] as { input: unknown }).input, { hosts: [{ id: 'i-0fedcba9876543210' }], key: '[REDACTED:secret.aws-access-key]' });
  });

  it('tool-call arguments sent back in the history are masked before the upstream', async () => {
    const t = await issue();
    await openai(t).chat.completions.create({
      model: 'gpt-4o-mini',
      tools,
      messages: [
        { role: 'user', content: 'reboot my box' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'reboot', arguments: '{"instance":"i-0abcd1234ef567890","owner":"ann@example.com"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'done' },
      ],
    });
    assert.equal(mock.received.at(-1)!.json.messages[1].tool_calls[0].function.arguments, '{"instance":"EC2_001","owner":"EMAIL_001"}');
  });
});

describe('MASK rules on the answer side', () => {
  it('non-streamed: a new value from the model gets a placeholder, the client\'s own values come back', async () => {
    const t = await issue();
    const first = 'mail alice@example.com about the outage';
    mock.respond(() => ({ json: chatJson('Wrote to EMAIL_001, cc mallory@evil.example.org; alice@example.com confirmed. Host i-0aaaabbbbcccc1111 is down.') }));
    const a = await openai(t).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: first }] });
    const text = a.choices[0].message.content!;
    assert.equal(text, 'Wrote to alice@example.com, cc EMAIL_002; alice@example.com confirmed. Host EC2_001 is down.');
    // Next turn: the client's history holds the placeholders; the model's answer about them
    // stays masked the same way (the mapping is the conversation's).
    mock.respond(() => ({ json: chatJson('EMAIL_002 is mallory@evil.example.org, EC2_001 is i-0aaaabbbbcccc1111') }));
    const b = await openai(t).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: first },
        { role: 'assistant', content: text },
        { role: 'user', content: 'who is EMAIL_002?' },
      ],
    });
    mock.respond(null);
    assert.equal(mock.received.at(-1)!.json.messages[1].content, 'Wrote to EMAIL_001, cc EMAIL_002; EMAIL_001 confirmed. Host EC2_001 is down.');
    assert.equal(b.choices[0].message.content, 'EMAIL_002 is EMAIL_002, EC2_001 is EC2_001');
  });

  it('streamed (Anthropic): a new e-mail split across events is masked, the restored original passes', async () => {
    const t = await issue();
    mock.respond(() => ({ sse: anthropicSseEvents(['Forwarded EMAIL_', '001 to tre', 'nt@corp.exam', 'ple.com today.']) }));
    const final = await anthropic(t)
      .messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'forward bob@example.org' }] })
      .finalMessage();
    mock.respond(null);
    assert.equal((final.content[0] as { text: string }).text, 'Forwarded bob@example.org to EMAIL_002 today.');
  });

  it('streamed (OpenAI): the raw deltas never carry the new value', async () => {
    const t = await issue();
    mock.respond(() => ({ sse: chatSseEvents(['Owner of 4111 1111', ' 1111 1111 is ', 'dora@example.net.']) }));
    const stream = await openai(t).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'who owns the card?' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    mock.respond(null);
    assert.ok(!text.includes('dora@') && !text.includes('4111'), text);
    assert.match(text, /^Owner of [A-Z]+_001 is EMAIL_001\.$/);
  });
});

describe('approval webhook', () => {
  it('is retried after a failure, signed with HMAC-SHA256 and its delivery is audited', async () => {
    const secret = 'policy-webhook-secret-' + randomBytes(8).toString('hex');
    const got: Array<{ body: string; headers: http.IncomingHttpHeaders }> = [];
    let approvalId = '';
    const receiver = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      got.push({ body, headers: req.headers });
      if (got.length === 1) return void res.writeHead(500).end('try later');
      approvalId = JSON.parse(body).approvalId;
      res.writeHead(204).end();
      // The admin decides once notified.
      await store.decideApproval(approvalId, 'approved');
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/fedgate?k=1`;
    try {
      const issued = await store.issueToken({ name: 'needs-ok', upstreams: ['oa'], policy: { requireApproval: true, approvalTimeoutMs: 20_000, webhookUrl: hook, webhookSecret: secret } });
      const out = await openai(issued.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(out.choices[0].message.content, 'Hello from mock');
      assert.equal(got.length, 2);
      assert.equal(got[0].body, got[1].body, 'a retry resends the same delivery');
      for (const g of got) {
        const expected = 'sha256=' + createHmac('sha256', secret).update(g.body).digest('hex');
        assert.equal(g.headers['x-fedgate-signature-256'], expected);
        assert.equal(g.headers['x-fedgate-delivery'], JSON.parse(g.body).deliveryId);
      }
      const payload = JSON.parse(got[1].body);
      assert.equal(payload.tokenId, issued.id);
      assert.equal(payload.event, 'approval.requested');
      let entry: { result: string; details: any } | undefined;
      for (let i = 0; i < 200 && !entry; i++) {
        await audit.flush();
        entry = (await db.pool.query("SELECT result, details FROM audit_log WHERE action = 'approval.webhook' AND actor = $1", [issued.id])).rows[0];
        if (!entry) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(entry, 'no audit entry for the webhook delivery');
      assert.equal(entry.result, 'delivered');
      assert.equal(entry.details.attempts, 2);
      assert.deepEqual(entry.details.outcomes, ['500', '204']);
      assert.equal(entry.details.signed, true);
      assert.equal(entry.details.target, new URL(hook).origin);
      // The secret is write-only: not in the table, the admin listing, the audit log or the logs.
      const row = (await db.pool.query('SELECT policy::text AS p FROM ai_tokens WHERE id = $1', [issued.id])).rows[0];
      const listing = await (await fetch(`${adminUrl}/admin/ai/tokens`)).text();
      const auditText = JSON.stringify((await db.pool.query('SELECT details FROM audit_log')).rows);
      for (const [where, text] of [['ai_tokens', row.p], ['admin listing', listing], ['audit', auditText], ['logs', logText]]) assert.ok(!text.includes(secret), `secret found in ${where}`);
      assert.match(listing, /"webhookSigned":true/);
    } finally {
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    }
  });

  it('tokens without their own secret are signed with the global one; a dead receiver is audited as failed after 3 attempts', async () => {
    let seen = 0;
    let sig = '';
    let body = '';
    const receiver = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      seen++;
      body = Buffer.concat(chunks).toString('utf8');
      sig = String(req.headers['x-fedgate-signature-256']);
      res.writeHead(503).end();
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const issued = await store.issueToken({ name: 'dead-hook', upstreams: ['oa'], policy: { requireApproval: true, approvalTimeoutMs: 600, webhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/` } });
      await assert.rejects(openai(issued.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }), (e: any) => e.status === 403);
      let entry: { result: string; details: any } | undefined;
      for (let i = 0; i < 200 && !entry; i++) {
        await audit.flush();
        entry = (await db.pool.query("SELECT result, details FROM audit_log WHERE action = 'approval.webhook' AND actor = $1", [issued.id])).rows[0];
        if (!entry) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(entry);
      assert.equal(entry.result, 'failed');
      assert.deepEqual(entry.details.outcomes, ['503', '503', '503']);
      assert.equal(seen, 3);
      assert.equal(sig, 'sha256=' + createHmac('sha256', GLOBAL_SECRET).update(body).digest('hex'));
    } finally {
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    }
  });
});
