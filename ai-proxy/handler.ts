// One AI request, end to end: authenticate the virtual token, run the policy chain,
// scan and rewrite the request, call the upstream with the real key, guard the answer
// (streamed or not), account usage and cost, write one audit entry.
import { HttpError as ProxyError } from '../shared/http/json.ts';
import type http from 'node:http';
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
  maxBodyBytes?: number;
}

/** A refusal with an HTTP status and a code, rendered in the caller's provider format. */
export { HttpError as ProxyError } from '../shared/http/json.ts';

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

const minute = (t: number) => Math.floor(t / 60_000);

export function createAiHandler(deps: AiProxyDeps) {
  let detector: Detector | undefined;
  let detectorVersion = -1;
  let detectorAt = 0;
  // Custom rules change through the admin API (same process: version bump) or another
  // instance (picked up within 10 s).
  async function currentDetector(): Promise<Detector> {
    if (!detector || detectorVersion !== deps.store.rulesVersion || Date.now() - detectorAt > 10_000) {
      const version = deps.store.rulesVersion;
      detector = deps.createDetector({ customRules: await deps.store.listRules() });
      detectorVersion = version;
      detectorAt = Date.now();
    }
    return detector;
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
    const path = new URL(req.url ?? '/', 'http://ai').pathname.replace(/\/+$/, '');
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

      // Policy chain.
      const now = Date.now();
      const [requestsThisMinute, tokensThisMinute, spentUsd] = await Promise.all([
        deps.kv.incrBy(`fg:rl:req:${token.id}:${minute(now)}`, 1, 61_000),
        deps.kv.getNum(`fg:rl:tok:${token.id}:${minute(now)}`),
        reserveSpend(deps, token.id, (reserved = estimateMicros(deps.costs, model, raw.length, body, token.policy.spendCapUsd !== undefined))),
      ]);
      const decision = evaluate(aiPolicy(token), { token, ip: req.socket.remoteAddress ?? '', model, now: new Date(now), requestsThisMinute, tokensThisMinute, spentUsd });
      audit.details.decision = decision.effect;
      audit.details.rules = decision.matches.map((m) => (m.shadow ? `shadow:${m.rule}` : m.rule));
      if (decision.effect === 'deny') {
        const st = Number(decision.decisive?.data?.status ?? 403);
        throw new ProxyError(st, decision.rule!.replace(/^ai\./, '').replace(/[.-]/g, '_'), `refused by Fedgate policy rule ${decision.rule}: ${decision.reasons[0]}`);
      }
      if (decision.effect === 'pause') {
        const idem = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
        const outcome = await waitForApproval(deps, token, idem, { route: r.route, model, upstreams: token.upstreams });
        audit.details.approval = outcome;
        if (outcome !== 'approved') throw new ProxyError(403, `approval_${outcome}`, `the request was ${outcome === 'expired' ? 'not approved in time' : 'rejected by an administrator'} (Fedgate rule ai.approval)`);
      }
      const shadow = token.policy.shadow === true;

      // Detection on the request.
      const det = await currentDetector();
      const slots = requestSlots(r.route, body);
      const firstUser = slots.find((s) => s.role === 'user')?.text ?? '';
      const conv = conversationKey(token.id, firstUser);
      const scan = await scanRequest(det, slots, () => openMaskSession(deps.kv, conv, deps.maskTtlMs ?? 3_600_000), shadow);
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
      const restore = scan.session ? (t: string) => (scan.session as MaskSession).restore(t) : (t: string) => t;
      const guardFor = () => createTextGuard({ scan: (t) => det.scan(t, 'response'), restore, window: Math.max(STREAM_WINDOW, MAX_PLACEHOLDER_LENGTH), maxFindingLength: det.maxFindingLength, shadow });
      const ctype = String(up.res.headers['content-type'] ?? '');
      let usage: Usage | null = null;
      const respFindings: Finding[] = [];
      // The client went away before the answer was complete: stop paying for it.
      res.on('close', () => {
        if (!res.writableFinished) up.abort();
      });

      if (upStatus < 300 && ctype.includes('text/event-stream')) {
        status = upStatus;
        const out = await pipeStream({ route: r.route, family, up, res, guardFor, overheadMs: preMs });
        usage = out.usage;
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
              const g = guardFor();
              const o = g.push(slot.text);
              const f = o.block ? o : g.flush();
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
          const overhead = preMs + (performance.now() - tPost);
          res.writeHead(upStatus, { 'content-type': ctype || 'application/json', 'content-length': String(Buffer.byteLength(outText)), 'x-fedgate-overhead-ms': overhead.toFixed(2) });
          res.end(outText);
        }
      }
      audit.result = String(status);
      countFindings(findings, respFindings);
      if (usage && model) {
        await account(deps, token.id, up.upstream, model, usage, audit.details, now, reserved);
        reserved = 0;
      }
    } catch (e) {
      if (e instanceof ProxyError) {
        audit.result = String(e.status);
        audit.details.error = e.code;
        if (!res.headersSent) send(e.status, errorBody(family, e.status, e.code, e.message), { 'x-fedgate-overhead-ms': ms(t0) });
        else res.destroy();
      } else {
        deps.log.error({ err: (e as Error).message }, 'AI proxy error');
        audit.result = '502';
        if (!res.headersSent) send(502, errorBody(family, 502, 'upstream_error', (e as Error).message || 'upstream failed'));
        else res.destroy();
      }
    } finally {
      if (reserved) await deps.kv.incrBy(`fg:spend:${tokenId}`, -reserved, SPEND_TTL_MS).catch(() => {});
      audit.details.latencyMs = Number((performance.now() - t0).toFixed(2));
      deps.audit.record(audit);
      deps.metrics?.observe(r?.route ?? 'unknown', status, String(audit.details.decision ?? 'none'), audit.details.findings as Record<string, number> | undefined);
    }
  };
  /** Compiles the detector (built-in + custom rules) before the first request needs it. */
  return { handle, warm: () => currentDetector().then(() => undefined) };
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

