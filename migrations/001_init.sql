-- Fedgate metadata authority, initial schema (docs/ARCHITECTURE.md, "Data model").
-- Forward-only: a later change is a new numbered file, never an edit of this one.
--
-- Portability (CockroachDB is a scale-out goal): plain tables, CHECK constraints,
-- partial indexes and ON CONFLICT are understood by both. Postgres-specific pieces
-- are marked "PG-only" below:
--   * changelog's guard trigger is PL/pgSQL (CockroachDB has PL/pgSQL triggers
--     since v24.3; older versions would need the guard dropped);
--   * bigserial (CockroachDB maps it to unique_rowid(): unique and increasing
--     per node, not gap-free — fine for an append-only log ordered by id);
--   * gen_random_uuid() is core in PostgreSQL >= 13 and built into CockroachDB.
-- Object keys use COLLATE "C" so that ORDER BY key is UTF-8 byte order, the order
-- S3 lists in ("List results are always returned in UTF-8 binary order",
-- ListObjectsV2 API reference). CockroachDB's default string order is already
-- byte order and it accepts "C" as that collation.

CREATE TABLE tenants (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tenants_name_key UNIQUE (name)
);

-- secret_sealed is a vault envelope (shared/vault), never the plain secret.
CREATE TABLE access_keys (
  access_key_id text PRIMARY KEY,
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  secret_sealed text NOT NULL,
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_keys_tenant_idx ON access_keys (tenant_id);

CREATE TABLE backends (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name               text NOT NULL,
  type               text NOT NULL CHECK (type IN ('s3', 'local-disk')),
  endpoint           text,
  path               text,
  region             text NOT NULL,
  jurisdiction       text NOT NULL,
  country            text NOT NULL,
  provider           text NOT NULL,
  credentials_sealed text,
  state              text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'draining')),
  -- Optimistic until the first health check says otherwise: add-storage probes the
  -- endpoint before registering it.
  healthy            boolean NOT NULL DEFAULT true,
  last_rtt_ms        integer,
  last_error         text,
  last_checked_at    timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT backends_name_key UNIQUE (name)
);

CREATE TABLE buckets (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  name       text NOT NULL,
  region     text NOT NULL,
  versioning text NOT NULL DEFAULT 'Unversioned' CHECK (versioning IN ('Unversioned', 'Enabled', 'Suspended')),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Namespaces are per tenant: two tenants can each own `photos` (PRODUCT.md §1.3).
  CONSTRAINT buckets_tenant_name_key UNIQUE (tenant_id, name)
);

-- One physical bucket per (logical bucket, backend): s3gw-<hash>-<provider>.
CREATE TABLE bucket_backends (
  bucket_id     uuid NOT NULL REFERENCES buckets (id) ON DELETE CASCADE,
  backend_id    uuid NOT NULL REFERENCES backends (id) ON DELETE CASCADE,
  physical_name text NOT NULL,
  PRIMARY KEY (bucket_id, backend_id)
);
CREATE INDEX bucket_backends_backend_idx ON bucket_backends (backend_id);

-- An immutable run of bytes, stored as one blob per backend. bucket_id has no
-- foreign key on purpose: garbage chunks outlive a deleted bucket until the GC
-- has removed their blobs (the blob rows carry the physical locators it needs).
--
-- unreferenced_since: set when the chunk is begun and whenever a reference to it
-- is dropped and none remains; cleared when a version or upload part references it.
-- It keeps the GC's candidate set small (partial index) and gives dereferenced
-- chunks a grace period counted from the moment they lost their last reference.
-- ok_blobs / bad_blobs are maintained with every blob change (under the chunk's
-- row lock) so the healer finds under-replicated chunks without scanning them all.
CREATE TABLE chunks (
  id                 text PRIMARY KEY,
  bucket_id          uuid NOT NULL,
  size               bigint NOT NULL DEFAULT 0,
  md5                text NOT NULL DEFAULT '',
  checksums          jsonb NOT NULL DEFAULT '{}',
  sealed_at          timestamptz,
  unreferenced_since timestamptz DEFAULT now(),
  ok_blobs           integer NOT NULL DEFAULT 0,
  bad_blobs          integer NOT NULL DEFAULT 0,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chunks_garbage_idx ON chunks (unreferenced_since) WHERE unreferenced_since IS NOT NULL;
CREATE INDEX chunks_repair_idx ON chunks (ok_blobs) WHERE unreferenced_since IS NULL;
CREATE INDEX chunks_bad_idx ON chunks (id) WHERE bad_blobs > 0;

CREATE TABLE blobs (
  chunk_id        text NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
  backend_id      uuid NOT NULL REFERENCES backends (id) ON DELETE CASCADE,
  physical_bucket text NOT NULL,
  physical_key    text NOT NULL,
  state           text NOT NULL CHECK (state IN ('writing', 'ok', 'missing', 'corrupt', 'deleting')),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chunk_id, backend_id)
);
CREATE INDEX blobs_backend_idx ON blobs (backend_id, state);

