// Memory of the in-process KV (the store without Redis): mask tables of conversations
// that ended must not stay in the process once their TTL has passed, however few.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryKv } from '../../ai-proxy/kv.ts';
import { openMaskSession } from '../../ai-proxy/masking.ts';

describe('in-process KV memory', () => {
  it('drops expired mask tables while new conversations keep arriving', async () => {
    let t = 0;
    const kv = createMemoryKv(() => t);
    const ttl = 60_000;
    // 3000 conversations, one new per 100 ms, each masking one value: at any moment only
    // the last 600 (one TTL) are alive.
    for (let i = 0; i < 3000; i++) {
      t += 100;
      const s = await openMaskSession(kv, `conv-${i}`, ttl);
      assert.equal(await s.mask(`10.0.${i >> 8}.${i & 255}`, 'ip'), 'IP_001');
    }
    assert.ok(kv.size <= 600 + 1000, `the store holds ${kv.size} mask tables for 600 live conversations`);
    // A live conversation still restores its placeholder.
    const last = await openMaskSession(kv, 'conv-2999', ttl);
    assert.equal(last.restore('see IP_001'), `see 10.0.${2999 >> 8}.${2999 & 255}`);
  });

  it('keeps every live table (only expired ones are swept)', async () => {
    let t = 0;
    const kv = createMemoryKv(() => t);
    for (let i = 0; i < 2500; i++) {
      t += 1;
      await (await openMaskSession(kv, `c${i}`, 3_600_000)).mask(`user${i}@example.org`, 'email');
    }
    assert.equal(kv.size, 2500);
    const first = await openMaskSession(kv, 'c0', 3_600_000);
    assert.equal(first.restore('EMAIL_001'), 'user0@example.org');
  });
});
