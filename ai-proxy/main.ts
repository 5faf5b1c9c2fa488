// Composition root of the AI proxy application (PRODUCT.md §7): the listener on
// FEDGATE_AI_PORT. Nothing here reads the environment; `bin/fedgate.ts` passes what it
// read. Routes: OpenAI /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/models;
// Anthropic /v1/messages, /v1/messages/count_tokens; plus /health and /metrics.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { Registry } from 'prom-client';
import type { Vault } from '../shared/vault/index.ts';
import type { Logger } from '../shared/observability/logger.ts';
import type { AuditEvent, AuditLog } from '../shared/audit/index.ts';
import type { FedgateConfig } from '../shared/config/index.ts';
import { createDetector } from './detection/index.ts';
import type { Detector, DetectorOptions } from './detection/types.ts';
import { createAiStore, type AiStore } from './store.ts';
import { createMemoryKv, createRedisKv, type Kv } from './kv.ts';
import { createAiHandler, type AiProxyDeps } from './handler.ts';
import { createUpstreamClient, DEFAULT_UPSTREAM_OPTIONS, type UpstreamOptions } from './upstream.ts';
import { DEFAULT_COSTS, type CostTable } from './cost.ts';
import { createAiMetrics } from './metrics.ts';

export interface AiProxyStartDeps {
  store: AiStore;
  kv: Kv;
  audit: { record(e: AuditEvent): void };
  log: Logger;
  createDetector(opts: DetectorOptions): Detector;
  costs?: CostTable;
  upstream?: Partial<UpstreamOptions>;
  /** Metrics go here (served on GET /metrics of this listener). */
  registry?: Registry;
  maskTtlMs?: number;
  approvalPollMs?: number;
  approvalWebhookUrl?: string;
  /** Signs approval webhooks of tokens whose policy has no webhookSecret. */
  approvalWebhookSecret?: string;
  webhookBackoffMs?: number;
  /** Sliding rate-limit window (default one minute). */
  rateWindowMs?: number;
  tls?: { cert: Buffer; key: Buffer };
}

export interface AiProxy {
  port: number;
  close(graceMs?: number): Promise<void>;
}

/** The store and the shared KV from what every process has: the pool, the vault and REDIS_URL. */
export function openAiState(o: { pool: pg.Pool; vault: Vault; redisUrl?: string }): { store: AiStore; kv: Kv } {
  return { store: createAiStore(o.pool, o.vault), kv: o.redisUrl ? createRedisKv(o.redisUrl) : createMemoryKv() };
}

export async function startAiProxy(deps: AiProxyStartDeps, opts: { port: number; host: string }): Promise<AiProxy> {
  const registry = deps.registry ?? new Registry();
  const upstreams = createUpstreamClient({ ...DEFAULT_UPSTREAM_OPTIONS, ...deps.upstream });
  const handlerDeps: AiProxyDeps = {
    store: deps.store,
    kv: deps.kv,
    audit: deps.audit,
    log: deps.log,
    createDetector: deps.createDetector,
    costs: deps.costs ?? DEFAULT_COSTS,
    upstreams,
    metrics: createAiMetrics(registry),
    maskTtlMs: deps.maskTtlMs,
    approvalPollMs: deps.approvalPollMs,
    approvalWebhookUrl: deps.approvalWebhookUrl,
    approvalWebhookSecret: deps.approvalWebhookSecret,
    webhookBackoffMs: deps.webhookBackoffMs,
    rateWindowMs: deps.rateWindowMs,
  };
  const { handle, warm } = createAiHandler(handlerDeps);
  await warm();
  const listener: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      registry.metrics().then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body), () => res.writeHead(500).end());
      return;
    }
    handle(req, res).catch((e: Error) => {
      deps.log.error({ err: e.message }, 'AI proxy request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const server = deps.tls ? https.createServer({ ...deps.tls, minVersion: 'TLSv1.2' }, listener) : http.createServer(listener);
  // Streamed answers can run for minutes: no whole-request deadline, idle sockets are closed.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve((server.address() as AddressInfo).port));
  });
  deps.log.info({ port, host: opts.host }, 'AI proxy listening');
  return {
    port,
    async close(graceMs = 30_000) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
      upstreams.close();
    },
  };
}

/** What `fedgate serve` and `fedgate ai-proxy` need: the listener on config.aiPort with the real detector. */
export function startAiProxyForRuntime(
  rt: { config: FedgateConfig; audit: AuditLog; log: Logger },
  state: { store: AiStore; kv: Kv },
  port = rt.config.aiPort,
  approval: { approvalWebhookUrl?: string; approvalWebhookSecret?: string } = {},
): Promise<AiProxy> {
  const { config } = rt;
  const tls = config.tlsCert && config.tlsKey ? { cert: fs.readFileSync(config.tlsCert), key: fs.readFileSync(config.tlsKey) } : undefined;
  return startAiProxy({ ...state, audit: rt.audit, log: rt.log, createDetector, tls, ...approval }, { port, host: config.host });
}
