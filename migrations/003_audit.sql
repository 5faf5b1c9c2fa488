-- Hash-chained, append-only audit log (PRODUCT.md §5.3, §7 "Audit and cost").
-- Written by shared/audit: each entry's hash is SHA-256 over a canonical (RFC 8785
-- style) serialization of its fields plus prev_hash, the hash of the entry before it;
-- the first entry's prev_hash is 64 zeros. Ids are assigned by the writer from
-- audit_head, so they are gap-free and the chain order is the id order.
--
-- Portability (CockroachDB is a goal): the tables, CHECK constraints and
-- SELECT ... FOR UPDATE on audit_head are understood by both. PG-only below:
--   * the guard triggers are PL/pgSQL (CockroachDB >= v24.3 has PL/pgSQL triggers;
--     older versions would run without the guards, the chain still detects edits);
--   * TRUNCATE triggers do not exist in CockroachDB (drop that one there).

CREATE TABLE audit_log (
  -- Assigned as audit_head.last_id + 1 under the head row's lock, not from a sequence:
  -- a sequence (or CockroachDB's unique_rowid) is not ordered across concurrent
  -- writers, and the chain must be walkable in id order.
  id        bigint PRIMARY KEY,
  at        timestamptz NOT NULL,
  plane     text NOT NULL CHECK (plane IN ('s3', 'admin', 'ai')),
  -- Tenant / access-key id / virtual-token id: an identity, never a secret.
  actor     text NOT NULL,
  action    text NOT NULL,
  resource  text NOT NULL,
  result    text NOT NULL,
  -- Already redacted by the writer (shared/audit/redact.ts).
  details   jsonb NOT NULL,
  prev_hash text NOT NULL CHECK (length(prev_hash) = 64),
  hash      text NOT NULL CHECK (length(hash) = 64)
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_at_idx ON audit_log (actor, at);

-- The chain head: one row, locked FOR UPDATE by every append (a batch, or one entry
-- inside a caller's transaction), which serializes appenders across processes and
-- hosts. The lock is held to the end of the appending transaction.
CREATE TABLE audit_head (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_id   bigint NOT NULL,
  last_hash text NOT NULL CHECK (length(last_hash) = 64)
);
INSERT INTO audit_head (singleton, last_id, last_hash) VALUES (true, 0, repeat('0', 64));

-- PG-only (PL/pgSQL): history cannot be rewritten, even by the application role.
-- Verification (shared/audit verify) still catches edits made with the guard disabled.
CREATE FUNCTION audit_log_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_forbid_change();
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_forbid_change();

-- PG-only (PL/pgSQL): the head only moves forward and is never removed, so the tail
-- of the chain cannot be cut off by resetting it.
CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'UPDATE' OR NEW.last_id <= OLD.last_id THEN
    RAISE EXCEPTION 'audit_head only moves forward: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER audit_head_guard
  BEFORE UPDATE OR DELETE ON audit_head
  FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only();
CREATE TRIGGER audit_head_no_truncate
  BEFORE TRUNCATE ON audit_head
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_forbid_change();
