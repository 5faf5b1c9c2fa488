-- Deployment-wide settings written once at bootstrap: the namespace-hashing secret
-- (vault-sealed), the admin token's hash, bootstrap markers. Portable SQL.
CREATE TABLE settings (
  name       text PRIMARY KEY,
  value      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
