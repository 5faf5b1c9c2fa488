// The AI proxy's admin routes (issue #4 contract), mounted by the gateway's admin
// listener behind its bearer check through AdminDeps.extraRoutes. Answers use the
// admin API's { error, message } shape. Provider keys and virtual tokens are write-only:
// a token is shown once in the 201 answer and never again.
import { HttpError, readJson, sendJson } from '../shared/http/json.ts';
import type http from 'node:http';
import type { AiStore, Provider, TokenPolicy } from './store.ts';
import type { Action } from './detection/types.ts';

export type AdminRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const PROVIDERS = new Set<Provider>(['openai', 'anthropic', 'openai-compatible']);
const ACTIONS = new Set<Action>(['BLOCK', 'REDACT', 'MASK', 'WARN', 'ALLOW']);
const APPLIES = new Set(['request', 'response', 'both']);

function reply(res: http.ServerResponse, status: number, body: unknown): true {
  sendJson(res, status, body);
  return true;
}

const json = (req: http.IncomingMessage) => readJson(req, 256 * 1024);

function need(v: unknown, name: string, ok: (v: unknown) => boolean, what: string): any {
  if (!ok(v)) throw new HttpError(400, 'InvalidArgument', `"${name}" must be ${what}`);
  return v;
}

const isName = (v: unknown) => typeof v === 'string' && NAME.test(v);
const isStrArray = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 200);

