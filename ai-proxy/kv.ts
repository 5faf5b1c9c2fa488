// Shared counters and maps of the AI proxy: rate-limit windows, spend and the mask
// tables. Redis (REDIS_URL) makes them correct across several proxy instances; without
// it an in-process store with the same TTL semantics keeps one instance working.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export interface WindowResult {
  /** False when adding would have passed the limit (nothing was added then). */
  ok: boolean;
  /** Sum inside the window after this call (before it when refused). */
  total: number;
  /** When refused: ms until enough entries leave the window for the call to fit. */
  retryAfterMs: number;
}

export interface CappedResult {
  ok: boolean;
  total: number;
  /** The key did not exist and no seed was given: call again with the seed. */
  missing: boolean;
}

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
  /**
   * Sliding-window log, atomic: forget entries older than `windowMs`, then log `amount`
   * unless the window's sum would pass `limit` (limit < 0: no limit). With amount 0 it
   * is a pure check: refused when the sum is already above `limit`.
   */
  slidingAdd(key: string, windowMs: number, amount: number, limit: number): Promise<WindowResult>;
  /**
   * Atomic reservation against a cap: add `by` unless the total would pass `cap`
   * (cap < 0: no cap). A missing key is created with `seed` first; without a seed the
   * call does nothing and reports `missing`. The TTL is refreshed on every write.
   */
  addCapped(key: string, by: number, cap: number, ttlMs: number, seed: number | null): Promise<CappedResult>;
  close(): Promise<void>;
}

// Sliding-window log in a sorted set: score = time (Redis' clock, so every instance
// agrees), member = "<amount>:<unique id>". The sum walk is O(entries in the window),
// i.e. at most the requests of one token in one window.
const SLIDING_LUA = `
local key = KEYS[1]
local window = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local entries = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
local total = 0
for i = 1, #entries, 2 do total = total + tonumber(string.match(entries[i], '^(%d+):')) end
if limit >= 0 and total + amount > limit then
  local need = total + amount - limit
  local freed = 0
  local retry = window
  for i = 1, #entries, 2 do
    freed = freed + tonumber(string.match(entries[i], '^(%d+):'))
    if freed >= need then
      retry = tonumber(entries[i + 1]) + window - now
      break
    end
  end
  return {0, total, retry}
end
if amount > 0 then
  redis.call('ZADD', key, now, amount .. ':' .. ARGV[4])
  redis.call('PEXPIRE', key, window)
end
return {1, total + amount, 0}
`;

const CAPPED_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  if ARGV[4] == '' then return {0, 0, 1} end
  cur = ARGV[4]
  redis.call('SET', KEYS[1], cur)
end
cur = tonumber(cur)
local by = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
if cap >= 0 and cur + by > cap then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {0, cur, 0}
end
local v = redis.call('INCRBY', KEYS[1], by)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, v, 0}
`;

let seq = 0;
const uniqueId = () => `${(seq = (seq + 1) % 1e9)}.${randomBytes(6).toString('hex')}`;

export interface MemoryKv extends Kv {
  /** Keys held, expired ones not yet swept included (for tests and diagnostics). */
  readonly size: number;
}

export function createMemoryKv(now: () => number = Date.now): MemoryKv {
  const nums = new Map<string, { v: number; exp: number }>();
  const maps = new Map<string, { v: Map<string, string>; exp: number }>();
  // Sliding-window logs, oldest first.
  const logs = new Map<string, Array<{ t: number; n: number }>>();
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
  // Expired entries are dropped when read, and by a full sweep once every `size` writes
  // (at least 1000) or once a minute: memory follows the live keys (one mask table per
  // conversation for an hour), at O(1) amortised cost per write. Sweeping only above a
  // key count let expired tables pile up below it, and cost a full pass on every write
  // above it.
  let writes = 0;
  let lastSweep = now();
  const sweep = () => {
    const t = now();
    if (++writes < Math.max(1000, nums.size + maps.size + logs.size) && t - lastSweep < 60_000) return;
    writes = 0;
    lastSweep = t;
    for (const [k, e] of nums) if (e.exp <= t) nums.delete(k);
    for (const [k, e] of maps) if (e.exp <= t) maps.delete(k);
    // A log whose newest entry is older than any window in use (one hour) is dead.
    for (const [k, l] of logs) if (l.length === 0 || l[l.length - 1].t <= t - 3_600_000) logs.delete(k);
  };
  return {
    get size() {
      return nums.size + maps.size + logs.size;
    },
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
      sweep();
      const m = map(key, ttlMs)!.v;
      if (m.has(field)) return false;
      m.set(field, value);
      return true;
    },
    async hSet(key, field, value, ttlMs) {
      sweep();
      map(key, ttlMs)!.v.set(field, value);
    },
    async slidingAdd(key, windowMs, amount, limit) {
      sweep();
      const t = now();
      let log = logs.get(key);
      if (!log) logs.set(key, (log = []));
      while (log.length > 0 && log[0].t <= t - windowMs) log.shift();
      const total = log.reduce((a, e) => a + e.n, 0);
      if (limit >= 0 && total + amount > limit) {
        const need = total + amount - limit;
        let freed = 0;
        let retry = windowMs;
        for (const e of log) {
          freed += e.n;
          if (freed >= need) {
            retry = e.t + windowMs - t;
            break;
          }
        }
        return { ok: false, total, retryAfterMs: retry };
      }
      if (amount > 0) log.push({ t, n: amount });
      if (log.length === 0) logs.delete(key);
      return { ok: true, total: total + amount, retryAfterMs: 0 };
    },
    async addCapped(key, by, cap, ttlMs, seed) {
      sweep();
      let e = num(key);
      if (!e) {
        if (seed === null) return { ok: false, total: 0, missing: true };
        e = { v: seed, exp: 0 };
        nums.set(key, e);
      }
      e.exp = now() + ttlMs;
      if (cap >= 0 && e.v + by > cap) return { ok: false, total: e.v, missing: false };
      e.v += by;
      return { ok: true, total: e.v, missing: false };
    },
    async close() {
      nums.clear();
      maps.clear();
      logs.clear();
    },
  };
}

export function createRedisKv(url: string): Kv {
  // Fail fast instead of queueing commands forever while Redis is away: a request
  // then gets a clear error rather than hanging.
  const r = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
  r.on('error', () => {});
  // EVALSHA with a fallback to EVAL: the scripts are not resent on every call.
  r.defineCommand('fgSliding', { numberOfKeys: 1, lua: SLIDING_LUA });
  r.defineCommand('fgCapped', { numberOfKeys: 1, lua: CAPPED_LUA });
  const scripts = r as unknown as Record<'fgSliding' | 'fgCapped', (...args: Array<string | number>) => Promise<number[]>>;
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
    async slidingAdd(key, windowMs, amount, limit) {
      const res = await scripts.fgSliding(key, windowMs, amount, limit, uniqueId());
      return { ok: Number(res[0]) === 1, total: Number(res[1]), retryAfterMs: Math.max(0, Number(res[2])) };
    },
    async addCapped(key, by, cap, ttlMs, seed) {
      const res = await scripts.fgCapped(key, by, cap, ttlMs, seed === null ? '' : String(seed));
      return { ok: Number(res[0]) === 1, total: Number(res[1]), missing: Number(res[2]) === 1 };
    },
    async close() {
      await r.quit().catch(() => r.disconnect());
    },
  };
}
