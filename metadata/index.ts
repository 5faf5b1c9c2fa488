// Public surface of the metadata authority (docs/ARCHITECTURE.md: each folder's
// index.ts is what other folders import).
export { createPool, withTransaction, isRetryable, type Queryable, type PoolOptions, type TransactionOptions } from './db.ts';
export { migrate } from './migrate.ts';
export { startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded.ts';
export { createPgMetadataStore } from './store.ts';
export * from './types.ts';
