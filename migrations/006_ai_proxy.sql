-- AI proxy (issue #4, PRODUCT.md §7): upstream providers, virtual tokens, custom
-- detection rules, human approvals and per-request usage.
-- api_key_sealed is a vault envelope (shared/vault) bound to the upstream name; the
-- plain provider key is never stored. Virtual tokens are stored as the hex SHA-256 of
-- the whole token (`fgt_…`): a leaked table does not yield usable tokens.

CREATE TABLE ai_upstreams (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name           text NOT NULL UNIQUE,
  provider       text NOT NULL CHECK (provider IN ('openai', 'anthropic', 'openai-compatible')),
  base_url       text NOT NULL,
  api_key_sealed text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_tokens (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  token_hash  text NOT NULL UNIQUE,
  upstreams   text[] NOT NULL,
  models      text[],
  policy      jsonb NOT NULL DEFAULT '{}'::jsonb,
  expires_at  timestamptz,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_rules (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE,
  pattern     text NOT NULL,
  action      text NOT NULL CHECK (action IN ('BLOCK', 'REDACT', 'MASK', 'WARN', 'ALLOW')),
  applies_to  text NOT NULL CHECK (applies_to IN ('request', 'response', 'both')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_approvals (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_id        text NOT NULL,
  idempotency_key text,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
  summary         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  decided_at      timestamptz
);
-- A client retrying with the same idempotency key waits on the same approval.
CREATE UNIQUE INDEX ai_approvals_idem ON ai_approvals (token_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE ai_usage (
  id            bigserial PRIMARY KEY,
  token_id      text NOT NULL,
  upstream      text NOT NULL,
  model         text NOT NULL,
  input_tokens  bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cost_usd      numeric(18, 8) NOT NULL DEFAULT 0,
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ai_usage_token ON ai_usage (token_id);
