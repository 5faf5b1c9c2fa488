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

/** A process that starts the embedded server and then idles; resolves with it and the server's pid once ready. */
async function startInChild(): Promise<{ child: ReturnType<typeof spawn>; serverPid: number }> {
  const embeddedTs = pathToFileURL(path.join(ROOT, 'metadata', 'embedded.ts')).href;
  const script = `import { startEmbeddedPostgres } from ${JSON.stringify(embeddedTs)};
    const e = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });
    console.log('READY ' + e.port);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('READY')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  const pidText = await fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8');
  return { child, serverPid: Number(pidText.split('\n')[0]) };
}

/** A process's command name and process group, from /proc/<pid>/stat; null when it is gone. */
async function procStat(pid: number): Promise<{ comm: string; group: string } | null> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return null;
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
  return { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), group: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2] };
}

async function killed(child: ReturnType<typeof spawn>): Promise<void> {
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (await exited(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

test('a server whose process was killed (SIGKILL) shuts itself down, and the next start finds its data', async () => {
  const { child, serverPid } = await startInChild();
  await killed(child);
  assert.ok(await gone(serverPid, 15_000), 'the server stopped within 15 s of its process being killed');
  const p = await start();
  assert.deepEqual(await query(p.url, 'SELECT v FROM kept'), [{ v: 'still here' }]);
  await p.stop();
});

test('a server orphaned with its watchdog killed too is shut down and replaced on the next start', async () => {
  const { child, serverPid } = await startInChild();
  // The server's process group holds it, the watchdog shell and the shell's pipe reader.
  const group = (await procStat(serverPid))!.group;
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = await procStat(Number(entry));
    if (st?.comm === 'sh' && st.group === group) process.kill(Number(entry), 'SIGKILL');
  }
  await killed(child);
  await new Promise((r) => setTimeout(r, 500));
  assert.doesNotThrow(() => process.kill(serverPid, 0), 'the server outlived the process that started it and its watchdog');

  const p = await start();
  assert.ok(await exited(serverPid), 'the orphaned server was stopped');
  assert.deepEqual(await query(p.url, 'SELECT v FROM kept'), [{ v: 'still here' }]);
  await p.stop();
});
