// A redis-server of the test's own on a free port (stop it to test what happens without Redis).
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { freePort } from './s3-servers.ts';

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** Something accepts TCP connections on 127.0.0.1:`port`. */
export const reachable = (port: number) =>
  new Promise<boolean>((r) => {
    const c = net.connect(port, '127.0.0.1', () => (c.end(), r(true)));
    c.on('error', () => r(false));
  });

/** A new, empty redis-server; on `port` when given (a Redis that comes back where it was). */
export async function startRedisServer(port?: number): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  port ??= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await reachable(port)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await reachable(port))) throw new Error(`redis-server did not start on port ${port}`);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
