-- Removing a chunk without a moment in which its blobs are gone but a reference to it can
-- still be committed.
--
-- Until now the GC (and a failed write's cleanup) deleted a chunk's blobs on the backends first
-- and its rows after, refusing the row delete if the chunk had been referenced again meanwhile.
-- A reference committed between the two (a CopyObject of a version read before it was deleted,
-- a write whose commit answer was lost and then cleaned up after itself, an upload still
-- streaming when its chunk outlived the grace period) then pointed at blobs that no longer
-- existed. Now the decision comes first and is final: under the chunk's row lock, re-checked in
-- a later statement (fresh snapshot), the chunk's blob rows move into doomed_blobs and the chunk
-- row is deleted, in one transaction. A reference committed before that keeps the chunk (the
-- re-check sees it); one attempted after it fails its foreign key (the chunk row is gone), so no
-- one can see the blobs the GC then deletes. doomed_blobs is the GC's to-do list: a row goes
-- when its blob was deleted, and one whose backend is away stays for a later round, behind the
-- others (tried_at moves on at every failed try, so a backend that stays away for long cannot
-- hold up the rest of the list).
CREATE TABLE doomed_blobs (
  chunk_id        text NOT NULL,
  backend_id      uuid NOT NULL REFERENCES backends (id) ON DELETE CASCADE,
  physical_bucket text NOT NULL,
  physical_key    text NOT NULL,
  -- When the blob was doomed, or its delete last failed: the list is worked through oldest first.
  tried_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chunk_id, backend_id)
);
CREATE INDEX doomed_blobs_tried_idx ON doomed_blobs (tried_at);

-- Doom one chunk: NULL when it is referenced (or, with p_grace_ms, was referenced or created
-- within the grace period) and stays; else the blobs to delete, as
-- [{ chunkId, backendId, physicalBucket, physicalKey }] ('[]' when the chunk was already gone).
CREATE FUNCTION fedgate_doom_chunk(p_chunk text, p_grace_ms bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  doomed jsonb;
BEGIN
  PERFORM 1 FROM chunks WHERE id = p_chunk FOR UPDATE;
  IF NOT FOUND THEN RETURN '[]'::jsonb; END IF;
  -- A later statement: its snapshot sees every reference committed before the lock was granted.
  PERFORM 1 FROM chunks c
   WHERE c.id = p_chunk AND c.unreferenced_since IS NOT NULL
     AND (p_grace_ms IS NULL OR (c.unreferenced_since <= now() - p_grace_ms * interval '1 millisecond'
                                 AND c.created_at <= now() - p_grace_ms * interval '1 millisecond'))
     AND NOT EXISTS (SELECT 1 FROM version_parts vp WHERE vp.chunk_id = p_chunk)
     AND NOT EXISTS (SELECT 1 FROM upload_parts up WHERE up.chunk_id = p_chunk);
  IF NOT FOUND THEN RETURN NULL; END IF;
  WITH moved AS (
    INSERT INTO doomed_blobs (chunk_id, backend_id, physical_bucket, physical_key)
    SELECT b.chunk_id, b.backend_id, b.physical_bucket, b.physical_key FROM blobs b WHERE b.chunk_id = p_chunk
    ON CONFLICT (chunk_id, backend_id) DO NOTHING
    RETURNING chunk_id, backend_id, physical_bucket, physical_key)
  SELECT coalesce(jsonb_agg(jsonb_build_object('chunkId', chunk_id, 'backendId', backend_id,
                                               'physicalBucket', physical_bucket, 'physicalKey', physical_key)), '[]')
    INTO doomed FROM moved;
  DELETE FROM chunks WHERE id = p_chunk; -- its blob rows go with it (ON DELETE CASCADE)
  INSERT INTO changelog (entity, action, data) VALUES ('chunk', 'delete', jsonb_build_object('id', p_chunk));
  RETURN doomed;
END;
$$;