function policyOf(v: unknown): TokenPolicy {
  if (v === undefined || v === null) return {};
  need(v, 'policy', (x) => typeof x === 'object' && !Array.isArray(x), 'an object');
  const p = v as Record<string, unknown>;
  const num = (k: string) => p[k] === undefined || need(p[k], `policy.${k}`, (x) => typeof x === 'number' && Number.isFinite(x) && x >= 0, 'a non-negative number');
  ['rpm', 'tpm', 'spendCapUsd', 'approvalTimeoutMs'].forEach(num);
  if (p.ipAllow !== undefined) need(p.ipAllow, 'policy.ipAllow', isStrArray, 'an array of addresses or CIDRs');
  if (p.hours !== undefined) need(p.hours, 'policy.hours', (x) => Array.isArray(x) && x.length === 2 && x.every((h) => Number.isInteger(h) && h >= 0 && h <= 24), '[fromHour, toHour]');
  if (p.webhookUrl !== undefined) need(p.webhookUrl, 'policy.webhookUrl', (x) => typeof x === 'string' && /^https?:\/\//.test(x), 'an http(s) URL');
  if (p.webhookSecret !== undefined) need(p.webhookSecret, 'policy.webhookSecret', (x) => typeof x === 'string' && x.length >= 16 && x.length <= 512, 'a string of 16 to 512 characters');
  for (const k of ['shadow', 'requireApproval']) if (p[k] !== undefined) need(p[k], `policy.${k}`, (x) => typeof x === 'boolean', 'a boolean');
  const known = new Set(['ipAllow', 'hours', 'rpm', 'tpm', 'spendCapUsd', 'shadow', 'requireApproval', 'approvalTimeoutMs', 'webhookUrl', 'webhookSecret']);
  for (const k of Object.keys(p)) if (!known.has(k)) throw new HttpError(400, 'InvalidArgument', `unknown policy field "${k}"`);
  return p as TokenPolicy;
}

export function createAiAdminRoutes(deps: { store: AiStore }): AdminRoute {
  const { store } = deps;
  async function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<boolean> {
    const p = url.pathname.replace(/\/+$/, '');
    const m = req.method ?? 'GET';
    if (!p.startsWith('/admin/ai/')) return false;
    if (p === '/admin/ai/upstreams' && m === 'POST') {
      const b = await json(req);
      const name = need(b.name, 'name', isName, 'a name of letters, digits, . _ -');
      const provider = need(b.provider, 'provider', (x) => PROVIDERS.has(x as Provider), 'openai, anthropic or openai-compatible');
      const baseUrl = need(b.baseUrl, 'baseUrl', (x) => typeof x === 'string' && URL.canParse(x) && /^https?:$/.test(new URL(x).protocol), 'an http(s) URL');
      const apiKey = need(b.apiKey, 'apiKey', (x) => typeof x === 'string' && x.length > 0 && x.length <= 4096, 'a non-empty string');
      await store.addUpstream({ name, provider, baseUrl, apiKey });
      return reply(res, 201, { name, provider, baseUrl });
    }
    if (p === '/admin/ai/upstreams' && m === 'GET') return reply(res, 200, { upstreams: await store.listUpstreams() });
    if (p === '/admin/ai/tokens' && m === 'POST') {
      const b = await json(req);
      const name = need(b.name, 'name', (x) => typeof x === 'string' && x.length > 0 && x.length <= 200, 'a non-empty string');
      const upstreams: string[] = need(b.upstreams, 'upstreams', (x) => isStrArray(x) && (x as string[]).length > 0, 'a non-empty array of upstream names');
      for (const u of upstreams) if (!(await store.getUpstream(u))) throw new HttpError(400, 'NoSuchUpstream', `no upstream named "${u}"`);
      const models = b.models === undefined || b.models === null ? undefined : need(b.models, 'models', isStrArray, 'an array of model names');
      const expiresAt = b.expiresAt === undefined ? undefined : new Date(need(b.expiresAt, 'expiresAt', (x) => typeof x === 'string' && !Number.isNaN(Date.parse(x)), 'an ISO 8601 time'));
      const t = await store.issueToken({ name, upstreams, models, policy: policyOf(b.policy), expiresAt });
      return reply(res, 201, t);
    }
    if (p === '/admin/ai/tokens' && m === 'GET') {
      const tokens = await store.listTokens();
      // The webhook secret is write-only: the listing only says whether there is one.
      const shown = (p: TokenPolicy) => {
        const { webhookSecret, ...rest } = p;
        return webhookSecret ? { ...rest, webhookSigned: true } : rest;
      };
      return reply(res, 200, { tokens: tokens.map((t) => ({ id: t.id, name: t.name, upstreams: t.upstreams, models: t.models, policy: shown(t.policy), expiresAt: t.expiresAt, revokedAt: t.revokedAt })) });
    }
    let mm = /^\/admin\/ai\/tokens\/([^/]+)$/.exec(p);
    if (mm && m === 'DELETE') {
      if (!(await store.revokeToken(decodeURIComponent(mm[1])))) throw new HttpError(404, 'NoSuchToken', 'no such token');
      res.writeHead(204).end();
      return true;
    }
    if (p === '/admin/ai/rules' && m === 'POST') {
      const b = await json(req);
      const name = need(b.name, 'name', isName, 'a name of letters, digits, . _ -');
      const pattern = need(b.pattern, 'pattern', (x) => typeof x === 'string' && x.length > 0 && x.length <= 2000, 'a regular expression');
      try {
        new RegExp(pattern, 'g');
      } catch (e) {
        throw new HttpError(400, 'InvalidArgument', `"pattern" is not a valid regular expression: ${(e as Error).message}`);
      }
      const action = need(b.action, 'action', (x) => ACTIONS.has(x as Action), 'BLOCK, REDACT, MASK, WARN or ALLOW');
      const appliesTo = need(b.appliesTo ?? 'both', 'appliesTo', (x) => APPLIES.has(x as string), 'request, response or both');
      await store.addRule({ name, pattern, action, appliesTo });
      return reply(res, 201, { name, pattern, action, appliesTo });
    }
    if (p === '/admin/ai/rules' && m === 'GET') return reply(res, 200, { rules: await store.listRules() });
    if (p === '/admin/ai/approvals' && m === 'GET') {
      const status = url.searchParams.get('status') ?? undefined;
      return reply(res, 200, { approvals: await store.listApprovals(status) });
    }
    mm = /^\/admin\/ai\/approvals\/([^/]+)\/(approve|reject)$/.exec(p);
    if (mm && m === 'POST') {
      const id = decodeURIComponent(mm[1]);
      const existing = /^[0-9a-f-]{36}$/i.test(id) ? await store.getApproval(id) : null;
      if (!existing) throw new HttpError(404, 'NoSuchApproval', 'no such approval');
      const decided = await store.decideApproval(id, mm[2] === 'approve' ? 'approved' : 'rejected');
      if (!decided) throw new HttpError(409, 'AlreadyDecided', `the approval is already ${existing.status}`);
      return reply(res, 200, { id, status: decided.status });
    }
    throw new HttpError(404, 'NotFound', `no route ${m} ${p}`);
  }
  return async (req, res, url) => {
    try {
      return await route(req, res, url);
    } catch (e) {
      if (e instanceof HttpError) return reply(res, e.status, { error: e.code, message: e.message });
      throw e;
    }
  };
}
