// The hash-chained audit log on real PostgreSQL (PRODUCT.md §5.3): batching,
// one chain across concurrent writers, tamper detection, transactional appends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { createPool } from '../../metadata/db.ts';
import { createAuditLog, entryHash, GENESIS_HASH, type AuditEvent } from '../../shared/audit/index.ts';

function event(i: number, actor = 'tenant-1'): AuditEvent {
  return { plane: 's3', actor, action: 'GetObject', resource: `bucket/key-${i}`, result: '200', details: { seq: i, bytes: i * 10, latencyMs: 3 } };
}

async function withDb(fn: (db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  try {
    await fn(db);
  } finally {
    await db.drop();
  }
}

async function count(db: TestDatabase): Promise<number> {
  return (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log')).rows[0].n;
}

test('record() batches events and flush() appends them as one valid chain starting at 64 zeros', async () => {
  await withDb(async (db) => {
    const log = createAuditLog(db.pool, { flushMs: 10_000, maxBatch: 100 });
    for (let i = 0; i < 1000; i++) log.record(event(i));
    await log.flush();
    assert.equal(log.pending, 0);
    assert.equal(log.dropped, 0);
    assert.deepEqual(await log.verify(), { ok: true, checked: 1000 });
    const rows = (await db.pool.query('SELECT id, resource, prev_hash, hash FROM audit_log ORDER BY id')).rows;
    assert.equal(rows.length, 1000);
    assert.equal(rows[0].id, 1);
    assert.equal(rows[0].prev_hash, GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) {
      assert.equal(rows[i].id, i + 1);
      assert.equal(rows[i].prev_hash, rows[i - 1].hash);
      assert.equal(rows[i].resource, `bucket/key-${i}`);
    }
    const head = (await db.pool.query('SELECT last_id, last_hash FROM audit_head')).rows[0];
    assert.deepEqual(head, { last_id: 1000, last_hash: rows[999].hash });
    assert.deepEqual(await log.verify({ fromId: 500, limit: 100 }), { ok: true, checked: 100 });
    await log.close();
  });
});

test('events are flushed by the timer every flushMs without an explicit flush', async () => {
  await withDb(async (db) => {
    const log = createAuditLog(db.pool, { flushMs: 20, maxBatch: 1000 });
    for (let i = 0; i < 5; i++) log.record(event(i));
    const deadline = Date.now() + 5000;
    while ((await count(db)) < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await count(db), 5);
    await log.close();
  });
});

test('three AuditLog instances on separate pools appending 300 events each form one valid chain of 900', async (t) => {
  await withDb(async (db) => {
    const pools = [1, 2, 3].map(() => createPool({ connectionString: db.url, max: 4 }));
    const logs = pools.map((p) => createAuditLog(p, { flushMs: 5, maxBatch: 20 }));
    try {
      await Promise.all(
        logs.map(async (log, w) => {
          for (let i = 0; i < 300; i++) {
            log.record(event(i, `writer-${w}`));
            if (i % 10 === 9) await new Promise((r) => setImmediate(r));
          }
          await log.close();
        }),
      );
      assert.equal(await count(db), 900);
      assert.deepEqual(await logs[0].verify(), { ok: true, checked: 900 });
      const rows = (await db.pool.query<{ id: number; actor: string; details: { seq: number } }>('SELECT id, actor, details FROM audit_log ORDER BY id')).rows;
      assert.deepEqual(rows.map((r) => r.id), Array.from({ length: 900 }, (_, i) => i + 1));
      // Each writer's events keep their record() order along the chain.
      for (let w = 0; w < 3; w++) {
        const seqs = rows.filter((r) => r.actor === `writer-${w}`).map((r) => r.details.seq);
        assert.deepEqual(seqs, Array.from({ length: 300 }, (_, i) => i));
      }
      const switches = rows.filter((r, i) => i > 0 && r.actor !== rows[i - 1].actor).length;
      t.diagnostic(`writer changes along the chain: ${switches} (batches interleaved across pools)`);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});

test('appends inside caller transactions interleave with batched appends without forking the chain', async () => {
  await withDb(async (db) => {
    const other = createPool({ connectionString: db.url, max: 4 });
    const batched = createAuditLog(db.pool, { flushMs: 5, maxBatch: 10 });
    const sync = createAuditLog(other);
    try {
      const background = (async () => {
        for (let i = 0; i < 200; i++) {
          batched.record(event(i, 'reader'));
          if (i % 5 === 4) await new Promise((r) => setImmediate(r));
        }
        await batched.close();
      })();
      for (let i = 0; i < 30; i++) {
        const client = await other.connect();
        try {
          await client.query('BEGIN');
          await sync.recordInTransaction(client, { plane: 'admin', actor: 'admin', action: 'CreateBucket', resource: `bucket-${i}`, result: 'ok' });
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      }
      await background;
      assert.equal(await count(db), 230);
      assert.deepEqual(await sync.verify(), { ok: true, checked: 230 });
    } finally {
      await sync.close();
      await other.end();
    }
  });
});

test('UPDATE, DELETE and TRUNCATE on audit_log are refused by the append-only trigger', async () => {
  await withDb(async (db) => {
    const log = createAuditLog(db.pool);
    log.record(event(1));
    await log.close();
    for (const sql of ["UPDATE audit_log SET result = '500' WHERE id = 1", 'DELETE FROM audit_log WHERE id = 1', 'TRUNCATE audit_log']) {
      await assert.rejects(db.pool.query(sql), (err: any) => {
        assert.equal(err.code, '42501');
        assert.match(err.message, /^audit_log is append-only: (UPDATE|DELETE|TRUNCATE) refused$/);
        return true;
      });
    }
    await assert.rejects(db.pool.query('UPDATE audit_head SET last_id = 0'), { code: '42501' });
    await assert.rejects(db.pool.query('DELETE FROM audit_head'), { code: '42501' });
    assert.deepEqual(await log.verify(), { ok: true, checked: 1 });
  });
});

/** Tampering as a superuser would: with the guard trigger switched off. */
async function tamper(db: TestDatabase, sql: string, values: unknown[] = []): Promise<void> {
  await db.pool.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
  try {
    await db.pool.query(sql, values);
  } finally {
    await db.pool.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
  }
}

test('verify reports exactly the entry whose details were changed behind the trigger', async () => {
  await withDb(async (db) => {
    const log = createAuditLog(db.pool);
    for (let i = 0; i < 50; i++) log.record(event(i));
    await log.flush();
    await tamper(db, `UPDATE audit_log SET details = '{"seq": 22, "bytes": 0, "latencyMs": 3}' WHERE id = 23`);
    assert.deepEqual(await log.verify(), { ok: false, checked: 23, brokenAt: 23, reason: 'hash does not match the entry content' });
    // Segments before and after the edited entry still verify on their own.
    assert.deepEqual(await log.verify({ limit: 22 }), { ok: true, checked: 22 });
    assert.deepEqual(await log.verify({ fromId: 24 }), { ok: true, checked: 27 });
    await log.close();
  });
});

test('verify reports a re-hashed entry at the next link, a deleted entry, and a cut-off tail', async () => {
  await withDb(async (db) => {
    const log = createAuditLog(db.pool);
    for (let i = 0; i < 50; i++) log.record(event(i));
    await log.flush();

    // Rewriting an entry and its own hash breaks the following entry's prev_hash.
    const row = (await db.pool.query('SELECT * FROM audit_log WHERE id = 10')).rows[0];
    const fields = { id: 10, at: row.at.toISOString(), plane: row.plane, actor: row.actor, action: row.action, resource: row.resource, result: '403', details: row.details, prevHash: row.prev_hash };
    await tamper(db, "UPDATE audit_log SET result = '403', hash = $1 WHERE id = 10", [entryHash(fields)]);
    assert.deepEqual(await log.verify(), { ok: false, checked: 11, brokenAt: 11, reason: 'prev_hash does not match the hash of the previous entry' });

    await tamper(db, 'DELETE FROM audit_log WHERE id BETWEEN 30 AND 31');
    assert.deepEqual(await log.verify({ fromId: 20 }), { ok: false, checked: 11, brokenAt: 32, reason: 'entry 30 is missing (next entry is 32)' });

    await tamper(db, 'DELETE FROM audit_log WHERE id >= 48');
    assert.deepEqual(await log.verify({ fromId: 40 }), { ok: false, checked: 8, brokenAt: 48, reason: 'entries 48..50 are missing (the chain head is 50)' });
    await log.close();
  });
});

test('a last entry rewritten with a matching hash is caught by the chain head', async () => {
  await withDb(async (db) => {
    const log = createAuditLog(db.pool);
    for (let i = 0; i < 5; i++) log.record(event(i));
    await log.flush();
    const row = (await db.pool.query('SELECT * FROM audit_log WHERE id = 5')).rows[0];
    const fields = { id: 5, at: row.at.toISOString(), plane: row.plane, actor: 'someone-else', action: row.action, resource: row.resource, result: row.result, details: row.details, prevHash: row.prev_hash };
    await tamper(db, "UPDATE audit_log SET actor = 'someone-else', hash = $1 WHERE id = 5", [entryHash(fields)]);
    assert.deepEqual(await log.verify(), { ok: false, checked: 5, brokenAt: 5, reason: 'the last entry does not match the chain head' });
    await log.close();
  });
});

test('recordInTransaction rolled back leaves no entry and the chain stays valid', async () => {
  await withDb(async (db) => {
    const log = createAuditLog(db.pool);
    for (let i = 0; i < 3; i++) log.record(event(i));
    await log.flush();
    const change: AuditEvent = { plane: 'admin', actor: 'admin-token-1', action: 'DeleteBucket', resource: 'bucket', result: 'ok', details: { reason: 'test' } };
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await log.recordInTransaction(client, change);
      assert.equal((await client.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n, 4);
      await client.query('ROLLBACK');
      assert.equal(await count(db), 3);
      assert.deepEqual(await log.verify(), { ok: true, checked: 3 });

      await client.query('BEGIN');
      await log.recordInTransaction(client, change);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    log.record(event(99));
    await log.flush();
    const rows = (await db.pool.query('SELECT id, action FROM audit_log ORDER BY id')).rows;
    assert.deepEqual(rows.slice(3), [{ id: 4, action: 'DeleteBucket' }, { id: 5, action: 'GetObject' }]);
    assert.deepEqual(await log.verify(), { ok: true, checked: 5 });
    await log.close();
  });
});

test('events queued while appends fail are kept newest-first within maxQueue and appended in order afterwards', async () => {
  await withDb(async (db) => {
    const errors: Error[] = [];
    const log = createAuditLog(db.pool, { flushMs: 10_000, maxBatch: 4, maxQueue: 8, onError: (e) => errors.push(e) });
    // Stands in for PostgreSQL refusing appends (the head table is gone for a moment).
    await db.pool.query('ALTER TABLE audit_head RENAME TO audit_head_away');
    for (let i = 0; i < 12; i++) assert.doesNotThrow(() => log.record(event(i)));
    assert.equal(log.dropped, 4);
    assert.equal(log.pending, 8);
    await assert.rejects(log.flush(), { code: '42P01' });
    assert.ok(errors.length >= 1, 'the background flush reported its failure to onError');
    assert.equal(log.pending, 8);
    assert.equal(log.dropped, 4);
    await db.pool.query('ALTER TABLE audit_head_away RENAME TO audit_head');
    await log.flush();
    const resources = (await db.pool.query('SELECT resource FROM audit_log ORDER BY id')).rows.map((r) => r.resource);
    assert.deepEqual(resources, [4, 5, 6, 7, 8, 9, 10, 11].map((i) => `bucket/key-${i}`));
    assert.deepEqual(await log.verify(), { ok: true, checked: 8 });
    await log.close();
  });
});

test('record() never throws while PostgreSQL is unreachable and close() then rejects', async () => {
  const net = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as import('node:net').AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  const pool = createPool({ connectionString: `postgres://fedgate@127.0.0.1:${port}/none` });
  const errors: Error[] = [];
  const log = createAuditLog(pool, { flushMs: 5, maxBatch: 5, maxQueue: 10, onError: (e) => errors.push(e) });
  try {
    for (let i = 0; i < 25; i++) log.record(event(i));
    log.record({ ...event(0), plane: 'ftp' as 's3' });
    assert.equal(log.dropped, 16);
    assert.equal(log.pending, 10);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(errors.some((e) => (e as NodeJS.ErrnoException).code === 'ECONNREFUSED'));
    assert.ok(errors.some((e) => e instanceof TypeError && /plane/.test(e.message)));
    await assert.rejects(log.close(), { code: 'ECONNREFUSED' });
    log.record(event(26));
    assert.equal(log.dropped, 17);
  } finally {
    await pool.end();
  }
});

test('batched record() throughput (printed, not asserted)', async (t) => {
  await withDb(async (db) => {
    const log = createAuditLog(db.pool);
    const n = 20_000;
    const started = performance.now();
    for (let i = 0; i < n; i++) log.record(event(i));
    const queued = performance.now();
    await log.flush();
    const done = performance.now();
    const verifyStarted = performance.now();
    const result = await log.verify();
    const verified = performance.now();
    assert.deepEqual(result, { ok: true, checked: n });
    t.diagnostic(`record(): ${Math.round(n / ((queued - started) / 1000))} events/s enqueued (caller side)`);
    t.diagnostic(`record() + flush(): ${Math.round(n / ((done - started) / 1000))} events/s appended with default maxBatch 500`);
    t.diagnostic(`verify(): ${Math.round(n / ((verified - verifyStarted) / 1000))} entries/s`);
    await log.close();
  });
});
