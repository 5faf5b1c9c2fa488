// The cache-invalidation bus across instances, over a real Redis: what an instance that lost
// its connection hears once it is back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createInvalidationBus, type InvalidationBus } from '../../shared/cache/invalidation.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { hasRedisServer, startRedisServer } from '../helpers/redis.ts';

/**
 * A TCP relay in front of Redis that can cut every connection, and hold back for `holdMs` the
 * client's SUBSCRIBE commands on connections opened after the cut: a slow network at the worst
 * moment, after ioredis says 'ready' and before Redis has the subscription.
 */
async function relay(redisPort: number, holdMs: number) {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    const hold = cut;
    let queue = Promise.resolve();
    client.on('data', (d: Buffer) => {
      const delay = hold && /subscribe/i.test(d.toString('latin1')) ? holdMs : 0;
      queue = queue.then(() => new Promise<void>((r) => setTimeout(r, delay))).then(() => void upstream.write(d));
    });
    upstream.pipe(client);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    cutAll() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise<void>((r) => (server.close(() => r()), [...sockets].forEach((s) => s.destroy()))),
  };
}

const skip = hasRedisServer ? false : 'redis-server is not installed';

describe('cache invalidation bus over Redis', { skip }, () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  const log = createLogger('silent');
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    await redis?.stop();
  });

  test('after a reconnect, "forget everything" comes only once the subscription is back: a change published right then still arrives', async () => {
    const r = await relay(redis.port, 500);
    const a: InvalidationBus = createInvalidationBus({ redisUrl: redis.url, log });
    const b: InvalidationBus = createInvalidationBus({ redisUrl: r.url, log });
    try {
      const heard: (string | null)[] = [];
      let forgotAll!: () => void;
      const forgetAll = new Promise<void>((res) => (forgotAll = res));
      b.subscribe('access-key', (key) => {
        heard.push(key);
        if (key === null) forgotAll();
      });
      // Connected and subscribed: a message from A reaches B.
      const first = Date.now();
      while (!heard.includes('k0')) {
        await a.publish('access-key', 'k0');
        await new Promise((res) => setTimeout(res, 50));
        assert.ok(Date.now() - first < 5000, 'B never heard A before the cut');
      }
      r.cutAll();
      await forgetAll;
      // What an instance does on "forget everything": reload from the database and cache again.
      // A change made at that moment must reach it, or it keeps the old value for a whole TTL.
      await a.publish('access-key', 'k1');
      const t0 = Date.now();
      while (!heard.includes('k1') && Date.now() - t0 < 2000) await new Promise((res) => setTimeout(res, 20));
      assert.ok(heard.includes('k1'), `B missed a change published right after it was told to forget everything (heard: ${JSON.stringify(heard)})`);
    } finally {
      await a.close();
      await b.close();
      await r.close();
    }
  });
});
