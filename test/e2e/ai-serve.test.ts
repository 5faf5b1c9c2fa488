// `fedgate serve` as a user starts it: the AI proxy listener comes up next to the S3
// and admin listeners, /admin/ai/* is served by the admin API behind its bearer token,
// and the real OpenAI SDK works through a virtual token. SIGTERM stops everything.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { startMockLlm, type MockLlm } from '../helpers/mock-llm.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const ADMIN = 'e2e-admin-token-' + Math.random().toString(36).slice(2);
const PROVIDER_KEY = 'sk-e2e-provider-key-0123456789abcdef';

describe('fedgate serve with the AI proxy', () => {
  let db: TestDatabase;
  let mock: MockLlm;
  let dataDir: string;
  let proc: ChildProcess;
  let stderr = '';
  let adminUrl = '';
  let aiUrl = '';

  before(async () => {
    db = await createTestDatabase();
    mock = await startMockLlm();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fedgate-ai-e2e-'));
    proc = spawn(NODE, [path.join(ROOT, 'bin/fedgate.ts'), 'serve'], {
      env: {
        ...process.env,
        FEDGATE_DATA_DIR: dataDir,
        DATABASE_URL: db.url,
        FEDGATE_ADMIN_TOKEN: ADMIN,
        FEDGATE_S3_PORT: '0',
        FEDGATE_ADMIN_PORT: '0',
        FEDGATE_AI_PORT: '0',
        FEDGATE_DEFAULT_BACKENDS: 'none',
        FEDGATE_LOG_LEVEL: 'warn',
        REDIS_URL: '',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const until = Date.now() + 45_000;
    while (Date.now() < until && !/AI proxy: http:\/\/[^:]+:\d+/.test(stderr)) {
      if (proc.exitCode !== null) throw new Error(`fedgate exited: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    adminUrl = `http://127.0.0.1:${/admin API: http:\/\/[^:]+:(\d+)/.exec(stderr)![1]}`;
    aiUrl = `http://127.0.0.1:${/AI proxy: http:\/\/[^:]+:(\d+)/.exec(stderr)![1]}`;
  });

  after(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
    }
    await mock?.close();
    await db?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  const admin = async (method: string, p: string, body?: unknown, token = ADMIN) => {
    const res = await fetch(adminUrl + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };

  it('the admin API refuses /admin/ai/* without the admin token', async () => {
    const r = await admin('POST', '/admin/ai/upstreams', { name: 'x', provider: 'openai', baseUrl: mock.url, apiKey: 'k' }, 'wrong');
    assert.equal(r.status, 401);
  });

  it('an upstream and a token made through the admin API carry an OpenAI SDK call end to end', async () => {
    assert.equal((await admin('POST', '/admin/ai/upstreams', { name: 'mock', provider: 'openai-compatible', baseUrl: `${mock.url}/v1`, apiKey: PROVIDER_KEY })).status, 201);
    const bad = await admin('POST', '/admin/ai/tokens', { name: 'x', upstreams: ['nope'] });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'NoSuchUpstream');
    const t = await admin('POST', '/admin/ai/tokens', { name: 'agent', upstreams: ['mock'] });
    assert.equal(t.status, 201);
    const client = new OpenAI({ apiKey: t.json.token, baseURL: `${aiUrl}/v1`, maxRetries: 0 });
    const out = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(out.choices[0].message.content, 'Hello from mock');
    assert.equal(mock.received.at(-1)!.headers.authorization, `Bearer ${PROVIDER_KEY}`);
    const list = await admin('GET', '/admin/ai/tokens');
    assert.equal(list.status, 200);
    assert.ok(!JSON.stringify(list.json).includes(t.json.token), 'a token is shown once, never listed');
    const metrics = await (await fetch(`${aiUrl}/metrics`)).text();
    assert.match(metrics, /fedgate_ai_requests_total\{route="chat",status="200",decision="allow"\} 1/);
    assert.ok(!stderr.includes(PROVIDER_KEY));
  });

  it('SIGTERM stops fedgate serve cleanly', async () => {
    proc.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    assert.equal(code, 0);
  });
});
