// Calls to the provider: keep-alive pools per scheme, an idle timeout, retries with
// exponential backoff on 429 / 5xx / network errors (honouring Retry-After up to a cap),
// then the fallback upstream. The provider key is added to the outgoing headers here
// and nowhere else.
import http from 'node:http';
import https from 'node:https';
import type { Upstream } from './store.ts';

export interface UpstreamOptions {
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_UPSTREAM_OPTIONS: UpstreamOptions = { timeoutMs: 120_000, retries: 2, backoffMs: 200, maxBackoffMs: 5000 };

export interface UpstreamRequest {
  method: string;
  /** Path as the client sent it, starting with /v1/. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface UpstreamResponse {
  res: http.IncomingMessage;
  upstream: string;
  attempts: number;
  abort(): void;
}

export class UpstreamError extends Error {
  readonly upstream: string;
  constructor(upstream: string, message: string) {
    super(message);
    this.upstream = upstream;
  }
}

/** Client headers worth passing on; credentials and hop-by-hop headers are never copied. */
const PASS = /^(content-type|accept|user-agent|anthropic-version|anthropic-beta|openai-beta|openai-organization|openai-project|idempotency-key|x-stainless-[a-z-]+)$/;

export function passHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (PASS.test(k) && typeof v === 'string') out[k] = v;
  return out;
}

export function targetUrl(u: Upstream, path: string): URL {
  // OPENAI_BASE_URL conventionally ends in /v1, ANTHROPIC_BASE_URL does not: accept both.
  const base = u.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
  return new URL(base + path);
}

export function createUpstreamClient(opts: UpstreamOptions = DEFAULT_UPSTREAM_OPTIONS) {
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 30_000 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 30_000 }),
  };

  function once(u: Upstream & { apiKey: string }, r: UpstreamRequest): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
    const url = targetUrl(u, r.path);
    const headers: Record<string, string> = { ...r.headers, 'accept-encoding': 'identity' };
    if (u.provider === 'anthropic') {
      headers['x-api-key'] = u.apiKey;
      headers['anthropic-version'] ??= '2023-06-01';
    } else headers.authorization = `Bearer ${u.apiKey}`;
    if (r.body) headers['content-length'] = String(r.body.length);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method: r.method, headers, agent: url.protocol === 'https:' ? agents.https : agents.http }, (res) => resolve({ res, req }));
      req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`upstream "${u.name}" timed out after ${opts.timeoutMs} ms`)));
      // Error messages name the upstream, never its URL credentials or key.
      req.on('error', (e) => reject(new UpstreamError(u.name, `upstream "${u.name}" unreachable: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
      req.end(r.body);
    });
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function withRetries(u: Upstream & { apiKey: string }, r: UpstreamRequest): Promise<UpstreamResponse> {
    let last: unknown;
    for (let attempt = 0; attempt <= opts.retries; attempt++) {
      try {
        const { res, req } = await once(u, r);
        const retryable = res.statusCode === 429 || (res.statusCode ?? 0) >= 500;
        if (!retryable || attempt === opts.retries) return { res, upstream: u.name, attempts: attempt + 1, abort: () => req.destroy() };
        const ra = Number(res.headers['retry-after']);
        res.resume();
        await sleep(Math.min(opts.maxBackoffMs, Number.isFinite(ra) && ra > 0 ? ra * 1000 : opts.backoffMs * 2 ** attempt));
      } catch (e) {
        last = e;
        if (attempt < opts.retries) await sleep(Math.min(opts.maxBackoffMs, opts.backoffMs * 2 ** attempt));
      }
    }
    throw last;
  }

  return {
    /** Primary first; the fallback when the primary still fails (429 / 5xx / unreachable) after its retries. */
    async send(primary: Upstream & { apiKey: string }, fallback: (Upstream & { apiKey: string }) | null, r: UpstreamRequest): Promise<UpstreamResponse> {
      try {
        const out = await withRetries(primary, r);
        const failed = out.res.statusCode === 429 || (out.res.statusCode ?? 0) >= 500;
        if (!failed || !fallback) return out;
        out.res.resume();
      } catch (e) {
        if (!fallback) throw e;
      }
      return withRetries(fallback, r);
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;
