// One AI request, end to end: authenticate the virtual token, run the policy chain,
// scan and rewrite the request, call the upstream with the real key, guard the answer
// (streamed or not), account usage and cost, write one audit entry.
import { HttpError as ProxyError } from '../shared/http/json.ts';
import type http from 'node:http';
import { isDatabaseUnreachable } from '../metadata/db.ts';
import type { Logger } from '../shared/observability/logger.ts';
import type { AuditEvent } from '../shared/audit/index.ts';
import { evaluate } from '../shared/policy/index.ts';
import type { Detector, DetectorOptions, Finding } from './detection/types.ts';
import type { AiStore, Upstream, VirtualToken } from './store.ts';
import type { Kv } from './kv.ts';
import { ROUTES, errorBody, familyOf, requestSlots, responseSlots, usageOf, type Family, type Route, type Usage } from './providers.ts';
import { aiPolicy } from './chain.ts';
import { conversationKey, openMaskSession, MAX_PLACEHOLDER_LENGTH, type MaskSession } from './masking.ts';
import { countFindings, scanRequest } from './request-scan.ts';
import { createTextGuard } from './streaming/guard.ts';
import { pipeStream } from './streaming/pipe.ts';
import { passHeaders, type UpstreamClient } from './upstream.ts';
import { costUsd, type CostTable } from './cost.ts';
import { waitForApproval } from './approval.ts';
import type { AiMetrics } from './metrics.ts';

export interface AiProxyDeps {
  store: AiStore;
  kv: Kv;
  audit: { record(e: AuditEvent): void };
  log: Logger;
  /** The detection engine's factory (ai-proxy/detection), injected so tests can pass their own. */
  createDetector(opts: DetectorOptions): Detector;
  costs: CostTable;
  upstreams: UpstreamClient;
  metrics?: AiMetrics;
  maskTtlMs?: number;
  approvalPollMs?: number;
  /** POST target for approval notifications when the token names none. */
  approvalWebhookUrl?: string;
  /** HMAC key for approval webhooks when the token's policy names none. */
  approvalWebhookSecret?: string;
  webhookBackoffMs?: number;
  maxBodyBytes?: number;
  /** Length of the sliding rate-limit window (default one minute; shorter in tests). */
  rateWindowMs?: number;
  /** Output tokens assumed for the spend reservation when the request sets no maximum. */
  defaultOutputTokens?: number;
}

/** A refusal with an HTTP status and a code, rendered in the caller's provider format. */
export { HttpError as ProxyError } from '../shared/http/json.ts';

/** A refusal that carries extra answer headers (Retry-After on rate limits). */
class RefusalError extends ProxyError {
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string>) {
    super(status, code, message);
    this.headers = headers;
  }
}

