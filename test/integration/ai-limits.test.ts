// Rate limits and the spend cap under load, with the real OpenAI SDK: two AI proxy
// instances sharing one real Redis (REDIS_URL, else 127.0.0.1:6379, else a
// redis-server started here), and the in-process fallback of a single instance.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { hasRedisServer, reachable, startRedisServer } from '../helpers/redis.ts';
import { startMockLlm, chatJson, chatSseEvents, type MockLlm } from '../helpers/mock-llm.ts';
import { createVault, type Vault } from '../../shared/vault/index.ts';
import { createAuditLog, type AuditLog } from '../../shared/audit/index.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { createDetector } from '../../ai-proxy/detection/index.ts';
import { openAiState, startAiProxy, type AiProxy } from '../../ai-proxy/main.ts';
import type { AiStore } from '../../ai-proxy/store.ts';
import type { Kv } from '../../ai-proxy/kv.ts';
import type { CostTable } from '../../ai-proxy/cost.ts';

// Short windows keep the test fast; the algorithm does not depend on the length.
const WINDOW_MS = 3000;
// Only output is priced, so a request's reservation (max_tokens × price) is known
// exactly: 100 tokens × 10 USD / M = 0.001 USD.
const COSTS: CostTable = { 'capped-model': { input: 0, output: 10 } };

async function redisUrl(): Promise<{ url: string; stop?: () => Promise<void> }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL };
  if (await reachable(6379)) return { url: 'redis://127.0.0.1:6379' };
  if (!hasRedisServer) throw new Error('no Redis at 127.0.0.1:6379 and no redis-server binary');
  return startRedisServer();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const statusOf = (r: PromiseSettledResult<unknown>) => (r.status === 'fulfilled' ? 200 : ((r.reason as { status?: number }).status ?? 0));

let db: TestDatabase;
let audit: AuditLog;
let mock: MockLlm;
let vault: Vault;
let redis: { url: string; stop?: () => Promise<void> };
const cleanups: Array<() => Promise<void>> = [];

interface Fleet {
  store: AiStore;
  stores: AiStore[];
  ports: number[];
  kv: Kv;
}

/** `n` proxy instances; with a Redis URL each has its own connection to it, without one they are a single in-process instance. */
async function fleet(n: number, url: string | undefined): Promise<Fleet> {
  const out: Fleet = { store: undefined as unknown as AiStore, stores: [], ports: [], kv: undefined as unknown as Kv };
  for (let i = 0; i < n; i++) {
    const { store, kv } = openAiState({ pool: db.pool, vault, redisUrl: url });
    out.stores.push(store);
    if (i === 0) {
      out.store = store;
      out.kv = kv;
    }
    const proxy: AiProxy = await startAiProxy({ store, kv, audit, log: createLogger('silent'), createDetector, costs: COSTS, rateWindowMs: WINDOW_MS }, { port: 0, host: '127.0.0.1' });
    out.ports.push(proxy.port);
    cleanups.push(async () => {
      await proxy.close(100);
      await store.close();
      await kv.close();
    });
  }
  await out.store.addUpstream({ name: 'oa', provider: 'openai', baseUrl: `${mock.url}/v1`, apiKey: 'sk-upstream-key-for-limits-test-0000' });
  return out;
}

const clientsOf = (f: Fleet, token: string) => f.ports.map((port) => new OpenAI({ apiKey: token, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 }));

before(async () => {
  redis = await redisUrl();
  db = await createTestDatabase();
  audit = createAuditLog(db.pool, { flushMs: 20 });
  vault = createVault(randomBytes(32));
  mock = await startMockLlm();
});

after(async () => {
  for (const c of cleanups) await c().catch(() => {});
  await mock?.close();
  await audit?.close().catch(() => {});
  await db?.drop();
  await redis?.stop?.();
});

/**
 * N requests per window: a concurrent burst of 2N lets exactly N through and refuses the
 * rest with 429 + Retry-After; a request just after the next fixed-window boundary
 * (where a fixed-window counter would reset) is still refused; once the burst has left
 * the sliding window, requests pass again.
 */
async function rateScenario(clients: OpenAI[], n: number): Promise<void> {
  const ask = (i: number) => clients[i % clients.length].chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  // Start the burst at 60 % of a fixed window, so a fixed window would reset 0.4 W later.
  const pos = Date.now() % WINDOW_MS;
  await sleep((0.6 * WINDOW_MS - pos + WINDOW_MS) % WINDOW_MS);
  const burstAt = Date.now();
  const results = await Promise.allSettled(Array.from({ length: 2 * n }, (_, i) => ask(i)));
  const statuses = results.map(statusOf);
  assert.equal(statuses.filter((s) => s === 200).length, n, `statuses ${statuses}`);
  assert.equal(statuses.filter((s) => s === 429).length, n, `statuses ${statuses}`);
  for (const r of results) {
    if (r.status === 'fulfilled') continue;
    const e = r.reason as InstanceType<typeof OpenAI.RateLimitError>;
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.match(e.message, /ai\.rate-limit\.requests/);
    const retryAfter = Number(e.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= Math.ceil(WINDOW_MS / 1000), `retry-after ${retryAfter}`);
  }
  // Just past the fixed-window boundary, still inside the sliding window of the burst.
  await sleep(burstAt + 0.5 * WINDOW_MS - Date.now());
  let retryMs = 0;
  await assert.rejects(ask(0), (e: InstanceType<typeof OpenAI.RateLimitError>) => {
    assert.equal(e.status, 429);
    retryMs = Number(e.headers.get('retry-after-ms'));
    return true;
  });
  assert.ok(retryMs > 0 && retryMs <= WINDOW_MS, `retry-after-ms ${retryMs}`);
  // Retry-After is honest: after it, the window has slid past the burst.
  await sleep(retryMs + 50);
  const again = await Promise.allSettled([ask(1)]);
  assert.equal(statusOf(again[0]), 200);
}

