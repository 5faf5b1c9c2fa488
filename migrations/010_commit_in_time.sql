-- A PutObject's commit that reaches the server after the gateway gave up on it commits nothing
-- (PRODUCT.md §9: PostgreSQL unreachable → 503, and no object becomes visible later by accident).
--
-- The commit is one autocommit statement (fedgate_commit_version). When the network holds it back,
-- or the server is paused with it in its socket buffer, the gateway times out and answers 503; the
-- statement may still arrive and run afterwards. This wrapper runs it and then refuses, rolling it
-- back, when it finished later than the caller was prepared to wait: `within_ms` after the moment
-- the chunk was begun. Both ends of that interval are the server's own clock (chunks.created_at is
-- the begin statement's now()); the caller measures `within_ms` on its monotonic clock from before
-- it sent the begin, plus a margin, so no clock has to agree with another.
-- What is left: a commit that finishes in time whose answer is then lost (as for any COMMIT).
CREATE FUNCTION fedgate_commit_version_in_time(p jsonb, chunk_id text, within_ms bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  r     jsonb;
  begun timestamptz;
BEGIN
  r := fedgate_commit_version(p);
  SELECT created_at INTO begun FROM chunks WHERE id = chunk_id;
  IF begun IS NULL OR clock_timestamp() > begun + within_ms * interval '1 millisecond' THEN
    PERFORM fedgate_fail('ServiceUnavailable', format('the commit of chunk %s finished more than %s ms after its begin: the gateway no longer waits for it', chunk_id, within_ms));
  END IF;
  RETURN r;
END;
$$;
