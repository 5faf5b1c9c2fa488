// The health pinger's verdict on a real s3rver, recorded in a real metadata store: refused at once is unhealthy at once; a ping
// that only runs out of time (the process paused, or too busy to answer in time) must do so
// UNHEALTHY_AFTER_TIMEOUTS times in a row, because an unhealthy mark turns writes into 503s;
// and one counted unhealthy is checked again more often than the others, so that it counts again
// soon after it is back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPgMetadataStore, type MetadataStore } from '../../metadata/index.ts';
import { BackendSet, UNHEALTHY_AFTER_TIMEOUTS } from '../../shared/dataplane/backends.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { createS3Backend } from '../../shared/storage/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';
import { addS3Backends, eventually, startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';

const TIMEOUT_MS = 400;

describe('backend health checks against a real s3rver', () => {
  let srv: S3ServerHandle;
  let db: TestDatabase;
  let store: MetadataStore;
  let set: BackendSet;
  let id: string;

  before(async () => {
    srv = await startS3rver();
    db = await createTestDatabase();
    store = createPgMetadataStore(db.pool);
    const row = await store.createBackend({
      name: 's3rver-1',
      type: 's3',
      endpoint: srv.endpoint,
      path: null,
      region: 'eu-west',
      jurisdiction: 'EU',
      country: 'DE',
      provider: 's3rver',
      credentialsSealed: 'unused: the driver factory below has the credentials',
    });
    id = row.id;
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
    await db?.drop();
  });

  /** What the registry says (what GET /admin/storage shows). */
  const recorded = async () => (await store.getBackendByName('s3rver-1'))!.healthy;
  const b = () => set.get(id)!;

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
    assert.equal(await recorded(), true);
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
      assert.equal(await recorded(), false);
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
    assert.equal(await recorded(), false);
    assert.match(String(b().lastError), /ECONNREFUSED|refused|socket hang up|ECONNRESET/i);
  });

  test('with healthyEveryMs, an unhealthy backend is checked at every call and a healthy one only once its last check is that old', async () => {
    assert.equal(b().healthy, false, 'the test before left the s3rver killed');
    await srv.restart();
    await set.checkHealth(5000, { healthyEveryMs: 60_000 });
    assert.equal(b().healthy, true, `an unhealthy backend is checked whatever its last check's age: ${b().lastError}`);
    await srv.kill();
    await set.checkHealth(TIMEOUT_MS, { healthyEveryMs: 60_000 });
    assert.equal(b().healthy, true, 'a healthy backend checked moments ago is not checked again');
    await set.checkHealth(TIMEOUT_MS, { healthyEveryMs: 0 });
    assert.equal(b().healthy, false, 'once its last check is old enough it is');
  });
});

describe('the pinger of `fedgate serve`', () => {
  let fg: TestFedgate;
  let srv: S3ServerHandle;

  before(async () => {
    // Healthy backends are checked once a minute here, unhealthy ones every 200 ms.
    fg = await startTestFedgate({ defaultBackends: 'none', workerOptions: { healthIntervalMs: 60_000, unhealthyRecheckMs: 200 } });
    srv = await startS3rver();
    await addS3Backends(fg, [['pinged', srv]]);
  });
  after(async () => {
    await srv?.stop();
    await fg?.stop();
  });

  const listed = async () => ((await fg.admin('GET', '/admin/storage')).json.backends as { name: string; healthy: boolean }[]).find((x) => x.name === 'pinged')!;

  test('counts a backend that is back in again at its next re-check, not a whole health interval later', async () => {
    await srv.kill();
    await fg.rt.data.backends.checkHealth(TIMEOUT_MS);
    assert.equal((await listed()).healthy, false);
    await srv.restart();
    // The old pinger (one check of every backend per health interval) would take up to 60 s.
    await eventually('the backend counted healthy again', async () => (await listed()).healthy, 10_000, 100);
  });
});
