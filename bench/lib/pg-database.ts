// A throw-away PostgreSQL database per gateway child, so a benchmark run never sees
// another run's metadata and leaves nothing behind. When the server is unreachable
// the caller omits DATABASE_URL and Fedgate starts its embedded PostgreSQL instead.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface BenchDatabase {
  url: string;
  name: string;
  /** Process ids of the server's backends connected to this database (pg_stat_activity). */
  backendPids(): Promise<number[]>;
  drop(): Promise<void>;
}

function withDatabase(serverUrl: string, db: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Create `bench_<random>` on the server at `serverUrl`; null when it cannot be reached. */
export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase | null> {
  const name = `bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch {
    await admin.end().catch(() => {});
    return null;
  }
  try {
    // The name is generated above (hex only), so interpolating it is safe.
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end().catch(() => {});
  }
  // One connection (to the server's own database, so it is not among the pids it lists) for
  // the CPU probes, opened on first use and closed by drop().
  let watcher: pg.Client | null = null;
  return {
    url: withDatabase(serverUrl, name),
    name,
    async backendPids() {
      try {
        if (!watcher) {
          watcher = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3000 });
          watcher.on('error', () => {});
          await watcher.connect();
        }
        const r = await watcher.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [name]);
        return r.rows.map((row) => row.pid);
      } catch {
        // The server went away mid-run: nothing to count (the phase fails on its own).
        await watcher?.end().catch(() => {});
        watcher = null;
        return [];
      }
    },
    async drop() {
      await watcher?.end().catch(() => {});
      watcher = null;
      const c = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3000 });
      await c.connect();
      try {
        // WITH (FORCE) (PostgreSQL 13+) ends sessions a killed gateway may have left open.
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end().catch(() => {});
      }
    },
  };
}
