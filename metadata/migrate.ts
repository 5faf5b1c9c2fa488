// Applies migrations/NNN_name.sql in order, each in its own transaction, under a
// session advisory lock so that several processes starting at once (gateway,
// workers, tests) apply each file exactly once.
//
// PG-only: pg_advisory_lock. CockroachDB accepts the call but does not lock; a
// deployment there runs migrations from one process (or adds a lock table).
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { checkOut } from './db.ts';

/** Arbitrary constant identifying "fedgate schema migration" among advisory locks. */
const MIGRATION_LOCK_KEY = 7_245_001_337;

const FILE_PATTERN = /^(\d+)_[A-Za-z0-9_.-]+\.sql$/;

export interface MigrationFile {
  version: number;
  name: string;
  file: string;
}

export async function listMigrationFiles(dir: string): Promise<MigrationFile[]> {
  const names = await fs.readdir(dir);
  const files: MigrationFile[] = [];
  for (const name of names) {
    const m = FILE_PATTERN.exec(name);
    if (m) files.push({ version: Number(m[1]), name, file: path.join(dir, name) });
  }
  files.sort((a, b) => a.version - b.version);
  for (let i = 1; i < files.length; i++) {
    if (files[i].version === files[i - 1].version) {
      throw new Error(`two migrations share number ${files[i].version}: ${files[i - 1].name}, ${files[i].name}`);
    }
  }
  return files;
}

/** Apply pending migrations; returns the names of those applied by this call. */
export async function migrate(pool: pg.Pool, dir: string): Promise<string[]> {
  const files = await listMigrationFiles(dir);
  const { client, release } = await checkOut(pool);
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version    integer PRIMARY KEY,
           name       text NOT NULL,
           sha256     text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const done = await client.query<{ version: number; name: string; sha256: string }>('SELECT version, name, sha256 FROM schema_migrations');
      const applied = new Map(done.rows.map((r) => [Number(r.version), r]));
      const ran: string[] = [];
      for (const f of files) {
        const sql = await fs.readFile(f.file, 'utf8');
        const sha = createHash('sha256').update(sql).digest('hex');
        const prior = applied.get(f.version);
        if (prior) {
          // Forward-only: an applied file that changed means the database and the
          // code disagree about the schema; refuse rather than guess.
          if (prior.sha256 !== sha) throw new Error(`migration ${f.name} changed after it was applied (recorded as ${prior.name}); add a new migration instead`);
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(sql);
          await client.query('INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)', [f.version, f.name, sha]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {
            broken = true;
          });
          throw new Error(`migration ${f.name} failed: ${(err as Error).message}`, { cause: err });
        }
        ran.push(f.name);
      }
      return ran;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {
        broken = true;
      });
    }
  } finally {
    release(broken);
  }
}
