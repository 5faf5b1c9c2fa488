-- Object tags (per object version), bucket tags and bucket CORS configurations.
-- Tags belong to one object version (AWS: "PutObjectTagging ... tags of the version
-- specified"), so they go away with the version row. A set is stored whole as a
-- jsonb array because S3 only ever reads or replaces it whole, in request order.
CREATE TABLE object_tags (
  version_id uuid PRIMARY KEY REFERENCES object_versions (id) ON DELETE CASCADE,
  tags       jsonb NOT NULL
);

CREATE TABLE bucket_tags (
  bucket_id uuid PRIMARY KEY REFERENCES buckets (id) ON DELETE CASCADE,
  tags      jsonb NOT NULL
);

-- CORS rules in configuration order: S3 applies the first rule that matches.
-- bucket_name is copied so an anonymous preflight (no tenant known) can find the
-- configuration by the name in its URL.
CREATE TABLE bucket_cors (
  bucket_id   uuid PRIMARY KEY REFERENCES buckets (id) ON DELETE CASCADE,
  bucket_name text NOT NULL,
  rules       jsonb NOT NULL
);
CREATE INDEX bucket_cors_name_idx ON bucket_cors (bucket_name);

-- x-amz-tagging given on CreateMultipartUpload, applied to the version that
-- CompleteMultipartUpload creates (API_CreateMultipartUpload.html); goes with the upload.
CREATE TABLE upload_tags (
  upload_id text PRIMARY KEY REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
  tags      jsonb NOT NULL
);
