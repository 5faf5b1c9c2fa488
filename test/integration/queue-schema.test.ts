// The job queue's schema (pg-boss) is installed or upgraded at start without FEDGATE_DB_TIMEOUT_MS,
// as our own migrations are (shared/queue migrateQueueSchema): an install or upgrade that takes
// longer than the timeout must not fail every start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { enqueueReplication } from '../../shared/queue/index.ts';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';

const DB_TIMEOUT_MS = 1000;

/**
 * Hold the schema's name (an uncommitted CREATE SCHEMA), as a second Fedgate starting at the same
 * moment would, and let go only once an install has been seen waiting for it for twice the timeout.
 */
async function holdQueueSchema(url: string): Promise<{ released: Promise<void>; end(): Promise<void> }> {
  const holder = new pg.Client(url);
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('CREATE SCHEMA fedgate_jobs');
  const released = (async () => {
    // Asked outside the holder's transaction, which would see one snapshot of the statistics.
    const watcher = new pg.Client(url);
    await watcher.connect();
    try {
      const deadline = Date.now() + 30_000;
      const lockWaiters = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
      while ((await watcher.query(lockWaiters)).rows.length === 0) {
        if (Date.now() > deadline) throw new Error('no install waited for the schema');
        await sleep(20);
      }
    } finally {
      await watcher.end();
    }
    await sleep(DB_TIMEOUT_MS * 2);
    await holder.query('ROLLBACK');
  })();
  released.catch(() => {});
  return { released, end: () => holder.end() };
}

test('a start whose job-queue schema install waits longer than FEDGATE_DB_TIMEOUT_MS still starts, and its queue works', async () => {
  let hold: Awaited<ReturnType<typeof holdQueueSchema>> | undefined;
  let fg: TestFedgate | undefined;
  try {
    fg = await startTestFedgate({
      env: { FEDGATE_DB_TIMEOUT_MS: String(DB_TIMEOUT_MS) },
      databaseUrl: async (url) => {
        hold = await holdQueueSchema(url);
        return url;
      },
    });
    await hold!.released;
    const s3 = fg.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'queue-schema' }));
    const body = randomBytes(64 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: 'queue-schema', Key: 'k', Body: body }));
    const back = await s3.send(new GetObjectCommand({ Bucket: 'queue-schema', Key: 'k' }));
    assert.ok(Buffer.from(await back.Body!.transformToByteArray()).equals(body));
    assert.match(String(await enqueueReplication(fg.rt.boss, 'queue-schema-test-chunk')), /^[0-9a-f-]{36}$/, 'the queue takes jobs');
  } finally {
    await hold?.end().catch(() => {});
    await fg?.stop();
  }
});
