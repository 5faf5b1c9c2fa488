// A second ceiling for the large GET, beside the bare Node proxy: HAProxy, a proxy written in C,
// forwarding TCP (layer 4) to each backend. Twice: once copying the bytes through user space, as
// any proxy that looks at them must (Fedgate checks every byte it reads against its CRC-32C), and
// once with splice(2), where the bytes never leave the kernel. What it says: how much of the gap
// to direct any process in the middle costs on this machine, whatever it is written in.
// Used only when `haproxy` is installed (Debian: apt-get install haproxy); never by the tests.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { commandPath, freePort } from '../../test/helpers/s3-servers.ts';
import { spawnChild, type Child } from './child.ts';

export const haproxyPath = (): string | null => commandPath('haproxy');

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** One HAProxy process with a TCP front per backend; `endpoints[i]` reaches `backends[i]`. */
export async function startHaproxy(opts: { command: string; repoRoot: string; dir: string; backends: string[]; splice: boolean }): Promise<Child & { endpoints: string[] }> {
  const ports = await Promise.all(opts.backends.map(() => freePort()));
  const cfg = path.join(opts.dir, `haproxy-${opts.splice ? 'splice' : 'copy'}.cfg`);
  const fronts = opts.backends.map((b, i) => {
    const u = new URL(b);
    return `listen backend${i}\n  bind 127.0.0.1:${ports[i]}\n  server s ${u.hostname}:${u.port}\n`;
  });
  // nosplice: relay through user-space buffers; splice-auto: let the kernel move the bytes.
  writeFileSync(
    cfg,
    `global\n  maxconn 256\n${opts.splice ? '' : '  nosplice\n'}defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 180s\n  timeout server 180s\n${opts.splice ? '  option splice-auto\n' : ''}${fronts.join('')}`,
  );
  // -db: stay in the foreground; -V: it then says which poller it will use, once configured.
  const child = await spawnChild('haproxy', ['-db', '-V', '-f', cfg], process.env, /(will use \w+)/, { command: opts.command, repoRoot: opts.repoRoot, timeoutMs: 15_000 });
  for (const port of ports) {
    const until = Date.now() + 10_000;
    while (!(await accepting(port))) {
      if (Date.now() > until) {
        await child.stop();
        throw new Error(`haproxy is not listening on ${port}:\n${child.stderrTail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { ...child, endpoints: ports.map((p) => `http://127.0.0.1:${p}`) };
}
