-- The hot write paths as server-side functions, and the chunk bookkeeping rules they share
-- with the TypeScript repositories (which call these same functions: one definition each): one round trip per metadata commit
-- instead of one per statement (a small PutObject went from ~25 statements to 3).
-- The rules are the ones the TypeScript repositories documented and followed before
-- (metadata/repositories/versions.ts and chunk-refs.ts):
--   * lock order: bucket (FOR KEY SHARE) → key head (objects row) → chunk rows in id order;
--   * a counter or flag that depends on other writers' rows is recomputed in a statement
--     *after* the lock was granted. Inside a VOLATILE PL/pgSQL function every statement
--     takes a fresh snapshot under READ COMMITTED, exactly like separate statements sent
--     by the client, so the protocol holds unchanged.
-- Errors the caller must tell apart are raised with SQLSTATE class 'FG' and the
-- MetadataError code in DETAIL and, for a failed write condition, the header in HINT
-- (metadata/repositories/pg-errors.ts maps them back).
--
-- PG-only: PL/pgSQL functions with FOR UPDATE and RAISE. CockroachDB has PL/pgSQL
-- routines since v23.2 but not every construct used here; a port would keep these
-- statement sequences in the application instead.

CREATE FUNCTION fedgate_fail(code text, message text, hint text DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'FG001', MESSAGE = message, DETAIL = code, HINT = coalesce(hint, '');
END;
$$;

-- Lock chunk rows in id order; fails with NotFound naming the first id that does not exist.
CREATE FUNCTION fedgate_lock_chunks(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  wanted text[] := ARRAY(SELECT DISTINCT x FROM unnest(ids) AS x ORDER BY x);
  found  text[];
  gone   text;
BEGIN
  IF cardinality(wanted) = 0 THEN RETURN; END IF;
  found := ARRAY(SELECT id FROM chunks WHERE id = ANY (wanted) ORDER BY id FOR UPDATE);
  IF cardinality(found) <> cardinality(wanted) THEN
    SELECT x INTO gone FROM unnest(wanted) AS x WHERE x <> ALL (found) LIMIT 1;
    PERFORM fedgate_fail('NotFound', format('chunk %s does not exist', gone));
  END IF;
END;
$$;

-- Recompute ok_blobs / bad_blobs of locked chunks from their blob rows.
CREATE FUNCTION fedgate_recount_blobs(ids text[]) RETURNS void LANGUAGE sql AS $$
  UPDATE chunks c SET
    ok_blobs  = (SELECT count(*) FROM blobs b WHERE b.chunk_id = c.id AND b.state = 'ok'),
    bad_blobs = (SELECT count(*) FROM blobs b WHERE b.chunk_id = c.id AND b.state IN ('missing', 'corrupt'))
  WHERE c.id = ANY (ids);
$$;

-- Flag the locked chunks that no version and no upload part references any more: the GC
-- collects them once their grace period is over.
CREATE FUNCTION fedgate_flag_unreferenced(ids text[]) RETURNS void LANGUAGE sql AS $$
  UPDATE chunks c SET unreferenced_since = now()
   WHERE c.id = ANY (ids) AND c.unreferenced_since IS NULL
     AND NOT EXISTS (SELECT 1 FROM version_parts vp WHERE vp.chunk_id = c.id)
     AND NOT EXISTS (SELECT 1 FROM upload_parts up WHERE up.chunk_id = c.id);
$$;

-- Seal freshly written, locked chunks: size, MD5, checksums and the blob states the
-- writer reported. p: [{ chunkId, size, md5, checksums, blobStates: [{ backendId, state }] }]
CREATE FUNCTION fedgate_seal_chunks(p jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  n_wanted int;
  n_sealed int;
BEGIN
  IF p IS NULL OR jsonb_array_length(p) = 0 THEN RETURN; END IF;
  SELECT count(DISTINCT s."chunkId") INTO n_wanted FROM jsonb_to_recordset(p) AS s("chunkId" text);
  UPDATE chunks c SET size = s.size, md5 = s.md5, checksums = coalesce(s.checksums, '{}'), sealed_at = now()
    FROM jsonb_to_recordset(p) AS s("chunkId" text, size bigint, md5 text, checksums jsonb)
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

-- Make a new version the latest of its key: PutObject, CopyObject, POST Object,
-- CompleteMultipartUpload and delete markers. The S3 semantics (AWS S3 User Guide,
-- "Conditional writes" and "Versioning") are documented at the TypeScript caller,
-- metadata/repositories/versions.ts (commitVersion).
--
-- p: { bucketId, key, newVersionId (used when versioning is Enabled), deleteMarker, size, etag,
--      multipartParts, contentType, storageClass, meta, checksumAlgorithm, checksumValue,
--      checksumType, condition: { ifNoneMatch: '*' | null, ifMatch: unquoted etag | '*' | null,
--      seenId?: internal id of the version latest when the upload began, or null } | null,
--      parts: [{ partNumber, offset, size, etag, checksums, chunkId }], fresh: (fedgate_seal_chunks),
--      released: chunk ids that lose a reference besides the replaced version's (e.g. unlisted parts),
--      tags: [{ Key, Value }] | null, action: changelog action, change: extra changelog data }
-- Returns { id, versionId, lastModifiedMs, replaced }.
CREATE FUNCTION fedgate_commit_version(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_bucket     uuid := (p->>'bucketId')::uuid;
  v_key        text := p->>'key';
  v_versioning text;
  cur_id       uuid;
  cur_vid      text;
  cur_etag     text;
  cur_dm       boolean;
  live         boolean;
  conflict     boolean;
  want         text;
  chunk_ids    text[] := ARRAY(SELECT x->>'chunkId' FROM jsonb_array_elements(coalesce(p->'parts', '[]')) AS x);
  released     text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(p->'released', '[]')));
  v_vid        text;
  new_id       uuid;
  new_lm       timestamptz;
BEGIN
  SELECT versioning INTO v_versioning FROM buckets WHERE id = v_bucket FOR KEY SHARE;
  IF NOT FOUND THEN PERFORM fedgate_fail('NoSuchBucket', format('bucket %s does not exist', v_bucket)); END IF;
  -- The head row: concurrent writers of one key queue here.
  INSERT INTO objects (bucket_id, key) VALUES (v_bucket, v_key) ON CONFLICT (bucket_id, key) DO UPDATE SET key = EXCLUDED.key;
  SELECT id, version_id, etag, delete_marker INTO cur_id, cur_vid, cur_etag, cur_dm
    FROM object_versions WHERE bucket_id = v_bucket AND key = v_key AND is_latest;

  IF jsonb_typeof(p->'condition') = 'object' THEN
    live := cur_id IS NOT NULL AND NOT cur_dm;
    -- AWS S3 User Guide, "Conditional writes": a conditional write during whose upload a
    -- delete of the key succeeded gets 409 ConditionalRequestConflict (retry), whatever the
    -- condition says now; concurrent writes are decided by the condition (412). The caller
    -- names the version that was latest when the upload began (seenId; JSON null: none).
    conflict := (p->'condition'->>'seenId') IS NOT NULL
                AND cur_id IS DISTINCT FROM (p->'condition'->>'seenId')::uuid
                AND (cur_id IS NULL OR cur_dm);
    IF conflict THEN
      PERFORM fedgate_fail('ConditionalRequestConflict', 'the key was deleted while the conditional write was uploading');
    END IF;
    IF p->'condition'->>'ifNoneMatch' = '*' AND live THEN
      PERFORM fedgate_fail('PreconditionFailed', 'the key already exists (If-None-Match: *)', 'If-None-Match');
    END IF;
    want := p->'condition'->>'ifMatch';
    IF want IS NOT NULL THEN
      IF NOT live THEN PERFORM fedgate_fail('NotFound', 'no current object to match (If-Match)'); END IF;
      IF want <> '*' AND want <> regexp_replace(regexp_replace(btrim(cur_etag), '^W/', ''), '^"(.*)"$', '\1') THEN
        PERFORM fedgate_fail('PreconditionFailed', 'the current ETag differs (If-Match)', 'If-Match');
      END IF;
    END IF;
  END IF;

  -- Every chunk the version will reference, locked before any is touched; a zero-copy
  -- source the GC already removed cannot be referenced.
  PERFORM fedgate_lock_chunks(chunk_ids);
  PERFORM fedgate_seal_chunks(p->'fresh');

  IF v_versioning = 'Enabled' THEN
    v_vid := p->>'newVersionId';
  ELSE
    -- Unversioned and Suspended buckets keep one 'null' version, which the new one replaces.
    v_vid := 'null';
    released := released || ARRAY(
      SELECT vp.chunk_id FROM version_parts vp JOIN object_versions v ON v.id = vp.version_id
       WHERE v.bucket_id = v_bucket AND v.key = v_key AND v.version_id = 'null');
    DELETE FROM object_versions WHERE bucket_id = v_bucket AND key = v_key AND version_id = 'null';
  END IF;
  IF cur_id IS NOT NULL AND NOT (v_versioning <> 'Enabled' AND cur_vid = 'null') THEN
    UPDATE object_versions SET is_latest = false WHERE id = cur_id;
  END IF;

  INSERT INTO object_versions (bucket_id, key, version_id, is_latest, delete_marker, size, etag, multipart_parts,
      content_type, storage_class, meta, checksum_algorithm, checksum_value, checksum_type)
  VALUES (v_bucket, v_key, v_vid, true, coalesce((p->>'deleteMarker')::boolean, false), (p->>'size')::bigint, p->>'etag',
      (p->>'multipartParts')::int, p->>'contentType', coalesce(nullif(p->>'storageClass', ''), 'STANDARD'),
      coalesce(p->'meta', '{}'), p->>'checksumAlgorithm', p->>'checksumValue', p->>'checksumType')
  RETURNING id, last_modified INTO new_id, new_lm;

  INSERT INTO version_parts (version_id, part_number, start_offset, size, etag, checksums, chunk_id)
  SELECT new_id, x."partNumber", x."offset", x.size, x.etag, coalesce(x.checksums, '{}'), x."chunkId"
    FROM jsonb_to_recordset(coalesce(p->'parts', '[]')) AS x("partNumber" int, "offset" bigint, size bigint, etag text, checksums jsonb, "chunkId" text);

  -- Chunk bookkeeping: the referenced ones are not garbage; the released ones may be now.
  -- Locked first (id order), then flagged in later statements (fresh snapshots).
  PERFORM 1 FROM chunks WHERE id = ANY (released) ORDER BY id FOR UPDATE;
  UPDATE chunks SET unreferenced_since = NULL WHERE id = ANY (chunk_ids) AND unreferenced_since IS NOT NULL;
  PERFORM fedgate_flag_unreferenced(released);

  IF jsonb_typeof(p->'tags') = 'array' AND jsonb_array_length(p->'tags') > 0 THEN
    INSERT INTO object_tags (version_id, tags) VALUES (new_id, p->'tags');
  END IF;

  INSERT INTO changelog (entity, action, data)
  VALUES ('object', p->>'action',
          coalesce(p->'change', '{}') || jsonb_build_object('bucketId', v_bucket, 'key', v_key, 'versionId', v_vid, 'id', new_id, 'replaced', cur_id));

  RETURN jsonb_build_object('id', new_id, 'versionId', v_vid, 'lastModifiedMs', floor(extract(epoch FROM new_lm) * 1000)::bigint, 'replaced', cur_id);
END;
$$;

-- A blob's state changed (a straggler finished, a replica was repaired or lost).
CREATE FUNCTION fedgate_set_blob_state(p_chunk text, p_backend uuid, p_state text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM fedgate_lock_chunks(ARRAY[p_chunk]);
  UPDATE blobs SET state = p_state, updated_at = now() WHERE chunk_id = p_chunk AND backend_id = p_backend;
  IF NOT FOUND THEN PERFORM fedgate_fail('NotFound', format('no blob of chunk %s on backend %s', p_chunk, p_backend)); END IF;
  PERFORM fedgate_recount_blobs(ARRAY[p_chunk]);
  INSERT INTO changelog (entity, action, data)
  VALUES ('blob', 'state', jsonb_build_object('chunkId', p_chunk, 'backendId', p_backend, 'state', p_state));
END;
$$;

-- The version that was latest when a multipart upload was created: a conditional
-- CompleteMultipartUpload is a conflict (409) when the key was deleted since.
-- seen_recorded distinguishes "no version then" from uploads created before this column.
ALTER TABLE multipart_uploads ADD COLUMN seen_version uuid, ADD COLUMN seen_recorded boolean NOT NULL DEFAULT false;