describe('sliding-window rate limits', () => {
  it('two instances, one Redis: exactly N of a 2N burst pass, no double burst across a window boundary', async () => {
    const f = await fleet(2, redis.url);
    const t = await f.store.issueToken({ name: 'rl', upstreams: ['oa'], policy: { rpm: 6 } });
    await rateScenario(clientsOf(f, t.token), 6);
  });

  it('the in-process fallback (no Redis) behaves the same', async () => {
    const f = await fleet(1, undefined);
    const t = await f.store.issueToken({ name: 'rl-mem', upstreams: ['oa'], policy: { rpm: 6 } });
    await rateScenario(clientsOf(f, t.token), 6);
  });

  it('tokens per window: once the answers reported tpm tokens, requests wait for the window to slide', async () => {
    const f = await fleet(2, redis.url);
    const t = await f.store.issueToken({ name: 'tpm', upstreams: ['oa'], policy: { tpm: 30 } });
    const [a, b] = clientsOf(f, t.token);
    mock.respond(() => ({ json: chatJson('ok', { prompt_tokens: 10, completion_tokens: 5 }) }));
    await a.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    await b.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    mock.respond(null);
    await assert.rejects(a.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }), (e: InstanceType<typeof OpenAI.RateLimitError>) => {
      assert.equal(e.status, 429);
      assert.match(e.message, /ai\.rate-limit\.tokens/);
      assert.ok(Number(e.headers.get('retry-after')) >= 1);
      return true;
    });
  });
});

describe('spend cap with reservations', () => {
  it('cap C, 20 concurrent requests of C/5 on two instances (half streamed): 5 pass, 15 refused, at most C spent', async () => {
    const f = await fleet(2, redis.url);
    const cap = 0.005;
    const t = await f.store.issueToken({ name: 'cap', upstreams: ['oa'], policy: { spendCapUsd: cap } });
    const clients = clientsOf(f, t.token);
    const usage = { prompt_tokens: 40, completion_tokens: 100 };
    // Slow answers: every request reserves while the others are still in flight.
    mock.respond((r) => (r.json.stream ? { sse: chatSseEvents(['paid', ' answer'], usage), delayMs: 40 } : { json: chatJson('paid answer', usage), delayMs: 300 }));
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, async (_, i) => {
        const c = clients[i % 2];
        if (i % 4 < 2) {
          const s = await c.chat.completions.create({ model: 'capped-model', max_tokens: 100, messages: [{ role: 'user', content: `q${i}` }], stream: true });
          for await (const chunk of s) void chunk;
          return 'streamed';
        }
        return c.chat.completions.create({ model: 'capped-model', max_tokens: 100, messages: [{ role: 'user', content: `q${i}` }] });
      }),
    );
    mock.respond(null);
    const statuses = results.map(statusOf);
    assert.equal(statuses.filter((s) => s === 200).length, 5, `statuses ${statuses}`);
    assert.equal(statuses.filter((s) => s === 403).length, 15, `statuses ${statuses}`);
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      const e = r.reason as InstanceType<typeof OpenAI.PermissionDeniedError>;
      assert.equal(e.code, 'spend_cap');
      assert.match(e.message, /ai\.spend-cap/);
    }
    for (const s of f.stores) await s.flush();
    const spent = Number((await db.pool.query('SELECT coalesce(sum(cost_usd), 0)::float8 AS s FROM ai_usage WHERE token_id = $1', [t.id])).rows[0].s);
    assert.ok(spent <= cap + 1e-12, `spent ${spent} over the cap ${cap}`);
    assert.equal(spent.toFixed(6), '0.005000');
    // Nothing is left reserved: the live counter equals what was charged.
    assert.equal((await f.kv.addCapped(`fg:spend:${t.id}`, 0, -1, 60_000, null)).total, 5000);
  });

  it('settling to a real cost below the reservation gives the rest back to the budget', async () => {
    const f = await fleet(2, redis.url);
    const t = await f.store.issueToken({ name: 'cap2', upstreams: ['oa'], policy: { spendCapUsd: 0.002 } });
    const clients = clientsOf(f, t.token);
    // Reserve 0.001 USD each, charged 0.0002 (20 output tokens): after k answers 0.0002·k
    // is spent and the next fits while 0.0002·k + 0.001 ≤ 0.002, i.e. 6 requests in a row.
    mock.respond(() => ({ json: chatJson('short', { prompt_tokens: 40, completion_tokens: 20 }) }));
    let passed = 0;
    for (let i = 0; i < 8; i++) {
      const [r] = await Promise.allSettled([clients[i % 2].chat.completions.create({ model: 'capped-model', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })]);
      if (statusOf(r) === 200) passed++;
      else assert.equal(statusOf(r), 403);
    }
    mock.respond(null);
    assert.equal(passed, 6);
  });
});
