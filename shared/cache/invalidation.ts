// Cache invalidation across gateway instances (PRODUCT.md §2, "Cache"): a change made through
// one instance is published on a Redis channel, and every instance drops its cached copy.
// Delivery in this process is immediate and needs no Redis; without REDIS_URL, or while
// Redis is away, other instances fall back on their caches' TTL. A subscriber that lost its
// connection may have missed messages: once it is subscribed again, every subscriber is told
// to forget everything (key null). Redis pub/sub rather than PostgreSQL NOTIFY: CockroachDB has no
// LISTEN / NOTIFY (PRODUCT.md §2 asks for the portable form).
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.ts';

export const INVALIDATION_CHANNEL = 'fedgate:invalidate';
/** Topic of access keys (key: the access key id). */
export const ACCESS_KEY_TOPIC = 'access-key';
/** Topic of bucket rows (key: the bucket id). */
export const BUCKET_TOPIC = 'bucket';

export interface InvalidationBus {
  /** Drops `key` of `topic` here at once, and on every other instance through Redis. */
  publish(topic: string, key: string): Promise<void>;
  /** `fn(key)` for each invalidation of `topic`; key null: forget every entry. Returns an unsubscribe. */
  subscribe(topic: string, fn: (key: string | null) => void): () => void;
  close(): Promise<void>;
}

export function createInvalidationBus(opts: { redisUrl?: string; log: Logger }): InvalidationBus {
  const local = new EventEmitter();
  local.setMaxListeners(0);
  const me = randomUUID();
  let pub: Redis | null = null;
  let sub: Redis | null = null;

  // Connected on first use: a process that caches nothing (a worker, the AI proxy alone)
  // opens no Redis connections for it. A gateway subscribes when it starts.
  const connect = () => {
    if (!opts.redisUrl || pub) return;
    // No offline queue on the publisher: a change must not wait for Redis (the TTL covers it).
    pub = new Redis(opts.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    // Subscribed by hand on every 'ready' rather than by ioredis's autoResubscribe: ioredis
    // emits 'ready' before it even sends the SUBSCRIBE, and a forget-all at that moment would
    // leave one round trip in which a change published elsewhere is neither received nor
    // covered (a lookup re-caches the old value, the message passes by).
    const s = new Redis(opts.redisUrl, { maxRetriesPerRequest: null, autoResubscribe: false });
    sub = s;
    pub.on('error', () => {});
    let everSubscribed = false;
    let warned = false;
    s.on('error', (e: Error) => {
      if (!warned) opts.log.warn({ err: e.message }, 'cache invalidation: Redis unreachable; other instances fall back on cache TTLs');
      warned = true;
    });
    s.on('ready', () => {
      warned = false;
      s.subscribe(INVALIDATION_CHANNEL).then(
        () => {
          // Messages flow again from here on; what was published while we were away is lost.
          if (everSubscribed) for (const topic of local.eventNames()) local.emit(topic, null);
          everSubscribed = true;
        },
        // The connection dropped again before the answer: the next 'ready' subscribes anew.
        () => {},
      );
    });
    s.on('message', (_channel: string, raw: string) => {
      try {
        const m = JSON.parse(raw) as { from: string; topic: string; key: string };
        if (m.from !== me && typeof m.topic === 'string' && typeof m.key === 'string') local.emit(m.topic, m.key);
      } catch {
        // Not ours.
      }
    });
  };

  return {
    async publish(topic, key) {
      local.emit(topic, key);
      connect();
      if (!pub) return;
      try {
        await pub.publish(INVALIDATION_CHANNEL, JSON.stringify({ from: me, topic, key }));
      } catch (e) {
        opts.log.warn({ topic, err: (e as Error).message }, 'cache invalidation not published; other instances see the change when their cached entry expires');
      }
    },
    subscribe(topic, fn) {
      connect();
      local.on(topic, fn);
      return () => local.off(topic, fn);
    },
    async close() {
      local.removeAllListeners();
      for (const r of [pub, sub]) r?.disconnect();
    },
  };
}
