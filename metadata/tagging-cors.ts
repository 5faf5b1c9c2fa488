// Tag sets and CORS configurations (migrations/005_tagging_cors.sql). Kept out of
// the main MetadataStore contract: both are small documents S3 reads and replaces
// whole, next to (not part of) the object and bucket rows.
import type pg from 'pg';

export interface Tag {
  key: string;
  value: string;
}

/** One CORSRule of a PutBucketCors document (API_CORSRule.html). */
export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

export interface TaggingCorsStore {
  /** Tags of one object version (by its internal uuid); [] when it has none. */
  getObjectTags(versionUuid: string): Promise<Tag[]>;
  /** Replaces the version's tag set; an empty set removes it. */
  putObjectTags(versionUuid: string, tags: Tag[]): Promise<void>;
  /** Tags given when a multipart upload was created, kept until it completes or is aborted. */
  putUploadTags(uploadId: string, tags: Tag[]): Promise<void>;
  getUploadTags(uploadId: string): Promise<Tag[]>;
  /** The bucket's tag set, or null when it has none (NoSuchTagSet). */
  getBucketTags(bucketId: string): Promise<Tag[] | null>;
  putBucketTags(bucketId: string, tags: Tag[]): Promise<void>;
  deleteBucketTags(bucketId: string): Promise<void>;
  /** The bucket's CORS rules, or null when it has no configuration. */
  getBucketCors(bucketId: string): Promise<CorsRule[] | null>;
  putBucketCors(bucketId: string, bucketName: string, rules: CorsRule[]): Promise<void>;
  deleteBucketCors(bucketId: string): Promise<void>;
  /** CORS rules of every bucket with this name, across tenants (anonymous preflight). */
  findCorsByBucketName(bucketName: string): Promise<CorsRule[][]>;
}

export function createPgTaggingCorsStore(pool: pg.Pool): TaggingCorsStore {
  return {
    async getObjectTags(versionUuid) {
      const r = await pool.query<{ tags: Tag[] }>('SELECT tags FROM object_tags WHERE version_id = $1', [versionUuid]);
      return r.rows[0]?.tags ?? [];
    },
    async putObjectTags(versionUuid, tags) {
      if (tags.length === 0) {
        await pool.query('DELETE FROM object_tags WHERE version_id = $1', [versionUuid]);
        return;
      }
      // A version deleted meanwhile fails the foreign key: the caller's NoSuchKey race, answered as such.
      await pool.query(
        `INSERT INTO object_tags (version_id, tags) VALUES ($1, $2::jsonb)
         ON CONFLICT (version_id) DO UPDATE SET tags = EXCLUDED.tags`,
        [versionUuid, JSON.stringify(tags)],
      );
    },
    async putUploadTags(uploadId, tags) {
      await pool.query(
        `INSERT INTO upload_tags (upload_id, tags) VALUES ($1, $2::jsonb)
         ON CONFLICT (upload_id) DO UPDATE SET tags = EXCLUDED.tags`,
        [uploadId, JSON.stringify(tags)],
      );
    },
    async getUploadTags(uploadId) {
      const r = await pool.query<{ tags: Tag[] }>('SELECT tags FROM upload_tags WHERE upload_id = $1', [uploadId]);
      return r.rows[0]?.tags ?? [];
    },
    async getBucketTags(bucketId) {
      const r = await pool.query<{ tags: Tag[] }>('SELECT tags FROM bucket_tags WHERE bucket_id = $1', [bucketId]);
      return r.rows[0]?.tags ?? null;
    },
    async putBucketTags(bucketId, tags) {
      await pool.query(
        `INSERT INTO bucket_tags (bucket_id, tags) VALUES ($1, $2::jsonb)
         ON CONFLICT (bucket_id) DO UPDATE SET tags = EXCLUDED.tags`,
        [bucketId, JSON.stringify(tags)],
      );
    },
    async deleteBucketTags(bucketId) {
      await pool.query('DELETE FROM bucket_tags WHERE bucket_id = $1', [bucketId]);
    },
    async getBucketCors(bucketId) {
      const r = await pool.query<{ rules: CorsRule[] }>('SELECT rules FROM bucket_cors WHERE bucket_id = $1', [bucketId]);
      return r.rows[0]?.rules ?? null;
    },
    async putBucketCors(bucketId, bucketName, rules) {
      await pool.query(
        `INSERT INTO bucket_cors (bucket_id, bucket_name, rules) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (bucket_id) DO UPDATE SET rules = EXCLUDED.rules, bucket_name = EXCLUDED.bucket_name`,
        [bucketId, bucketName, JSON.stringify(rules)],
      );
    },
    async deleteBucketCors(bucketId) {
      await pool.query('DELETE FROM bucket_cors WHERE bucket_id = $1', [bucketId]);
    },
    async findCorsByBucketName(bucketName) {
      const r = await pool.query<{ rules: CorsRule[] }>('SELECT rules FROM bucket_cors WHERE bucket_name = $1', [bucketName]);
      return r.rows.map((row) => row.rules);
    },
  };
}
