// The in-process KV's sliding window and capped counter (the fallback without Redis),
// on an injected clock: the same answers the Redis scripts give.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryKv } from '../../ai-proxy/kv.ts';

describe('in-process sliding window', () => {
  it('admits `limit` per window at any offset and says when the next one fits', async () => {
    let t = 59_000;
    const kv = createMemoryKv(() => t);
    for (let i = 0; i < 3; i++) assert.equal((await kv.slidingAdd('k', 60_000, 1, 3)).ok, true);
    // Past the minute boundary a fixed window would start again; the sliding one does not.
    t = 61_000;
    const refused = await kv.slidingAdd('k', 60_000, 1, 3);
    assert.deepEqual(refused, { ok: false, total: 3, retryAfterMs: 58_000 });
    t = 59_000 + 60_000;
    assert.deepEqual(await kv.slidingAdd('k', 60_000, 1, 3), { ok: true, total: 1, retryAfterMs: 0 });
  });

  it('sums amounts; amount 0 is a pure check', async () => {
    let t = 0;
    const kv = createMemoryKv(() => t);
    await kv.slidingAdd('tok', 1000, 700, -1);
    t = 500;
    await kv.slidingAdd('tok', 1000, 400, -1);
    assert.deepEqual(await kv.slidingAdd('tok', 1000, 0, 999), { ok: false, total: 1100, retryAfterMs: 500 });
    t = 1000;
    assert.deepEqual(await kv.slidingAdd('tok', 1000, 0, 999), { ok: true, total: 400, retryAfterMs: 0 });
  });
});

describe('in-process capped counter', () => {
  it('reports a missing key, seeds it, and refuses what would pass the cap', async () => {
    const kv = createMemoryKv();
    assert.deepEqual(await kv.addCapped('s', 10, 100, 60_000, null), { ok: false, total: 0, missing: true });
    assert.deepEqual(await kv.addCapped('s', 40, 100, 60_000, 50), { ok: true, total: 90, missing: false });
    assert.deepEqual(await kv.addCapped('s', 11, 100, 60_000, null), { ok: false, total: 90, missing: false });
    assert.deepEqual(await kv.addCapped('s', 10, 100, 60_000, null), { ok: true, total: 100, missing: false });
    assert.deepEqual(await kv.addCapped('s', -30, -1, 60_000, null), { ok: true, total: 70, missing: false });
  });
});
