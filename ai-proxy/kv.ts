// Shared counters and maps of the AI proxy: rate-limit windows, spend and the mask
// tables. Redis (REDIS_URL) makes them correct across several proxy instances; without
// it an in-process store with the same TTL semantics keeps one instance working.
import { Redis } from 'ioredis';

export interface Kv {
  /** Atomically add `by` and return the new value; the key expires `ttlMs` after creation. */
  incrBy(key: string, by: number, ttlMs: number): Promise<number>;
  getNum(key: string): Promise<number>;
  hGetAll(key: string): Promise<Record<string, string>>;
  hGet(key: string, field: string): Promise<string | null>;
  hIncr(key: string, field: string, ttlMs: number): Promise<number>;
  /** Set when absent; true when this call set it. Refreshes the TTL. */
  hSetNx(key: string, field: string, value: string, ttlMs: number): Promise<boolean>;
  hSet(key: string, field: string, value: string, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

export function createMemoryKv(now: () => number = Date.now): Kv {
  const nums = new Map<string, { v: number; exp: number }>();
  const maps = new Map<string, { v: Map<string, string>; exp: number }>();
  const num = (key: string) => {
    const e = nums.get(key);
    if (e && e.exp <= now()) nums.delete(key);
    return nums.get(key);
  };
  const map = (key: string, ttlMs?: number) => {
    let e = maps.get(key);
    if (e && e.exp <= now()) {
      maps.delete(key);
      e = undefined;
    }
    if (!e && ttlMs !== undefined) {
      e = { v: new Map(), exp: now() + ttlMs };
      maps.set(key, e);
    }
    if (e && ttlMs !== undefined) e.exp = now() + ttlMs;
    return e;
  };
  // Expired entries are swept lazily, plus a bounded sweep so idle keys do not pile up.
  const sweep = () => {
    if (nums.size + maps.size < 50_000) return;
    const t = now();
    for (const [k, e] of nums) if (e.exp <= t) nums.delete(k);
    for (const [k, e] of maps) if (e.exp <= t) maps.delete(k);
  };
  return {
    async incrBy(key, by, ttlMs) {
      sweep();
      const e = num(key) ?? { v: 0, exp: now() + ttlMs };
      e.v += by;
      nums.set(key, e);
      return e.v;
    },
    async getNum(key) {
      return num(key)?.v ?? 0;
    },
    async hGetAll(key) {
      return Object.fromEntries(map(key)?.v ?? []);
    },
    async hGet(key, field) {
      return map(key)?.v.get(field) ?? null;
    },
    async hIncr(key, field, ttlMs) {
      sweep();
      const m = map(key, ttlMs)!.v;
      const n = Number(m.get(field) ?? 0) + 1;
      m.set(field, String(n));
      return n;
    },
    async hSetNx(key, field, value, ttlMs) {
      const m = map(key, ttlMs)!.v;
      if (m.has(field)) return false;
      m.set(field, value);
      return true;
    },
    async hSet(key, field, value, ttlMs) {
      map(key, ttlMs)!.v.set(field, value);
    },
    async close() {
      nums.clear();
      maps.clear();
    },
  };
}

export function createRedisKv(url: string): Kv {
  // Fail fast instead of queueing commands forever while Redis is away: a request
  // then gets a clear error rather than hanging.
  const r = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
  r.on('error', () => {});
  return {
    async incrBy(key, by, ttlMs) {
      const res = await r.multi().incrby(key, by).pexpire(key, ttlMs, 'NX').exec();
      return Number(res![0][1]);
    },
    async getNum(key) {
      return Number((await r.get(key)) ?? 0);
    },
    async hGetAll(key) {
      return r.hgetall(key);
    },
    async hGet(key, field) {
      return r.hget(key, field);
    },
    async hIncr(key, field, ttlMs) {
      const res = await r.multi().hincrby(key, field, 1).pexpire(key, ttlMs).exec();
      return Number(res![0][1]);
    },
    async hSetNx(key, field, value, ttlMs) {
      const res = await r.multi().hsetnx(key, field, value).pexpire(key, ttlMs).exec();
      return Number(res![0][1]) === 1;
    },
    async hSet(key, field, value, ttlMs) {
      await r.multi().hset(key, field, value).pexpire(key, ttlMs).exec();
    },
    async close() {
      await r.quit().catch(() => r.disconnect());
    },
  };
}