/**
 * Worst-case cost of a request in micro-dollars: input ≈ bytes / 4 tokens, output = the
 * requested maximum (or 1024). Zero when the token has no spend cap.
 */
function estimateMicros(costs: CostTable, model: string | undefined, bytes: number, body: Record<string, any>, capped: boolean): number {
  if (!capped || !model) return 0;
  const maxOut = Number(body.max_tokens ?? body.max_completion_tokens ?? body.max_output_tokens ?? 1024) || 1024;
  return Math.max(1, Math.round(costUsd(costs, model, Math.ceil(bytes / 4), maxOut) * 1e6));
}

// Spend is kept in micro-dollars in the shared KV (integer INCRBY is atomic in Redis),
// seeded from the usage table the first time the store sees the token. The request's
// estimate is added atomically and the total *before* it is what the cap is checked
// against: of concurrent requests only those that found budget left pass, so the cap
// is overshot by at most one request's cost. Returns the spend before this request.
async function reserveSpend(deps: AiProxyDeps, tokenId: string, micros: number): Promise<number> {
  const key = `fg:spend:${tokenId}`;
  const seeded = await deps.kv.hGet('fg:spend-seeded', tokenId);
  if (seeded === null) {
    const db = await deps.store.spentUsd(tokenId);
    if (await deps.kv.hSetNx('fg:spend-seeded', tokenId, '1', SPEND_TTL_MS)) await deps.kv.incrBy(key, Math.round(db * 1e6), SPEND_TTL_MS);
  }
  const total = micros > 0 ? await deps.kv.incrBy(key, micros, SPEND_TTL_MS) : await deps.kv.getNum(key);
  return (total - micros) / 1e6;
}

async function account(deps: AiProxyDeps, tokenId: string, upstream: string, model: string, usage: Usage, details: Record<string, unknown>, now: number, reservedMicros: number): Promise<void> {
  const cost = costUsd(deps.costs, model, usage.inputTokens, usage.outputTokens);
  details.tokensIn = usage.inputTokens;
  details.tokensOut = usage.outputTokens;
  details.costUsd = Number(cost.toFixed(8));
  await Promise.all([
    deps.kv.incrBy(`fg:rl:tok:${tokenId}:${minute(now)}`, usage.inputTokens + usage.outputTokens, 61_000),
    deps.kv.incrBy(`fg:spend:${tokenId}`, Math.round(cost * 1e6) - reservedMicros, SPEND_TTL_MS),
    deps.store.recordUsage({ tokenId, upstream, model, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, costUsd: cost }),
  ]).catch((e: Error) => deps.log.warn({ err: e.message }, 'AI usage accounting failed'));
  deps.metrics?.usage(model, usage.inputTokens, usage.outputTokens, cost);
}

export type { Route };
