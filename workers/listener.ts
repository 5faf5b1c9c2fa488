// What a `fedgate worker` process shows to its supervisor (PRODUCT.md §3, §8): /health while
// it runs, /ready while PostgreSQL answers, and /metrics for Prometheus: the process metrics,
// the integrity counters of this process's scrubber and repairs, and the backends as its
// health pinger sees them. Nothing here changes state, so nothing needs the admin token
// (a worker does not hold it); the admin API stays on the gateways.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DataPlane } from '../shared/dataplane/index.ts';
import { sendJson } from '../shared/http/json.ts';
import { integrityRegistry } from '../shared/observability/integrity-metrics.ts';

export interface WorkerListener {
  port: number;
  close(): Promise<void>;
}

export async function startWorkerListener(deps: { pool: pg.Pool; data: DataPlane }, port: number, host: string): Promise<WorkerListener> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'fedgate_backend_healthy',
    help: 'Whether the health pinger of this process counts a backend in (1) or out (0)',
    labelNames: ['backend', 'region'],
    registers: [registry],
    collect() {
      this.reset();
      for (const b of deps.data.backends.all()) this.set({ backend: b.row.name, region: b.row.region }, b.healthy ? 1 : 0);
    },
  });

  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://worker').pathname.replace(/\/+$/, '') || '/';
    const answer = async () => {
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'MethodNotAllowed', message: `${req.method} is not served here` });
      if (p === '/health') return sendJson(res, 200, { status: 'ok' });
      if (p === '/ready') {
        try {
          await deps.pool.query('SELECT 1');
          return sendJson(res, 200, { status: 'ready', checks: { postgres: 'ok' } });
        } catch (e) {
          return sendJson(res, 503, { status: 'not ready', checks: { postgres: `unreachable: ${(e as Error).message}` } });
        }
      }
      if (p === '/metrics') {
        const body = await Registry.merge([registry, integrityRegistry]).metrics();
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
        return;
      }
      return sendJson(res, 404, { error: 'NotFound', message: `no route ${req.method} ${p} (a worker serves /health, /ready and /metrics)` });
    };
    answer().catch((e: Error) => {
      if (!res.headersSent) sendJson(res, 500, { error: 'InternalError', message: e.message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
