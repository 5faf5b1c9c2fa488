-- Zero trust in providers (PRODUCT.md §1.3, §3): every replica read whole is checked
-- against what was written, and the scrubber reads back replicas nobody reads.
--
-- chunks.crc32c: a CRC-32C of the chunk's bytes (hex), computed by the quorum writer on every
-- write whatever the client asked for. It is for Fedgate's own checks only (never shown as an
-- x-amz-checksum-*): at ~5 GB/s per core it makes checking a read nearly free, where MD5 runs at
-- ~0.7 GB/s. Empty for chunks written before this migration; those are checked by MD5.
ALTER TABLE chunks ADD COLUMN crc32c text NOT NULL DEFAULT '';

CREATE OR REPLACE FUNCTION fedgate_seal_chunks(p jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  n_wanted int;
  n_sealed int;
BEGIN
  IF p IS NULL OR jsonb_array_length(p) = 0 THEN RETURN; END IF;
  SELECT count(DISTINCT s."chunkId") INTO n_wanted FROM jsonb_to_recordset(p) AS s("chunkId" text);
  UPDATE chunks c SET size = s.size, md5 = s.md5, crc32c = coalesce(s.crc32c, ''), checksums = coalesce(s.checksums, '{}'), sealed_at = now()
    FROM jsonb_to_recordset(p) AS s("chunkId" text, size bigint, md5 text, crc32c text, checksums jsonb)
   WHERE c.id = s."chunkId";
  GET DIAGNOSTICS n_sealed = ROW_COUNT;
  IF n_sealed <> n_wanted THEN
    PERFORM fedgate_fail('NotFound', 'a chunk was never begun (or was already removed)');
  END IF;
  UPDATE blobs b SET state = s.state, updated_at = now()
    FROM (SELECT f->>'chunkId' AS chunk_id, (bs->>'backendId')::uuid AS backend_id, bs->>'state' AS state
            FROM jsonb_array_elements(p) AS f, jsonb_array_elements(f->'blobStates') AS bs) s
   WHERE b.chunk_id = s.chunk_id AND b.backend_id = s.backend_id;
  PERFORM fedgate_recount_blobs(ARRAY(SELECT f->>'chunkId' FROM jsonb_array_elements(p) AS f));
END;
$$;

-- blobs.verified_at: when the scrubber last read this replica back and found it intact. It
-- takes the replicas verified longest ago (never first), so every replica comes round in turn.
ALTER TABLE blobs ADD COLUMN verified_at timestamptz;
CREATE INDEX blobs_scrub_idx ON blobs (verified_at NULLS FIRST, chunk_id, backend_id) WHERE state = 'ok';
