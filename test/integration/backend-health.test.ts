// The health pinger's verdict on a real s3rver: refused at once is unhealthy at once; a ping
// that only runs out of time (the process paused, or too busy to answer in time) must do so
// UNHEALTHY_AFTER_TIMEOUTS times in a row, because an unhealthy mark turns writes into 503s.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackendRow, MetadataStore } from '../../metadata/types.ts';
import { BackendSet, UNHEALTHY_AFTER_TIMEOUTS } from '../../shared/dataplane/backends.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { createS3Backend } from '../../shared/storage/index.ts';
import { startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';

const TIMEOUT_MS = 400;

describe('backend health checks against a real s3rver', () => {
  let srv: S3ServerHandle;
  let set: BackendSet;
  const recorded: { healthy: boolean; error: string | null }[] = [];

  before(async () => {
    srv = await startS3rver();
    const row = { id: 'b1', name: 's3rver-1', state: 'active', healthy: true, lastRttMs: null, lastError: null } as unknown as BackendRow;
    // Only what BackendSet uses of the metadata authority: the registry and the health record.
    const store = {
      listBackends: async () => [row],
      recordBackendHealth: async (_id: string, h: { healthy: boolean; error: string | null }) => void recorded.push(h),
    } as unknown as MetadataStore;
    set = new BackendSet(
      store,
      () => createS3Backend({ name: 's3rver-1', endpoint: srv.endpoint, region: 'us-east-1', accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey, timeoutMs: 5000 }),
      createLogger('silent'),
    );
    await set.refresh();
  });
  after(async () => {
    srv?.resume();
    await set?.closeAll();
    await srv?.stop();
  });

  const b = () => set.get('b1')!;

  test('a check that times out once leaves the backend healthy; the next good check clears the count', async () => {
    await set.checkHealth(TIMEOUT_MS);
    assert.equal(b().healthy, true, String(b().lastError));
    srv.pause();
    try {
      await set.checkHealth(TIMEOUT_MS);
    } finally {
      srv.resume();
    }
    assert.ok(b().lastError, 'the paused s3rver answered the ping: the test proves nothing');
    assert.equal(b().timeoutsInARow, 1);
    assert.equal(b().healthy, true);
    assert.equal(recorded.at(-1)?.healthy, true);
    await set.checkHealth(5000);
    assert.equal(b().healthy, true);
    assert.equal(b().timeoutsInARow, 0);
  });

  test(`${UNHEALTHY_AFTER_TIMEOUTS} timed-out checks in a row mark it unhealthy, one good check brings it back`, async () => {
    srv.pause();
    try {
      for (let i = 1; i <= UNHEALTHY_AFTER_TIMEOUTS; i++) {
        await set.checkHealth(TIMEOUT_MS);
        assert.equal(b().healthy, i < UNHEALTHY_AFTER_TIMEOUTS, `after ${i} timed-out checks`);
      }
      assert.equal(recorded.at(-1)?.healthy, false);
    } finally {
      srv.resume();
    }
    await set.checkHealth(5000);
    assert.equal(b().healthy, true, String(b().lastError));
  });

  test('a refused connection marks it unhealthy at the first check', async () => {
    await set.checkHealth(5000);
    assert.equal(b().healthy, true);
    await srv.kill();
    await set.checkHealth(TIMEOUT_MS);
    assert.equal(b().healthy, false);
    assert.match(String(b().lastError), /ECONNREFUSED|refused|socket hang up|ECONNRESET/i);
  });
});
