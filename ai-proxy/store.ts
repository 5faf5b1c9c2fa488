// Persistence of the AI proxy (migrations/006_ai_proxy.sql): upstreams with their
// provider key sealed in the vault, virtual tokens stored as SHA-256 hashes, custom
// detection rules, approvals and usage. Lookups on the request path are cached for a
// few seconds; changes made through this store invalidate its own cache at once.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Vault } from '../shared/vault/index.ts';
import type { Action, CustomRule } from './detection/types.ts';

export type Provider = 'openai' | 'anthropic' | 'openai-compatible';

export interface Upstream {
  name: string;
  provider: Provider;
  baseUrl: string;
}

/** Per-token policy (the `policy` field of POST /admin/ai/tokens); every field optional. */
export interface TokenPolicy {
  ipAllow?: string[];
  /** Hours (UTC, 0-23) in which the token may be used: [from, to). */
  hours?: [number, number];
  rpm?: number;
  tpm?: number;
  spendCapUsd?: number;
  /** Record decisions without enforcing them. */
  shadow?: boolean;
  /** Hold each request until an admin approves it. */
  requireApproval?: boolean;
  approvalTimeoutMs?: number;
  webhookUrl?: string;
  /**
   * HMAC-SHA256 key for the approval webhook's signature. Write-only: stored sealed by
   * the vault, opened when the token is loaded, never listed.
   */
  webhookSecret?: string;
}

