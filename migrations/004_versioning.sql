-- Bucket versioning (S3 User Guide, "Using versioning in S3 buckets").
--
-- seq orders the versions of a key by creation: ListObjectVersions lists each key's
-- versions newest first (API_ListObjectVersions.html), and a 'null' version that is rewritten in a suspended
-- bucket becomes the newest one, so neither version_id nor last_modified (equal
-- within one transaction or one millisecond) can stand in for it. Writers of one key
-- serialize on its head row (objects), so per key seq follows commit order.
-- bigserial: CockroachDB maps it to unique_rowid() (unique, increasing per node).
ALTER TABLE object_versions ADD COLUMN seq bigserial;

-- ListObjectVersions walks (key asc, newest first). The latest version of every key
-- is found through object_versions_latest_idx (001); the older ones through this
-- index, partial so that it holds only non-current versions: it can never compete
-- with object_versions_listing_idx for ListObjects (whose predicate contradicts it),
-- and a page seeks by (key, seq) whatever the number of keys or versions before it.
CREATE INDEX object_versions_noncurrent_idx ON object_versions (bucket_id, key, seq DESC) WHERE NOT is_latest;
