// Composition root of the gateway application: the S3 listener and the admin
// listener, built from a Runtime. Nothing here reads the environment.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Registry, Counter, Histogram, collectDefaultMetrics } from 'prom-client';
import { integrityRegistry } from '../shared/observability/integrity-metrics.ts';
import type { Runtime } from '../shared/runtime/index.ts';
import { ACCESS_KEY_TOPIC } from '../shared/cache/invalidation.ts';
import { cachingBucketStore } from './bucket-cache.ts';
import { CRC_IMPLEMENTATION } from '../shared/checksums/crc.ts';
import type { Bootstrap } from '../shared/runtime/bootstrap.ts';
import { addTenantKey, generateKeyPair, accessKeyContext } from '../shared/runtime/bootstrap.ts';
import type { GatewayContext } from './context.ts';
import { createS3RequestListener } from './s3-server.ts';
import { createAdminRequestListener, type AdminDeps } from './admin/index.ts';

export interface Gateway {
  s3Port: number;
  adminPort: number;
  /** Stop accepting; let in-flight requests finish (up to `graceMs`), then cut the rest. */
  close(graceMs?: number): Promise<void>;
}

/** Cached key → secret lookups: a SigV4 check must not cost a vault open + DB round trip per request. */
/**
 * Access keys, vault-opened, cached for `ttlMs`. A key disabled or deleted through any
 * instance's admin API is dropped from this cache at once (rt.invalidation); the TTL only
 * matters for instances that Redis could not reach.
 */
function keyResolver(rt: Runtime, ttlMs = 30_000) {
  const cache = new Map<string, { at: number; v: { secret: string; tenantId: string; tenantName: string } | null }>();
  // A lookup that an invalidation overtook must not cache what it read before the change.
  let generation = 0;
  rt.invalidation.subscribe(ACCESS_KEY_TOPIC, (key) => {
    generation++;
    if (key === null) cache.clear();
    else cache.delete(key);
  });
  return async (accessKeyId: string) => {
    const hit = cache.get(accessKeyId);
    if (hit && Date.now() - hit.at < ttlMs) return hit.v;
    const before = generation;
    const row = await rt.store.getAccessKey(accessKeyId);
    const v = row && row.status === 'active' ? { secret: rt.vault.open(row.secretSealed, accessKeyContext(accessKeyId)).toString('utf8'), tenantId: row.tenantId, tenantName: row.tenantName } : null;
    if (cache.size > 10_000) cache.clear();
    if (generation === before) cache.set(accessKeyId, { at: Date.now(), v });
    return v;
  };
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startGateway(rt: Runtime, boot: Bootstrap, opts: { s3Port?: number; adminPort?: number; adminRoutes?: AdminDeps['extraRoutes'] } = {}): Promise<Gateway> {
  const { config, log } = rt;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'fedgate_s3_requests_total', help: 'S3 requests by operation and status', labelNames: ['op', 'status'], registers: [registry] });
  const latency = new Histogram({ name: 'fedgate_s3_request_seconds', help: 'S3 request latency', labelNames: ['op'], registers: [registry], buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60] });

  const ctx: GatewayContext = {
    store: cachingBucketStore(rt.store, rt.invalidation),
    tagsCors: rt.tagsCors,
    vault: rt.vault,
    data: rt.data,
    audit: rt.audit,
    log,
    options: { domain: config.domain, region: config.region, maxPutSize: 5 * 1024 ** 3, spoolDir: path.join(config.dataDir, 'tmp') },
    resolveKey: keyResolver(rt),
    observe(op, status, seconds) {
      requests.inc({ op, status: String(status) });
      latency.observe({ op }, seconds);
    },
  };

  const tls = config.tlsCert && config.tlsKey ? { cert: fs.readFileSync(config.tlsCert), key: fs.readFileSync(config.tlsKey), minVersion: 'TLSv1.2' as const } : undefined;
  const make = (listener: http.RequestListener) => {
    const s = tls ? https.createServer(tls, listener) : http.createServer(listener);
    // Large uploads legitimately take long: no whole-request deadline, but idle sockets are closed.
    s.requestTimeout = 0;
    s.headersTimeout = 60_000;
    s.keepAliveTimeout = 65_000;
    s.setTimeout(300_000);
    return s;
  };
  const s3 = make(createS3RequestListener(ctx));
  const admin = make(
    createAdminRequestListener({
      store: rt.store,
      data: rt.data,
      vault: rt.vault,
      pool: rt.pool,
      audit: rt.audit,
      log,
      timeoutMs: config.backendTimeoutMs,
      checkAdminToken: boot.checkAdminToken,
      extraRoutes: opts.adminRoutes,
      async addTenantKey(tenantId, pair) {
        const p = pair ?? generateKeyPair();
        await addTenantKey(rt, tenantId, p);
        // An instance may have cached "no such key" for this id before it existed.
        await rt.invalidation.publish(ACCESS_KEY_TOPIC, p.accessKeyId);
        return p;
      },
      keyChanged: (accessKeyId) => rt.invalidation.publish(ACCESS_KEY_TOPIC, accessKeyId),
      async metrics() {
        return { contentType: registry.contentType, body: await Registry.merge([registry, integrityRegistry]).metrics() };
      },
    }),
  );
  const s3Port = await listen(s3, opts.s3Port ?? config.s3Port, config.host);
  const adminPort = await listen(admin, opts.adminPort ?? config.adminPort, config.host);
  log.info({ s3Port, adminPort, host: config.host, crc: CRC_IMPLEMENTATION }, 'gateway listening');

  return {
    s3Port,
    adminPort,
    async close(graceMs = 30_000) {
      const closing = [s3, admin].map((s) => new Promise<void>((r) => s.close(() => r())));
      for (const s of [s3, admin]) s.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const s of [s3, admin]) s.closeAllConnections();
      }, graceMs);
      timer.unref();
      await Promise.all(closing);
      clearTimeout(timer);
    },
  };
}
