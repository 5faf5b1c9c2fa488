// The embedded PostgreSQL: a cluster initialised once under <dataDir>/pg, restarted
// with its data and its port, and not blocked by what a crashed run left behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../metadata/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = path.join(ROOT, '.tmp', `embedded-test-${process.pid}`);
const running: EmbeddedPostgres[] = [];

async function start(): Promise<EmbeddedPostgres> {
  const pgInstance = await startEmbeddedPostgres({ dataDir });
  running.push(pgInstance);
  return pgInstance;
}

async function query(url: string, sql: string): Promise<any[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Gone, or a zombie: an orphan's new parent (pid 1 here) need not reap it. */
async function exited(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return /^\d+ \(.*\) Z/.test(stat);
}

before(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});
after(async () => {
  for (const p of running) await p.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

test('start initialises the cluster, creates database fedgate, and a restart keeps data and port', async () => {
  const first = await start();
  assert.match(first.url, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/fedgate$/);
  const [version] = await query(first.url, 'SHOW server_version');
  assert.match(version.server_version, /^18\./);
  await query(first.url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
  await first.stop();
  await first.stop();
  await assert.rejects(query(first.url, 'SELECT 1'));
  assert.equal((await fs.readFile(path.join(dataDir, 'pg', 'fedgate-port'), 'utf8')).trim(), String(first.port));

  const second = await start();
  assert.equal(second.port, first.port);
  assert.equal(second.url, first.url);
  assert.deepEqual(await query(second.url, 'SELECT v FROM kept'), [{ v: 'still here' }]);
  await second.stop();
});

test('the password file is private and the server listens on loopback only', async () => {
  const st = await fs.stat(path.join(dataDir, 'pg', 'fedgate-password'));
  assert.equal(st.mode & 0o077, 0);
  const p = await start();
  const [row] = await query(p.url, 'SHOW listen_addresses');
  assert.equal(row.listen_addresses, '127.0.0.1');
  await p.stop();
});

test('a stale postmaster.pid naming a live, unrelated process does not prevent the next start', async () => {
  // After a crash the pid may belong to anything; PostgreSQL alone would refuse to start.
  await fs.writeFile(path.join(dataDir, 'pg', 'postmaster.pid'), `${process.pid}\n${path.join(dataDir, 'pg')}\n`);
  const p = await start();
  assert.deepEqual(await query(p.url, 'SELECT v FROM kept'), [{ v: 'still here' }]);
  await p.stop();
});

test('when the stored port is taken, the server moves to a free one and remembers it', async () => {
  const stored = Number((await fs.readFile(path.join(dataDir, 'pg', 'fedgate-port'), 'utf8')).trim());
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(stored, '127.0.0.1', resolve));
  try {
    const p = await start();
    assert.notEqual(p.port, stored);
    assert.equal((await fs.readFile(path.join(dataDir, 'pg', 'fedgate-port'), 'utf8')).trim(), String(p.port));
    assert.deepEqual(await query(p.url, 'SELECT v FROM kept'), [{ v: 'still here' }]);
    await p.stop();
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test('a server orphaned by a killed process is shut down and replaced on the next start', async () => {
  const embeddedTs = pathToFileURL(path.join(ROOT, 'metadata', 'embedded.ts')).href;
  const script = `import { startEmbeddedPostgres } from ${JSON.stringify(embeddedTs)};
    const e = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });
    console.log('READY ' + e.port);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('READY')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  const pidText = await fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8');
  const orphanPid = Number(pidText.split('\n')[0]);
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  assert.doesNotThrow(() => process.kill(orphanPid, 0), 'the server outlived the process that started it');

  const p = await start();
  assert.ok(await exited(orphanPid), 'the orphaned server was stopped');
  assert.deepEqual(await query(p.url, 'SELECT v FROM kept'), [{ v: 'still here' }]);
  await p.stop();
});