function presentedToken(req: http.IncomingMessage): string {
  const auth = req.headers.authorization ?? '';
  if (/^bearer /i.test(auth)) return auth.slice(7).trim();
  const k = req.headers['x-api-key'];
  return typeof k === 'string' ? k.trim() : '';
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new ProxyError(413, 'request_too_large', `request bodies are limited to ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Characters every stream holds back (longest whitespace-containing finding, with margin). */
const STREAM_WINDOW = 64;

export function createAiHandler(deps: AiProxyDeps) {
  let detector: Detector | undefined;
  let detectorVersion = -1;
  let detectorAt = 0;
  let detectorRules = '';
  let refreshing: Promise<void> | null = null;
  async function rebuild(): Promise<void> {
    const version = deps.store.rulesVersion;
    const rules = await deps.store.listRules();
    const key = JSON.stringify(rules);
    // Unchanged rules keep the compiled detector.
    if (!detector || key !== detectorRules) detector = deps.createDetector({ customRules: rules });
    detectorRules = key;
    detectorVersion = version;
    detectorAt = Date.now();
  }
  // Custom rules change through the admin API (same process: version bump, applied before the
  // next request) or on another instance (picked up within ~10 s: the rules are re-read in the
  // background, so no request waits for that query).
  async function currentDetector(): Promise<Detector> {
    if (!detector || detectorVersion !== deps.store.rulesVersion) {
      await rebuild();
    } else if (Date.now() - detectorAt > 10_000 && !refreshing) {
      refreshing = rebuild()
        .catch((err: unknown) => deps.log.warn({ err: (err as Error).message }, 'custom rules refresh failed; keeping the current ones'))
        .finally(() => (refreshing = null));
    }
    return detector!;
  }

  async function pickUpstreams(token: VirtualToken, family: Family): Promise<Array<Upstream & { apiKey: string }>> {
    const out: Array<Upstream & { apiKey: string }> = [];
    for (const name of token.upstreams) {
      const u = await deps.store.getUpstream(name);
      if (u && (family === 'anthropic') === (u.provider === 'anthropic')) out.push(u);
    }
    return out;
  }

  const handle = async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const t0 = performance.now();
    const path = routePath(req.url ?? '/');
    const r = ROUTES[path];
    const family: Family = r ? familyOf(r.route) : path.startsWith('/v1/messages') ? 'anthropic' : 'openai';
    const audit: AuditEvent & { details: Record<string, unknown> } = { plane: 'ai', actor: 'anonymous', action: r?.route ?? 'unknown', resource: path, result: 'error', details: {} };
    let status = 500;
    // Micro-dollars of estimated cost reserved in the spend counter while the request is
    // in flight (only for tokens with a spend cap), released or trued up at the end.
    let reserved = 0;
    let tokenId = '';
    const send = (st: number, body: unknown, extra: Record<string, string> = {}) => {
      status = st;
      const s = JSON.stringify(body);
      res.writeHead(st, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(s)), ...extra });
      res.end(s);
    };
    try {
      if (!r) throw new ProxyError(404, 'not_found', `no route ${req.method} ${path}`);
      if (req.method !== r.method) throw new ProxyError(405, 'method_not_allowed', `${path} takes ${r.method}`);
      const presented = presentedToken(req);
      const token = presented ? await deps.store.findToken(presented) : null;
      if (!token) throw new ProxyError(401, 'invalid_api_key', 'a valid Fedgate virtual token (fgt_…) is required');
      audit.actor = token.id;
      tokenId = token.id;
      const raw = r.method === 'POST' ? await readBody(req, deps.maxBodyBytes ?? 32 * 1024 * 1024) : Buffer.alloc(0);
      let body: Record<string, any> = {};
      if (r.method === 'POST') {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new ProxyError(400, 'invalid_json', 'the request body is not valid JSON');
        }
        if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ProxyError(400, 'invalid_json', 'the request body must be a JSON object');
      }
      const model = typeof body.model === 'string' ? body.model : undefined;
      audit.details.model = model;

      // Policy chain. Rate limits and the spend reservation are atomic check-and-add
      // operations in the shared KV; their outcome feeds the (pure) policy evaluation.
      const now = Date.now();
      const p = token.policy;
      const shadowed = p.shadow === true;
      const win = deps.rateWindowMs ?? 60_000;
      const capMicros = p.spendCapUsd !== undefined ? Math.round(p.spendCapUsd * 1e6) : -1;
      const estimate = capMicros >= 0 ? estimateMicros(deps.costs, r.route, model, raw.length, body, deps.defaultOutputTokens ?? DEFAULT_OUTPUT_TOKENS) : 0;
      const [reqW, tokW, spend] = await Promise.all([
        p.rpm !== undefined ? deps.kv.slidingAdd(`fg:rl:req:${token.id}`, win, 1, shadowed ? -1 : p.rpm) : null,
        // amount 0: a pure check (tokens are logged when the answer reports them).
        p.tpm !== undefined ? deps.kv.slidingAdd(`fg:rl:tok:${token.id}`, win, 0, shadowed ? -1 : Math.max(0, p.tpm - 1)) : null,
        capMicros >= 0 ? reserveSpend(deps, token.id, estimate, shadowed ? -1 : capMicros) : null,
      ]);
      if (spend) reserved = spend.reserved;
      const decision = evaluate(aiPolicy(token), {
        token,
        ip: req.socket.remoteAddress ?? '',
        model,
        now: new Date(now),
        requestsThisMinute: reqW ? (reqW.ok ? reqW.total : reqW.total + 1) : 0,
        tokensThisMinute: tokW?.total ?? 0,
        spentUsd: (spend?.beforeMicros ?? 0) / 1e6,
        estimateUsd: estimate / 1e6,
        spendFits: !spend || spend.beforeMicros + estimate <= capMicros,
      });
      audit.details.decision = decision.effect;
      audit.details.rules = decision.matches.map((m) => (m.shadow ? `shadow:${m.rule}` : m.rule));
      if (decision.effect === 'deny') {
        const st = Number(decision.decisive?.data?.status ?? 403);
        const retryMs = decision.rule === 'ai.rate-limit.requests' ? reqW?.retryAfterMs : decision.rule === 'ai.rate-limit.tokens' ? tokW?.retryAfterMs : undefined;
        const headers: Record<string, string> = {};
        if (retryMs !== undefined) {
          headers['retry-after'] = String(Math.max(1, Math.ceil(retryMs / 1000)));
          headers['retry-after-ms'] = String(Math.max(1, Math.ceil(retryMs)));
        }
        throw new RefusalError(st, decision.rule!.replace(/^ai\./, '').replace(/[.-]/g, '_'), `refused by Fedgate policy rule ${decision.rule}: ${decision.reasons[0]}`, headers);
      }
      if (decision.effect === 'pause') {
        const idem = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
        const outcome = await waitForApproval(deps, token, idem, { route: r.route, model, upstreams: token.upstreams });
        audit.details.approval = outcome;
        if (outcome !== 'approved') throw new ProxyError(403, `approval_${outcome}`, `the request was ${outcome === 'expired' ? 'not approved in time' : 'rejected by an administrator'} (Fedgate rule ai.approval)`);
      }
      const shadow = shadowed;

      // Detection on the request.
      const det = await currentDetector();
      const slots = requestSlots(r.route, body);
      // The key hashes the whole first user message: computed only when a mask table is
      // opened, so requests without MASK findings (and answers without any) skip it.
      const firstUser = slots.find((s) => s.role === 'user')?.text ?? '';
      let conv: string | undefined;
      const openSession = () => openMaskSession(deps.kv, (conv ??= conversationKey(token.id, firstUser)), deps.maskTtlMs ?? 3_600_000);
      const scan = await scanRequest(det, slots, openSession, shadow);
      const findings = scan.counts;
      audit.details.findings = findings;
      if (scan.shadowBlock) audit.details.rules = [...(audit.details.rules as string[]), `shadow:${scan.shadowBlock.ruleId}`];
      if (scan.block) {
        audit.details.decision = 'block';
        audit.details.rules = [...(audit.details.rules as string[]), scan.block.ruleId];
        throw new ProxyError(400, 'request_blocked', `request blocked by Fedgate detection rule ${scan.block.ruleId}: it was not sent to the provider`);
      }

      // Upstream.
      const candidates = await pickUpstreams(token, family);
      if (candidates.length === 0) throw new ProxyError(400, 'no_upstream', `this token is bound to no ${family === 'anthropic' ? 'Anthropic' : 'OpenAI-compatible'} upstream`);
      if (r.route === 'models' && token.models && token.models.length > 0) {
        audit.result = '200';
        return send(200, { object: 'list', data: token.models.map((id) => ({ id, object: 'model', created: 0, owned_by: candidates[0].name })) }, { 'x-fedgate-overhead-ms': ms(t0) });
      }
      const stream = body.stream === true;
      // Usage in streamed chat answers is only sent when asked for (OpenAI
      // "stream_options.include_usage"); the spend cap needs it.
      if (r.route === 'chat' && stream) body.stream_options = { ...(body.stream_options ?? {}), include_usage: true };
      const outBody = r.method === 'POST' ? Buffer.from(JSON.stringify(body)) : undefined;
      const headers = passHeaders(req.headers);
      if (outBody) headers['content-type'] = 'application/json';
      const tUp = performance.now();
      const up = await deps.upstreams.send(candidates[0], candidates[1] ?? null, { method: r.method, path, headers, body: outBody });
      const preMs = tUp - t0;
      deps.metrics?.overhead(preMs / 1000);
      audit.details.upstream = up.upstream;
      audit.details.attempts = up.attempts;
      audit.resource = `${up.upstream}/${model ?? ''}`;
      const upStatus = up.res.statusCode ?? 502;
      // MASK on the answer side: a value the model produced that a MASK rule covers does
      // not reach the client; it gets this conversation's placeholder (allocated as an
      // answer value, so it is never restored). A value the client itself sent (in this
      // request, or earlier in the conversation) is not new to it and passes.
      let session: MaskSession | undefined = scan.session;
      const maskAnswer = async (f: Finding): Promise<string> => {
        if (scan.values.has(f.value)) return f.value;
        session ??= await openSession();
        if (session.sentByClient(f.value)) return f.value;
        return session.mask(f.value, f.type, 'answer');
      };
      const jsonEscape = (v: string) => JSON.stringify(v).slice(1, -1);
      const guardFor = (json = false) =>
        createTextGuard({
          scan: (t) => det.scan(t, 'response'),
          restore: (t) => (session ? session.restore(t, json ? jsonEscape : undefined) : t),
          mask: maskAnswer,
          window: Math.max(STREAM_WINDOW, MAX_PLACEHOLDER_LENGTH),
          maxFindingLength: det.maxFindingLength,
          shadow,
        });
      const ctype = String(up.res.headers['content-type'] ?? '');
      let usage: Usage | null = null;
      const respFindings: Finding[] = [];
      // Usage counts against the token's tpm window and settles its spend reservation as soon
      // as it is known: before a non-streamed answer is sent (the client's next request then
      // meets the limits), after a stream's last event (which carries it).
      const accountAnswer = async () => {
        if (!usage || !model) return;
        await account(deps, token, up.upstream, model, usage, audit.details, reserved);
        reserved = 0;
      };
      // The client went away before the answer was complete: stop paying for it.
      res.on('close', () => {
        if (!res.writableFinished) up.abort();
      });

      if (upStatus < 300 && ctype.includes('text/event-stream')) {
        status = upStatus;
        const out = await pipeStream({ route: r.route, family, up, res, guardFor, overheadMs: preMs });
        usage = out.usage;
        await accountAnswer();
        respFindings.push(...out.findings);
        if (out.block) {
          audit.details.decision = 'block-response';
          audit.details.rules = [...(audit.details.rules as string[]), out.block.ruleId];
        }
      } else {
        const chunks: Buffer[] = [];
        for await (const c of up.res) chunks.push(c as Buffer);
        let text = Buffer.concat(chunks).toString('utf8');
        const tPost = performance.now();
        if (upStatus >= 300) {
          // Provider errors pass through, minus anything that echoes the key.
          text = scrubKey(text, candidates.map((c) => c.apiKey));
          status = upStatus;
          res.writeHead(upStatus, { 'content-type': ctype || 'application/json', 'x-fedgate-overhead-ms': ms(t0, tUp) });
          res.end(text);
        } else {
          let json: Record<string, any> | undefined;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          let blocked: Finding | undefined;
          if (json) {
            usage = usageOf(json);
            for (const slot of responseSlots(r.route, json)) {
              const g = guardFor(slot.json === true);
              const o = await g.push(slot.text);
              const f = o.block ? o : await g.flush();
              respFindings.push(...o.findings, ...(o.block ? [] : f.findings));
              if (o.block || f.block) {
                blocked = o.block ?? f.block;
                break;
              }
              slot.set(o.text + f.text);
            }
          }
          if (blocked) {
            audit.details.decision = 'block-response';
            audit.details.rules = [...(audit.details.rules as string[]), blocked.ruleId];
            throw new ProxyError(400, 'response_blocked', `the answer was blocked by Fedgate detection rule ${blocked.ruleId}`);
          }
          const outText = json ? JSON.stringify(json) : text;
          status = upStatus;
          await accountAnswer();
          const overhead = preMs + (performance.now() - tPost);
          res.writeHead(upStatus, { 'content-type': ctype || 'application/json', 'content-length': String(Buffer.byteLength(outText)), 'x-fedgate-overhead-ms': overhead.toFixed(2) });
          res.end(outText);
        }
      }
      audit.result = String(status);
      countFindings(findings, respFindings);
      if (reserved && upStatus < 300 && model && !usage) {
        // Answered, but no usage reported (e.g. the client left mid-stream): the
        // provider bills it all the same, so the reservation stays as the charge.
        audit.details.costUsd = reserved / 1e6;
        audit.details.costEstimated = true;
        await deps.store.recordUsage({ tokenId: token.id, upstream: up.upstream, model, inputTokens: 0, outputTokens: 0, costUsd: reserved / 1e6 }).catch(() => {});
        reserved = 0;
      }
    } catch (e) {
      if (e instanceof ProxyError) {
        audit.result = String(e.status);
        audit.details.error = e.code;
        if (!res.headersSent) send(e.status, errorBody(family, e.status, e.code, e.message), { 'x-fedgate-overhead-ms': ms(t0), ...(e instanceof RefusalError ? e.headers : {}) });
        else res.destroy();
      } else if (isDatabaseUnreachable(e)) {
        // Tokens, rules and spend live in PostgreSQL: without it nothing can be allowed. 503, which the SDKs retry.
        deps.log.warn({ err: (e as Error).message }, 'AI proxy: database unreachable');
        audit.result = '503';
        if (!res.headersSent) send(503, errorBody(family, 503, 'service_unavailable', 'Fedgate cannot reach its database; retry later'));
        else res.destroy();
      } else {
        deps.log.error({ err: (e as Error).message }, 'AI proxy error');
        audit.result = '502';
        if (!res.headersSent) send(502, errorBody(family, 502, 'upstream_error', (e as Error).message || 'upstream failed'));
        else res.destroy();
      }
    } finally {
      if (reserved) await adjustSpend(deps, tokenId, -reserved).catch(() => {});
      audit.details.latencyMs = Number((performance.now() - t0).toFixed(2));
      deps.audit.record(audit);
      deps.metrics?.observe(r?.route ?? 'unknown', status, String(audit.details.decision ?? 'none'), audit.details.findings as Record<string, number> | undefined);
    }
  };
  /** Compiles the detector (built-in + custom rules) before the first request needs it. */
  return { handle, warm: () => currentDetector().then(() => undefined) };
}

/** A plain path (the usual case) needs no URL parser; anything else gets its normalisation. */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9/_-]*$/;

function routePath(url: string): string {
  const q = url.indexOf('?');
  const p = q < 0 ? url : url.slice(0, q);
  return (PLAIN_PATH.test(p) ? p : new URL(url, 'http://ai').pathname).replace(/\/+$/, '');
}

function ms(t0: number, t1 = performance.now()): string {
  return (t1 - t0).toFixed(2);
}

function scrubKey(text: string, keys: string[]): string {
  let out = text;
  for (const k of keys) if (k.length >= 8) out = out.split(k).join('[REDACTED]');
  return out;
}

const SPEND_TTL_MS = 30 * 24 * 3_600_000;
const DEFAULT_OUTPUT_TOKENS = 1024;

/**
 * Worst-case cost of a request in micro-dollars: input ≈ request bytes / 4 tokens (an
 * over-estimate: the JSON framing counts too), output = the requested maximum or
 * `defaultOut`. Routes that cost nothing (count_tokens, models) reserve nothing.
 */
function estimateMicros(costs: CostTable, route: Route, model: string | undefined, bytes: number, body: Record<string, any>, defaultOut: number): number {
  if (!model || route === 'count_tokens' || route === 'models') return 0;
  const maxOut = Number(body.max_tokens ?? body.max_completion_tokens ?? body.max_output_tokens ?? defaultOut) || defaultOut;
  // The small subtraction keeps float noise (0.001 × 1e6 = 1000.0000000001) from adding a micro-dollar.
  return Math.max(1, Math.ceil(costUsd(costs, model, Math.ceil(bytes / 4), route === 'embeddings' ? 0 : maxOut) * 1e6 - 1e-6));
}

// Spend is kept in micro-dollars in the shared KV (one atomic script in Redis), seeded
// from the usage table when the key is missing. A request reserves its worst-case cost
// only if it fits under the cap (capMicros < 0: always, for shadow mode); concurrent
// requests of one token on any instance therefore never reserve more than the cap
// together. The reservation is settled to the real cost when the answer has ended.
async function reserveSpend(deps: AiProxyDeps, tokenId: string, micros: number, capMicros: number): Promise<{ beforeMicros: number; reserved: number }> {
  const key = `fg:spend:${tokenId}`;
  let r = await deps.kv.addCapped(key, micros, capMicros, SPEND_TTL_MS, null);
  if (r.missing) r = await deps.kv.addCapped(key, micros, capMicros, SPEND_TTL_MS, Math.round((await deps.store.spentUsd(tokenId)) * 1e6));
  return r.ok ? { beforeMicros: r.total - micros, reserved: micros } : { beforeMicros: r.total, reserved: 0 };
}

/** Adds `micros` (negative: gives back) to a token's spend; a key that expired meanwhile is left to be re-seeded. */
function adjustSpend(deps: AiProxyDeps, tokenId: string, micros: number): Promise<unknown> {
  if (micros === 0) return Promise.resolve();
  return deps.kv.addCapped(`fg:spend:${tokenId}`, micros, -1, SPEND_TTL_MS, null);
}

/** An answer's usage: tpm window, spend settled from the reservation to the real cost, usage row (queued), audit details, metrics. */
async function account(deps: AiProxyDeps, token: VirtualToken, upstream: string, model: string, usage: Usage, details: Record<string, unknown>, reservedMicros: number): Promise<void> {
  const cost = costUsd(deps.costs, model, usage.inputTokens, usage.outputTokens);
  details.tokensIn = usage.inputTokens;
  details.tokensOut = usage.outputTokens;
  details.costUsd = Number(cost.toFixed(8));
  const p = token.policy;
  await Promise.all([
    p.tpm !== undefined ? deps.kv.slidingAdd(`fg:rl:tok:${token.id}`, deps.rateWindowMs ?? 60_000, usage.inputTokens + usage.outputTokens, -1) : null,
    p.spendCapUsd !== undefined ? adjustSpend(deps, token.id, Math.round(cost * 1e6) - reservedMicros) : null,
    deps.store.recordUsage({ tokenId: token.id, upstream, model, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, costUsd: cost }),
  ]).catch((e: Error) => deps.log.warn({ err: e.message }, 'AI usage accounting failed'));
  deps.metrics?.usage(model, usage.inputTokens, usage.outputTokens, cost);
}

export type { Route };