export interface VirtualToken {
  id: string;
  name: string;
  upstreams: string[];
  models: string[] | null;
  policy: TokenPolicy;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface Approval {
  id: string;
  tokenId: string;
  status: 'pending' | 'approved' | 'rejected' | 'expired';
  summary: Record<string, unknown>;
  createdAt: Date;
}

export const TOKEN_PREFIX = 'fgt_';
const TOKEN_SHAPE = /^fgt_[A-Za-z0-9_-]{20,100}$/;
export const upstreamKeyContext = (name: string) => `ai-upstream:${name}`;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface AiStore {
  addUpstream(u: Upstream & { apiKey: string }): Promise<void>;
  getUpstream(name: string): Promise<(Upstream & { apiKey: string }) | null>;
  listUpstreams(): Promise<Upstream[]>;
  issueToken(t: { name: string; upstreams: string[]; models?: string[]; policy?: TokenPolicy; expiresAt?: Date }): Promise<{ id: string; token: string }>;
  /** The active-or-not token for a presented secret, or null when unknown. */
  findToken(token: string): Promise<VirtualToken | null>;
  listTokens(): Promise<VirtualToken[]>;
  revokeToken(id: string): Promise<boolean>;
  addRule(r: CustomRule): Promise<void>;
  listRules(): Promise<CustomRule[]>;
  /** Bumps whenever rules change through this store. */
  readonly rulesVersion: number;
  createApproval(tokenId: string, idempotencyKey: string | undefined, summary: Record<string, unknown>): Promise<Approval>;
  getApproval(id: string): Promise<Approval | null>;
  listApprovals(status?: string): Promise<Approval[]>;
  decideApproval(id: string, status: 'approved' | 'rejected' | 'expired'): Promise<Approval | null>;
  /** Queued; written in batches (see flush). */
  recordUsage(u: UsageRow): Promise<void>;
  spentUsd(tokenId: string): Promise<number>;
  /** Writes queued usage rows now. */
  flush(): Promise<void>;
  /** Stops the usage timer and flushes. */
  close(): Promise<void>;
}

interface UsageRow {
  tokenId: string;
  upstream: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export function createAiStore(pool: pg.Pool, vault: Vault, opts: { cacheMs?: number; usageFlushMs?: number } = {}): AiStore {
  const cacheMs = opts.cacheMs ?? 5000;
  const tokenCache = new Map<string, { at: number; v: VirtualToken | null }>();
  const upstreamCache = new Map<string, { at: number; v: (Upstream & { apiKey: string }) | null }>();
  let rulesVersion = 0;
  // Usage rows are batched (one INSERT per flush): the live spend is kept in the shared
  // KV, the table is the durable record, so a per-request round trip buys nothing.
  let usageQueue: UsageRow[] = [];
  let flushing: Promise<void> = Promise.resolve();
  const flushUsage = (): Promise<void> => {
    const rows = usageQueue;
    if (rows.length === 0) return flushing;
    usageQueue = [];
    flushing = flushing.then(() =>
      pool
        .query(
          `INSERT INTO ai_usage (token_id, upstream, model, input_tokens, output_tokens, cost_usd)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::numeric[])`,
          [rows.map((r) => r.tokenId), rows.map((r) => r.upstream), rows.map((r) => r.model), rows.map((r) => r.inputTokens), rows.map((r) => r.outputTokens), rows.map((r) => r.costUsd)],
        )
        .then(() => undefined, () => void (usageQueue = rows.concat(usageQueue))),
    );
    return flushing;
  };
  const timer = setInterval(() => void flushUsage(), opts.usageFlushMs ?? 250);
  timer.unref();

  const webhookContext = (id: string) => `ai-webhook:${id}`;
  const toToken = (r: Record<string, any>): VirtualToken => {
    const { webhookSecretSealed, ...policy } = (r.policy ?? {}) as TokenPolicy & { webhookSecretSealed?: string };
    if (webhookSecretSealed) policy.webhookSecret = vault.open(webhookSecretSealed, webhookContext(r.id)).toString('utf8');
    return { id: r.id, name: r.name, upstreams: r.upstreams, models: r.models, policy, expiresAt: r.expires_at, revokedAt: r.revoked_at };
  };
  const toApproval = (r: Record<string, any>): Approval => ({ id: r.id, tokenId: r.token_id, status: r.status, summary: r.summary, createdAt: r.created_at });

  return {
    get rulesVersion() {
      return rulesVersion;
    },
    async addUpstream(u) {
      await pool.query(
        `INSERT INTO ai_upstreams (name, provider, base_url, api_key_sealed) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET provider = EXCLUDED.provider, base_url = EXCLUDED.base_url, api_key_sealed = EXCLUDED.api_key_sealed`,
        [u.name, u.provider, u.baseUrl, vault.seal(u.apiKey, upstreamKeyContext(u.name))],
      );
      upstreamCache.delete(u.name);
    },
    async getUpstream(name) {
      const hit = upstreamCache.get(name);
      if (hit && Date.now() - hit.at < cacheMs) return hit.v;
      const r = await pool.query('SELECT name, provider, base_url, api_key_sealed FROM ai_upstreams WHERE name = $1', [name]);
      const row = r.rows[0];
      const v = row ? { name: row.name, provider: row.provider, baseUrl: row.base_url, apiKey: vault.open(row.api_key_sealed, upstreamKeyContext(row.name)).toString('utf8') } : null;
      upstreamCache.set(name, { at: Date.now(), v });
      return v;
    },
    async listUpstreams() {
      const r = await pool.query('SELECT name, provider, base_url FROM ai_upstreams ORDER BY name');
      return r.rows.map((row) => ({ name: row.name, provider: row.provider, baseUrl: row.base_url }));
    },
    async issueToken(t) {
      const id = `tok_${randomBytes(8).toString('hex')}`;
      const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const { webhookSecret, ...policy } = t.policy ?? {};
      const stored = webhookSecret ? { ...policy, webhookSecretSealed: vault.seal(webhookSecret, webhookContext(id)) } : policy;
      await pool.query(
        'INSERT INTO ai_tokens (id, name, token_hash, upstreams, models, policy, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [id, t.name, hashToken(token), t.upstreams, t.models ?? null, JSON.stringify(stored), t.expiresAt ?? null],
      );
      return { id, token };
    },
    async findToken(token) {
      if (!TOKEN_SHAPE.test(token)) return null;
      const h = hashToken(token);
      const hit = tokenCache.get(h);
      if (hit && Date.now() - hit.at < cacheMs) return hit.v;
      const r = await pool.query('SELECT * FROM ai_tokens WHERE token_hash = $1', [h]);
      const v = r.rows[0] ? toToken(r.rows[0]) : null;
      if (tokenCache.size > 10_000) tokenCache.clear();
      tokenCache.set(h, { at: Date.now(), v });
      return v;
    },
    async listTokens() {
      const r = await pool.query('SELECT * FROM ai_tokens ORDER BY created_at');
      return r.rows.map(toToken);
    },
    async revokeToken(id) {
      const r = await pool.query('UPDATE ai_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1', [id]);
      // The cache is keyed by hash; a revocation must take effect at once in this process.
      tokenCache.clear();
      return (r.rowCount ?? 0) > 0;
    },
    async addRule(rule) {
      await pool.query(
        `INSERT INTO ai_rules (name, pattern, action, applies_to) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET pattern = EXCLUDED.pattern, action = EXCLUDED.action, applies_to = EXCLUDED.applies_to`,
        [rule.name, rule.pattern, rule.action, rule.appliesTo],
      );
      rulesVersion++;
    },
    async listRules() {
      const r = await pool.query('SELECT name, pattern, action, applies_to FROM ai_rules ORDER BY created_at');
      return r.rows.map((row) => ({ name: row.name, pattern: row.pattern, action: row.action as Action, appliesTo: row.applies_to }));
    },
    async createApproval(tokenId, idempotencyKey, summary) {
      if (idempotencyKey) {
        const r = await pool.query(
          `INSERT INTO ai_approvals (id, token_id, idempotency_key, summary) VALUES ($1, $2, $3, $4)
           ON CONFLICT (token_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING *`,
          [randomUUID(), tokenId, idempotencyKey, JSON.stringify(summary)],
        );
        if (r.rows[0]) return toApproval(r.rows[0]);
        const again = await pool.query('SELECT * FROM ai_approvals WHERE token_id = $1 AND idempotency_key = $2', [tokenId, idempotencyKey]);
        return toApproval(again.rows[0]);
      }
      const r = await pool.query('INSERT INTO ai_approvals (token_id, summary) VALUES ($1, $2) RETURNING *', [tokenId, JSON.stringify(summary)]);
      return toApproval(r.rows[0]);
    },
    async getApproval(id) {
      const r = await pool.query('SELECT * FROM ai_approvals WHERE id::text = $1', [id]);
      return r.rows[0] ? toApproval(r.rows[0]) : null;
    },
    async listApprovals(status) {
      const r = status
        ? await pool.query('SELECT * FROM ai_approvals WHERE status = $1 ORDER BY created_at', [status])
        : await pool.query('SELECT * FROM ai_approvals ORDER BY created_at');
      return r.rows.map(toApproval);
    },
    async decideApproval(id, status) {
      // Only a pending approval can be decided: the first decision wins.
      const r = await pool.query(`UPDATE ai_approvals SET status = $2, decided_at = now() WHERE id::text = $1 AND status = 'pending' RETURNING *`, [id, status]);
      return r.rows[0] ? toApproval(r.rows[0]) : null;
    },
    async recordUsage(u) {
      usageQueue.push(u);
      if (usageQueue.length >= 500) void flushUsage();
    },
    async spentUsd(tokenId) {
      const r = await pool.query('SELECT coalesce(sum(cost_usd), 0)::float8 AS s FROM ai_usage WHERE token_id = $1', [tokenId]);
      return Number(r.rows[0].s);
    },
    flush() {
      return flushUsage();
    },
    async close() {
      clearInterval(timer);
      await flushUsage();
    },
  };
}