-- The head of a key: the row a writer locks (INSERT ... ON CONFLICT DO UPDATE) so
-- that conditional writes on one key serialize. Present while the key has versions.
CREATE TABLE objects (
  bucket_id uuid NOT NULL REFERENCES buckets (id),
  key       text COLLATE "C" NOT NULL,
  PRIMARY KEY (bucket_id, key)
);

CREATE TABLE object_versions (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  bucket_id          uuid NOT NULL,
  key                text COLLATE "C" NOT NULL,
  -- S3 version id; 'null' for writes to an unversioned or suspended bucket.
  version_id         text NOT NULL,
  is_latest          boolean NOT NULL,
  delete_marker      boolean NOT NULL DEFAULT false,
  size               bigint NOT NULL DEFAULT 0,
  etag               text NOT NULL DEFAULT '',
  multipart_parts    integer,
  content_type       text,
  storage_class      text NOT NULL DEFAULT 'STANDARD',
  -- { headers: {...}, userMetadata: {...} } — lower-case names (types.ts ObjectMeta).
  meta               jsonb NOT NULL DEFAULT '{}',
  checksum_algorithm text,
  checksum_value     text,
  checksum_type      text CHECK (checksum_type IN ('FULL_OBJECT', 'COMPOSITE')),
  last_modified      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT object_versions_key_version_key UNIQUE (bucket_id, key, version_id),
  FOREIGN KEY (bucket_id, key) REFERENCES objects (bucket_id, key)
);
-- At most one latest version per key.
CREATE UNIQUE INDEX object_versions_latest_idx ON object_versions (bucket_id, key) WHERE is_latest;
-- Listing walks exactly the visible keys: keyset pagination seeks in this index.
CREATE INDEX object_versions_listing_idx ON object_versions (bucket_id, key) WHERE is_latest AND NOT delete_marker;

-- A version is an ordered list of parts; each part points at one chunk.
-- start_offset: byte offset of the part inside the object ("offset" is reserved).
CREATE TABLE version_parts (
  version_id   uuid NOT NULL REFERENCES object_versions (id) ON DELETE CASCADE,
  part_number  integer NOT NULL,
  start_offset bigint NOT NULL,
  size         bigint NOT NULL,
  etag         text NOT NULL,
  checksums    jsonb NOT NULL DEFAULT '{}',
  chunk_id     text NOT NULL REFERENCES chunks (id),
  PRIMARY KEY (version_id, part_number)
);
CREATE INDEX version_parts_chunk_idx ON version_parts (chunk_id);

CREATE TABLE multipart_uploads (
  upload_id          text PRIMARY KEY,
  bucket_id          uuid NOT NULL REFERENCES buckets (id),
  key                text COLLATE "C" NOT NULL,
  content_type       text,
  storage_class      text NOT NULL DEFAULT 'STANDARD',
  meta               jsonb NOT NULL DEFAULT '{}',
  -- Object-level checksum announced at Create (x-amz-checksum-algorithm / -type).
  checksum_algorithm text,
  checksum_type      text CHECK (checksum_type IN ('FULL_OBJECT', 'COMPOSITE')),
  checksum           jsonb,
  -- Millisecond precision: listings resume after (key, initiated, upload_id), and a
  -- marker must round-trip exactly through a JS Date.
  initiated          timestamptz(3) NOT NULL DEFAULT now()
);
-- ListMultipartUploads order: key, then initiation time (ListMultipartUploads API reference).
CREATE INDEX multipart_uploads_listing_idx ON multipart_uploads (bucket_id, key, initiated, upload_id);

CREATE TABLE upload_parts (
  upload_id     text NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
  part_number   integer NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
  size          bigint NOT NULL,
  etag          text NOT NULL,
  checksums     jsonb NOT NULL DEFAULT '{}',
  chunk_id      text NOT NULL REFERENCES chunks (id),
  last_modified timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (upload_id, part_number)
);
CREATE INDEX upload_parts_chunk_idx ON upload_parts (chunk_id);

-- Append-only record of every metadata change, written in the same transaction
-- as the change (PRODUCT.md §2).
CREATE TABLE changelog (
  id     bigserial PRIMARY KEY,
  at     timestamptz NOT NULL DEFAULT now(),
  entity text NOT NULL,
  action text NOT NULL,
  data   jsonb NOT NULL
);
CREATE INDEX changelog_at_idx ON changelog (at);

-- PG-only (PL/pgSQL): history cannot be rewritten, even by the application role.
CREATE FUNCTION changelog_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'changelog is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER changelog_append_only
  BEFORE UPDATE OR DELETE ON changelog
  FOR EACH ROW EXECUTE FUNCTION changelog_forbid_change();
CREATE TRIGGER changelog_no_truncate
  BEFORE TRUNCATE ON changelog
  FOR EACH STATEMENT EXECUTE FUNCTION changelog_forbid_change();
