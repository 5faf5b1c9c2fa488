-- Chunk bookkeeping by primary key, whatever the size of the tables.
--
-- 007 / 008 joined their input against chunks and blobs: a jsonb set-returning function
-- (fedgate_seal_chunks) or a text[] parameter of a LANGUAGE sql function (fedgate_recount_blobs,
-- fedgate_flag_unreferenced). The planner cannot see how many rows such an input holds (it assumes
-- 100 for jsonb_to_recordset, 10 for `= ANY ($1)` in a SQL function's plan), so for every commit it
-- chose a sequential scan of chunks (hash join), and before the first ANALYZE also a walk of the
-- whole of chunks_repair_idx and of blobs_scrub_idx, until the tables held ~10^5 chunks. A small
-- PutObject's commit then cost PostgreSQL CPU in proportion to the number of chunks stored: with
-- 4,000 chunks, 2.4–2.7 ms of CPU per commit after ANALYZE and 7–10 ms before it.
--
-- Here every input row is one primary-key statement in a loop, so a commit costs the same with
-- 10 chunks or 10^8. The rules are unchanged (007's header): callers hold the chunk row locks,
-- and each statement of a VOLATILE PL/pgSQL function takes a fresh snapshot, so a recount sees
-- every blob change committed before the lock was granted.

-- Recompute ok_blobs / bad_blobs of locked chunks from their blob rows. One aggregate over the
-- chunk's blobs_pkey range: no state predicate in the WHERE, so the partial blobs_scrub_idx
-- (verified_at first) cannot be picked for it.
CREATE OR REPLACE FUNCTION fedgate_recount_blobs(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  x text;
BEGIN
  FOREACH x IN ARRAY coalesce(ids, '{}') LOOP
    UPDATE chunks c SET (ok_blobs, bad_blobs) = (
        SELECT count(*) FILTER (WHERE b.state = 'ok'), count(*) FILTER (WHERE b.state IN ('missing', 'corrupt'))
          FROM blobs b WHERE b.chunk_id = x)
     WHERE c.id = x;
  END LOOP;
END;
$$;

-- Flag the locked chunks that no version and no upload part references any more: the GC
-- collects them once their grace period is over.
CREATE OR REPLACE FUNCTION fedgate_flag_unreferenced(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  x text;
BEGIN
  FOREACH x IN ARRAY coalesce(ids, '{}') LOOP
    UPDATE chunks c SET unreferenced_since = now()
     WHERE c.id = x AND c.unreferenced_since IS NULL
       AND NOT EXISTS (SELECT 1 FROM version_parts vp WHERE vp.chunk_id = x)
       AND NOT EXISTS (SELECT 1 FROM upload_parts up WHERE up.chunk_id = x);
  END LOOP;
END;
$$;

-- Seal freshly written, locked chunks: size, MD5, CRC-32C, checksums and the blob states the
-- writer reported. p: [{ chunkId, size, md5, crc32c, checksums, blobStates: [{ backendId, state }] }]
-- NotFound when a chunk was never begun (or was already removed).
CREATE OR REPLACE FUNCTION fedgate_seal_chunks(p jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  s   record;
  bs  jsonb;
  ids text[] := '{}';
BEGIN
  IF p IS NULL OR jsonb_array_length(p) = 0 THEN RETURN; END IF;
  FOR s IN SELECT * FROM jsonb_to_recordset(p)
             AS x("chunkId" text, size bigint, md5 text, crc32c text, checksums jsonb, "blobStates" jsonb) LOOP
    UPDATE chunks SET size = s.size, md5 = s.md5, crc32c = coalesce(s.crc32c, ''), checksums = coalesce(s.checksums, '{}'), sealed_at = now()
     WHERE id = s."chunkId";
    IF NOT FOUND THEN
      PERFORM fedgate_fail('NotFound', 'a chunk was never begun (or was already removed)');
    END IF;
    FOR bs IN SELECT jsonb_array_elements(coalesce(s."blobStates", '[]')) LOOP
      UPDATE blobs SET state = bs->>'state', updated_at = now()
       WHERE chunk_id = s."chunkId" AND backend_id = (bs->>'backendId')::uuid;
    END LOOP;
    ids := ids || s."chunkId";
  END LOOP;
  PERFORM fedgate_recount_blobs(ids);
END;
$$;
