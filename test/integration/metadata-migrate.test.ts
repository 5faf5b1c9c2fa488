// migrate(): numbered files applied once each, in order, one transaction per file,
// safe when several processes start at the same time.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { migrate } from '../../metadata/index.ts';
import { listMigrationFiles } from '../../metadata/migrate.ts';
import { createTestDatabase, MIGRATIONS_DIR, type TestDatabase } from '../helpers/pg.ts';

let db: TestDatabase;
const pools: pg.Pool[] = [];
let tmp: string;

/** A pool whose unqualified names live in a schema of their own: an empty "database" for migrate(). */
async function schemaPool(schema: string): Promise<pg.Pool> {
  await db.pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  return track(new pg.Pool({ connectionString: db.url, options: `-c search_path=${schema}`, max: 2 }));
}

function track(pool: pg.Pool): pg.Pool {
  // Dropping the database (WITH FORCE) ends idle connections; that is expected here.
  pool.on('error', () => {});
  pools.push(pool);
  return pool;
}

before(async () => {
  db = await createTestDatabase();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'fedgate-migrate-'));
});
after(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await db.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

test('two concurrent migrate() calls apply every file exactly once', async () => {
  const a = await schemaPool('race_a');
  const b = track(new pg.Pool({ connectionString: db.url, options: '-c search_path=race_a', max: 2 }));
  const [ranA, ranB] = await Promise.all([migrate(a, MIGRATIONS_DIR), migrate(b, MIGRATIONS_DIR)]);
  const files = (await listMigrationFiles(MIGRATIONS_DIR)).map((f) => f.name);
  assert.deepEqual([...ranA, ...ranB].sort(), files);
  assert.ok(ranA.length === 0 || ranB.length === 0, 'one caller applied everything while the other waited');
  const recorded = await a.query('SELECT version, name FROM schema_migrations ORDER BY version');
  assert.deepEqual(
    recorded.rows.map((r) => r.name),
    files,
  );
  assert.deepEqual(await migrate(a, MIGRATIONS_DIR), []);
  const tables = await a.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'race_a' AND table_name IN ('object_versions', 'changelog', 'blobs')");
  assert.equal(tables.rows[0].n, 3);
});

test('a failing migration rolls back entirely, is not recorded, and stops the ones after it', async () => {
  const dir = path.join(tmp, 'failing');
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, '001_one.sql'), 'CREATE TABLE one (id int);');
  await fs.writeFile(path.join(dir, '002_bad.sql'), 'CREATE TABLE two (id int);\nSELECT 1 / 0;');
  await fs.writeFile(path.join(dir, '003_three.sql'), 'CREATE TABLE three (id int);');
  const pool = await schemaPool('failing');
  await assert.rejects(migrate(pool, dir), /migration 002_bad\.sql failed: division by zero/);
  const tables = await pool.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'failing' ORDER BY table_name");
  assert.deepEqual(
    tables.rows.map((r) => r.table_name),
    ['one', 'schema_migrations'],
  );
  const recorded = await pool.query('SELECT name FROM schema_migrations');
  assert.deepEqual(
    recorded.rows.map((r) => r.name),
    ['001_one.sql'],
  );
});

test('an applied migration whose file changed is refused', async () => {
  const dir = path.join(tmp, 'changed');
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, '001_one.sql'), 'CREATE TABLE one (id int);');
  const pool = await schemaPool('changed');
  assert.deepEqual(await migrate(pool, dir), ['001_one.sql']);
  await fs.writeFile(path.join(dir, '001_one.sql'), 'CREATE TABLE one (id bigint);');
  await assert.rejects(migrate(pool, dir), /001_one\.sql changed after it was applied/);
});

test('files are applied in numeric order and two files with one number are refused', async () => {
  const dir = path.join(tmp, 'order');
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, '10_later.sql'), 'SELECT 1;');
  await fs.writeFile(path.join(dir, '9_earlier.sql'), 'SELECT 1;');
  await fs.writeFile(path.join(dir, 'README.md'), 'not a migration');
  assert.deepEqual(
    (await listMigrationFiles(dir)).map((f) => f.name),
    ['9_earlier.sql', '10_later.sql'],
  );
  await fs.writeFile(path.join(dir, '009_again.sql'), 'SELECT 1;');
  await assert.rejects(listMigrationFiles(dir), /two migrations share number 9/);
});
