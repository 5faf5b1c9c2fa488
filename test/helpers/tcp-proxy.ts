// A TCP forwarder to put between a process and a service (PostgreSQL) so a test can take the
// service away without touching it:
// - `refuse()`: every connection is reset, new ones at once (a server that is down);
// - `blackhole()`: connections stay open and no byte moves in either direction (a server paused
//   with SIGSTOP, or a network that drops everything: nothing answers and nothing fails);
// - `blackholeWhen(test)`: forwards until a client sends a chunk that `test` picks, then holds
//   that chunk back and blackholes everything, as if the network failed just as it was sent
//   (`onHeld` says when);
// - `restore()`: forwards again; what waited (held chunks first) flows on, in order, and a
//   client's close reaches the server after its last bytes, as TCP would deliver them.
// `bytesToClients` counts what the server sent on (which of several proxied servers is answering).
import net from 'node:net';

/** `chunk`: what a client just sent; `previous`: the chunk it sent before on the same connection. */
export type ChunkTest = (chunk: Buffer, previous: Buffer | null) => boolean;

export interface TcpProxy {
  port: number;
  refuse(): void;
  blackhole(): void;
  blackholeWhen(test: ChunkTest, onHeld?: () => void): void;
  restore(): void;
  close(): Promise<void>;
  /** Bytes forwarded from the server to clients so far. */
  readonly bytesToClients: number;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  previous: Buffer | null;
  held: Buffer[];
  /** The client went away while chunks were held: the server sees its end after them. */
  closed: boolean;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'forward' | 'refuse' | 'blackhole' = 'forward';
  let trigger: ChunkTest | null = null;
  let onTriggered: (() => void) | undefined;
  const pairs = new Set<Pair>();
  let bytesToClients = 0;
  const pauseAll = () => {
    for (const p of pairs) {
      p.client.pause();
      p.upstream.pause();
    }
  };
  const server = net.createServer((client) => {
    client.on('error', () => {});
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target);
    const pair: Pair = { client, upstream, previous: null, held: [], closed: false };
    pairs.add(pair);
    upstream.on('error', () => client.destroy());
    // By hand, not pipe(): a pipe's drain handler may resume a source the blackhole paused.
    // (Client to server without backpressure: that way carries small requests in tests.)
    client.on('data', (b: Buffer) => {
      if (trigger && mode === 'forward' && trigger(b, pair.previous)) {
        trigger = null;
        mode = 'blackhole';
        pair.held.push(b);
        pauseAll();
        onTriggered?.();
        return;
      }
      pair.previous = b;
      upstream.write(b);
    });
    // The server's answers wait for the client (an object's body must not all sit in this
    // process, or a blackhole would not stall the client until its whole answer had arrived).
    upstream.on('data', (b: Buffer) => {
      bytesToClients += b.length;
      if (client.write(b)) return;
      upstream.pause();
      client.once('drain', () => {
        if (mode === 'forward') upstream.resume();
      });
    });
    // The client's end (a FIN, or a reset) reaches the server after the bytes it sent before,
    // held ones included: those were on their way already.
    client.on('close', () => {
      if (pair.held.length === 0) upstream.end();
      else pair.closed = true;
    });
    upstream.on('end', () => client.end());
    upstream.on('close', () => {
      pairs.delete(pair);
      client.destroy();
    });
    if (mode === 'blackhole') {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get bytesToClients() {
      return bytesToClients;
    },
    refuse() {
      mode = 'refuse';
      for (const p of pairs) {
        p.client.resetAndDestroy();
        p.upstream.destroy();
      }
      pairs.clear();
    },
    blackhole() {
      mode = 'blackhole';
      pauseAll();
    },
    blackholeWhen(test, onHeld) {
      trigger = test;
      onTriggered = onHeld;
    },
    restore() {
      mode = 'forward';
      trigger = null;
      for (const p of pairs) {
        for (const b of p.held.splice(0)) if (!p.upstream.destroyed) p.upstream.write(b);
        if (p.closed) p.upstream.end();
        p.client.resume();
        p.upstream.resume();
      }
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
