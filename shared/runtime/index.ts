// What every process of Fedgate stands on: the metadata database (embedded or
// DATABASE_URL), migrations, the vault, the backend set with its drivers, the job
// queue and the data plane. Built once per process by a composition root.
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { FedgateConfig } from '../config/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetadataStore } from '../../metadata/types.ts';
import { createPool, migrate, startEmbeddedPostgres, createPgMetadataStore } from '../../metadata/index.ts';
import { createSettingsStore, type SettingsStore } from '../../metadata/settings.ts';
import { createPgTaggingCorsStore, type TaggingCorsStore } from '../../metadata/tagging-cors.ts';
import { createVault, loadOrCreateMasterKey, type Vault } from '../vault/index.ts';
import { createDriver } from '../storage/index.ts';
import { BackendSet, createDataPlane, type DataPlane } from '../dataplane/index.ts';
import { createBoss, ensureQueues, enqueueReplication, migrateQueueSchema } from '../queue/index.ts';
import { createAuditLog, type AuditLog } from '../audit/index.ts';
import { createInvalidationBus, type InvalidationBus } from '../cache/invalidation.ts';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

export interface Runtime {
  config: FedgateConfig;
  log: Logger;
  pool: pg.Pool;
  store: MetadataStore;
  settings: SettingsStore;
  /** Tag sets and CORS configurations (migrations/005_tagging_cors.sql). */
  tagsCors: TaggingCorsStore;
  vault: Vault;
  data: DataPlane;
  boss: PgBoss;
  audit: AuditLog;
  /** Drops cached metadata (access keys) on every instance when it changes (Redis pub/sub with REDIS_URL). */
  invalidation: InvalidationBus;
  close(): Promise<void>;
}

/** Vault context (AAD) for a backend's credentials: a sealed value cannot be moved to another backend row. */
export const backendCredsContext = (name: string) => `backend:${name}`;

export async function openRuntime(config: FedgateConfig, log: Logger): Promise<Runtime> {
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const masterKey = await loadOrCreateMasterKey(config.dataDir, config.masterKey);
  const vault = createVault(masterKey);

  let url = config.databaseUrl;
  let embedded: { url: string; stop(): Promise<void> } | undefined;
  if (!url) {
    const started = await startEmbeddedPostgres({ dataDir: config.dataDir });
    embedded = started;
    url = started.url;
    log.info('embedded PostgreSQL started');
  }
  // Migrations (ours, then the job queue's) without the timeouts: a migration may run for long.
  const migrationPool = createPool({ connectionString: url, max: 1 });
  try {
    await migrate(migrationPool, MIGRATIONS_DIR);
    await migrateQueueSchema(url);
  } catch (e) {
    await embedded?.stop().catch(() => {});
    throw e;
  } finally {
    await migrationPool.end().catch(() => {});
  }
  // A database that stops answering fails a request after dbTimeoutMs (503) instead of hanging it,
  // and a transaction whose client went quiet for half that is rolled back by the server.
  // A commit that reaches the server later than that is refused there too (metadata/store.ts).
  const lateAfterMs = Math.max(1, Math.floor(config.dbTimeoutMs / 2));
  const pool = createPool({
    connectionString: url,
    connectTimeoutMs: config.dbTimeoutMs,
    queryTimeoutMs: config.dbTimeoutMs,
    idleInTransactionTimeoutMs: lateAfterMs,
  });
  const store = createPgMetadataStore(pool, { lateCommitAfterMs: lateAfterMs });
  const settings = createSettingsStore(pool);
  const namingSecret = vault.open(await settings.putIfAbsent('naming_secret', vault.seal(randomBytes(32), 'naming-secret')), 'naming-secret');

  const backends = new BackendSet(
    store,
    (row) => {
      const creds = row.credentialsSealed ? JSON.parse(vault.open(row.credentialsSealed, backendCredsContext(row.name)).toString('utf8')) : undefined;
      return createDriver(
        { name: row.name, type: row.type, endpoint: row.endpoint ?? undefined, path: row.path ?? undefined, region: row.region, credentials: creds },
        { timeoutMs: config.backendTimeoutMs },
      );
    },
    log,
  );
  const boss = createBoss(url!, config.dbTimeoutMs);
  boss.on('error', (e: Error) => log.warn({ err: e.message }, 'job queue error'));
  await boss.start();
  await ensureQueues(boss);
  const data = createDataPlane({
    store,
    backends,
    namingSecret,
    timeoutMs: config.backendTimeoutMs,
    gcGraceMs: config.gcGraceMs,
    verifyReads: config.verifyReads,
    log,
    enqueueRepair: async (chunkId) => {
      await enqueueReplication(boss, chunkId);
    },
  });
  await backends.refresh();
  await backends.checkHealth(Math.min(config.backendTimeoutMs, 3000));
  const audit = createAuditLog(pool, { onError: (e) => log.warn({ err: e.message }, 'audit append failed; will retry') });
  const invalidation = createInvalidationBus({ redisUrl: config.redisUrl, log });

  return {
    config,
    log,
    pool,
    store,
    settings,
    tagsCors: createPgTaggingCorsStore(pool),
    vault,
    data,
    boss,
    audit,
    invalidation,
    async close() {
      await invalidation.close();
      await audit.close().catch((e: Error) => log.warn({ err: e.message }, 'audit flush at shutdown'));
      await boss.stop({ graceful: true, timeout: 10_000 }).catch((e: Error) => log.warn({ err: e.message }, 'job queue stop'));
      await backends.closeAll();
      await pool.end().catch(() => {});
      if (embedded) {
        await embedded.stop().catch((e: Error) => log.warn({ err: e.message }, 'embedded PostgreSQL stop'));
        log.info('embedded PostgreSQL stopped');
      }
    },
  };
}
