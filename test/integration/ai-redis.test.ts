// Two AI proxy instances sharing one Redis (REDIS_URL): rate limits and mask tables
// hold across instances. Skipped when no redis-server binary is installed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { startMockLlm, chatJson, type MockLlm } from '../helpers/mock-llm.ts';
import { createVault } from '../../shared/vault/index.ts';
import { createAuditLog, type AuditLog } from '../../shared/audit/index.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { createDetector } from '../../ai-proxy/detection/index.ts';
import { openAiState, startAiProxy, type AiProxy } from '../../ai-proxy/main.ts';
import type { Kv } from '../../ai-proxy/kv.ts';
import { hasRedisServer as hasRedis, startRedisServer } from '../helpers/redis.ts';

// .ci/run installs redis-server: under CI a missing one is a failure, not a skip.
if (!hasRedis && process.env.CI === 'true') throw new Error('redis-server is not installed (.ci/run installs it)');

describe('AI proxy on Redis, two instances', { skip: hasRedis ? false : 'redis-server is not installed' }, () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let db: TestDatabase;
  let audit: AuditLog;
  let mock: MockLlm;
  const proxies: AiProxy[] = [];
  const kvs: Kv[] = [];
  const stores: Array<{ close(): Promise<void> }> = [];
  let token = '';
  let tokenId = '';

  before(async () => {
    redis = await startRedisServer();
    db = await createTestDatabase();
    audit = createAuditLog(db.pool, { flushMs: 20 });
    const vault = createVault(randomBytes(32));
    mock = await startMockLlm();
    const log = createLogger('silent');
    for (let i = 0; i < 2; i++) {
      const { store, kv } = openAiState({ pool: db.pool, vault, redisUrl: redis.url });
      kvs.push(kv);
      stores.push(store);
      if (i === 0) {
        await store.addUpstream({ name: 'oa', provider: 'openai', baseUrl: `${mock.url}/v1`, apiKey: 'sk-upstream-key-for-redis-test-000' });
        ({ token, id: tokenId } = await store.issueToken({ name: 'shared', upstreams: ['oa'], policy: { rpm: 3 } }));
      }
      proxies.push(await startAiProxy({ store, kv, audit, log, createDetector }, { port: 0, host: '127.0.0.1' }));
    }
  });

  after(async () => {
    for (const p of proxies) await p.close(100);
    for (const s of stores) await s.close();
    for (const k of kvs) await k.close();
    await mock?.close();
    await audit?.close().catch(() => {});
    await db?.drop();
    await redis?.stop();
  });

  const client = (i: number) => new OpenAI({ apiKey: token, baseURL: `http://127.0.0.1:${proxies[i].port}/v1`, maxRetries: 0 });

  it('a placeholder allocated by one instance is reused and restored by the other', async () => {
    const first = 'contact dave@example.com today';
    mock.respond((r) => ({ json: chatJson(`noted ${r.json.messages.at(-1).content}`) }));
    const a = await client(0).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: first }] });
    assert.equal(a.choices[0].message.content, `noted ${first}`);
    const b = await client(1).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: first },
        { role: 'assistant', content: a.choices[0].message.content! },
        { role: 'user', content: 'and erin@example.com too' },
      ],
    });
    mock.respond(null);
    const sent = mock.received.at(-1)!.json.messages;
    assert.equal(sent[0].content, 'contact EMAIL_001 today');
    assert.equal(sent[2].content, 'and EMAIL_002 too');
    assert.equal(b.choices[0].message.content, 'noted and erin@example.com too');
  });

  it('the per-minute request limit counts requests on both instances', async () => {
    // Fill the sliding window up to the limit, alternating instances; the next request is refused.
    const used = (await kvs[0].slidingAdd(`fg:rl:req:${tokenId}`, 60_000, 0, -1)).total;
    for (let i = used; i < 3; i++) await client(i % 2).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    await assert.rejects(client(0).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }), (e: any) => e.status === 429);
  });
});
