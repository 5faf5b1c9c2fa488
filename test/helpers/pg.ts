// A fresh, migrated PostgreSQL database per test (house rule 7: real PostgreSQL,
// one database each). The server is, in order: TEST_DATABASE_URL, DATABASE_URL,
// a local postgres@127.0.0.1:5432 that answers within 1 s, or else one embedded
// PostgreSQL per test process under .tmp/pg-test-<pid> (stopped and removed when
// the process exits). FEDGATE_TEST_PG=embedded skips straight to the embedded one.
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createPool, migrate, startEmbeddedPostgres } from '../../metadata/index.ts';
import { clearStalePostmaster, isAlive } from '../../metadata/embedded-host.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MIGRATIONS_DIR = path.join(ROOT, 'migrations');
const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

// Per-process memo of the server to create databases on: the point is to start at
// most one embedded PostgreSQL per test process.
let serverUrl: Promise<string> | undefined;
let counter = 0;

export async function createTestDatabase(): Promise<TestDatabase> {
  serverUrl ??= chooseServer();
  const base = await serverUrl;
  const name = `fedgate_t_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;
  await admin(base, `CREATE DATABASE ${name}`);
  const url = withDatabase(base, name);
  const pool = createPool({ connectionString: url, max: 20 });
  try {
    await migrate(pool, MIGRATIONS_DIR);
  } catch (err) {
    await pool.end().catch(() => {});
    await admin(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    throw err;
  }
  let dropped = false;
  return {
    url,
    pool,
    async drop() {
      if (dropped) return;
      dropped = true;
      if (!pool.ended) await pool.end();
      // FORCE (PostgreSQL 13+) also ends connections other pools opened on this database.
      await admin(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function chooseServer(): Promise<string> {
  const fromEnv = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (fromEnv) return fromEnv;
  if (process.env.FEDGATE_TEST_PG !== 'embedded' && (await answers(LOCAL_URL, 1000))) return LOCAL_URL;
  return startProcessServer();
}

async function answers(url: string, timeoutMs: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function startProcessServer(): Promise<string> {
  const tmp = path.join(ROOT, '.tmp');
  await fs.mkdir(tmp, { recursive: true });
  await removeAbandoned(tmp);
  const dataDir = path.join(tmp, `pg-test-${process.pid}`);
  const server = await startEmbeddedPostgres({ dataDir, keepProcessAlive: false });
  // The server does not hold the event loop open; once the tests are done the loop
  // drains, and beforeExit stops the server and removes its files.
  process.once('beforeExit', () => {
    void server
      .stop()
      .catch(() => {})
      .then(() => fs.rm(dataDir, { recursive: true, force: true }));
  });
  return server.url;
}

/** Data directories of earlier test processes that died without cleaning up. */
async function removeAbandoned(tmp: string): Promise<void> {
  for (const name of await fs.readdir(tmp)) {
    const m = /^pg-test-(\d+)$/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const dir = path.join(tmp, name);
    await clearStalePostmaster(path.join(dir, 'pg'), () => {}).catch(() => {});
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
