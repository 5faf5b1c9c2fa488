// A throw-away PostgreSQL database per gateway child, so a benchmark run never sees
// another run's metadata and leaves nothing behind. When the server is unreachable
// the caller omits DATABASE_URL and Fedgate starts its embedded PostgreSQL instead.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface BenchDatabase {
  url: string;
  name: string;
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
  return {
    url: withDatabase(serverUrl, name),
    name,
    async drop() {
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
