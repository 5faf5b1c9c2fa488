// The commit point shared by PutObject / CopyObject (commitObject) and
// CompleteMultipartUpload: lock the key's head row, check the write condition
// against the current version, supersede it per the bucket's versioning, insert the
// new version with its parts, and keep the chunks' reference flags right.
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db.ts';
import { MetadataError, type ChecksumSet, type ObjectMeta, type ObjectVersion, type Versioning, type WriteCondition } from '../types.ts';
import { lockChunks, markIfUnreferenced, markReferenced } from './chunk-refs.ts';
import { isForeignKeyViolation } from './pg-errors.ts';
import { CHUNK_COLUMNS, loadBlobs, metaJson, toChunk, toVersion, VERSION_COLUMNS, type ChunkDbRow, type VersionDbRow } from './rows.ts';

/**
 * Share-lock the bucket row for the transaction (FOR KEY SHARE): DeleteBucket's
 * FOR UPDATE then waits for in-flight writes, and a write that comes after a delete
 * sees no bucket. Returns the bucket's versioning state.
 */
export async function lockBucketForWrite(q: Queryable, bucketId: string): Promise<Versioning> {
  const r = await q.query<{ versioning: Versioning }>('SELECT versioning FROM buckets WHERE id = $1 FOR KEY SHARE', [bucketId]);
  if (r.rows.length === 0) throw new MetadataError('NoSuchBucket', `bucket ${bucketId} does not exist`);
  return r.rows[0].versioning;
}

/**
 * Lock (creating if needed) the head row of (bucket, key). Concurrent writers of one
 * key queue here; the statement after this one sees whatever the previous holder
 * committed (READ COMMITTED takes a new snapshot per statement).
 */
export async function lockHead(q: Queryable, bucketId: string, key: string): Promise<void> {
  try {
    await q.query('INSERT INTO objects (bucket_id, key) VALUES ($1, $2) ON CONFLICT (bucket_id, key) DO UPDATE SET key = EXCLUDED.key', [bucketId, key]);
  } catch (err) {
    if (isForeignKeyViolation(err)) throw new MetadataError('NoSuchBucket', `bucket ${bucketId} does not exist`);
    throw err;
  }
}

/** Lock an existing head row; false when the key has no versions at all. */
export async function lockExistingHead(q: Queryable, bucketId: string, key: string): Promise<boolean> {
  const r = await q.query('SELECT 1 FROM objects WHERE bucket_id = $1 AND key = $2 FOR UPDATE', [bucketId, key]);
  return r.rows.length > 0;
}

/** Drop the head row once no version of the key remains. */
export async function dropHeadIfEmpty(q: Queryable, bucketId: string, key: string): Promise<void> {
  await q.query(
    `DELETE FROM objects o WHERE o.bucket_id = $1 AND o.key = $2
        AND NOT EXISTS (SELECT 1 FROM object_versions v WHERE v.bucket_id = $1 AND v.key = $2)`,
    [bucketId, key],
  );
}

export interface CurrentVersion {
  id: string;
  versionId: string;
  etag: string;
  deleteMarker: boolean;
}

export async function currentVersion(q: Queryable, bucketId: string, key: string): Promise<CurrentVersion | null> {
  const r = await q.query<{ id: string; version_id: string; etag: string; delete_marker: boolean }>(
    'SELECT id, version_id, etag, delete_marker FROM object_versions WHERE bucket_id = $1 AND key = $2 AND is_latest',
    [bucketId, key],
  );
  const row = r.rows[0];
  return row ? { id: row.id, versionId: row.version_id, etag: row.etag, deleteMarker: row.delete_marker } : null;
}

const unquote = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

/**
 * S3 conditional writes (AWS S3 User Guide, "conditional writes"): If-None-Match `*`
 * fails with 412 when a current, non-delete-marker version exists; If-Match fails with
 * 412 on a different ETag and with 404 (NotFound here) when there is no current object
 * or the current version is a delete marker.
 */
export function checkCondition(current: CurrentVersion | null, condition: WriteCondition | undefined): void {
  if (!condition) return;
  const live = current !== null && !current.deleteMarker ? current : null;
  if (condition.ifNoneMatch === '*' && live) throw new MetadataError('PreconditionFailed', 'the key already exists (If-None-Match: *)');
  if (condition.ifMatch !== undefined) {
    if (!live) throw new MetadataError('NotFound', 'no current object to match (If-Match)');
    const want = unquote(condition.ifMatch);
    if (want !== '*' && want !== unquote(live.etag)) throw new MetadataError('PreconditionFailed', 'the current ETag differs (If-Match)');
  }
}

/**
 * Opaque S3 version id for versioning-enabled buckets: 12 hex digits of the creation
 * time in ms, then 20 random hex digits (80 bits). URL-safe with no escaping, unique,
 * and sortable by creation to the millisecond; exact order within a key comes from
 * object_versions.seq (migrations/004_versioning.sql). Format: isWellFormedVersionId.
 */
export function newVersionId(now: number = Date.now()): string {
  return now.toString(16).padStart(12, '0').slice(-12) + randomBytes(10).toString('hex');
}

export interface NewVersion extends ObjectMeta {
  bucketId: string;
  key: string;
  size: number;
  etag: string;
  multipartParts: number | null;
  deleteMarker: boolean;
  parts: { partNumber: number; size: number; etag: string; checksums: ChecksumSet; chunkId: string }[];
}

/** Delete versions (with their parts); returns the chunk ids they referenced. */
export async function deleteVersions(q: Queryable, versionIds: string[]): Promise<string[]> {
  if (versionIds.length === 0) return [];
  const parts = await q.query<{ chunk_id: string }>('DELETE FROM version_parts WHERE version_id = ANY($1::uuid[]) RETURNING chunk_id', [versionIds]);
  await q.query('DELETE FROM object_versions WHERE id = ANY($1::uuid[])', [versionIds]);
  return parts.rows.map((r) => r.chunk_id);
}

/**
 * Insert `v` as the latest version of its key. The caller holds the bucket share
 * lock and the head lock and has checked the condition against `current`.
 * Unversioned and Suspended buckets keep one 'null' version, which the new one
 * replaces; Enabled buckets keep the previous versions (S3 User Guide, "Versioning").
 * Returns the internal id of the new version and the chunk ids it no longer needs.
 */
export async function insertLatestVersion(
  q: Queryable,
  versioning: Versioning,
  current: CurrentVersion | null,
  v: NewVersion,
): Promise<{ id: string; versionId: string; droppedChunkIds: string[] }> {
  let dropped: string[] = [];
  let versionId: string;
  if (versioning === 'Enabled') {
    versionId = newVersionId();
  } else {
    versionId = 'null';
    const prior = await q.query<{ id: string }>("SELECT id FROM object_versions WHERE bucket_id = $1 AND key = $2 AND version_id = 'null'", [v.bucketId, v.key]);
    dropped = await deleteVersions(
      q,
      prior.rows.map((r) => r.id),
    );
  }
  if (current && !(versioning !== 'Enabled' && current.versionId === 'null')) {
    await q.query('UPDATE object_versions SET is_latest = false WHERE id = $1', [current.id]);
  }
  const ins = await q.query<{ id: string }>(
    `INSERT INTO object_versions (bucket_id, key, version_id, is_latest, delete_marker, size, etag, multipart_parts,
       content_type, storage_class, meta, checksum_algorithm, checksum_value, checksum_type)
     VALUES ($1, $2, $3, true, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
    [
      v.bucketId,
      v.key,
      versionId,
      v.deleteMarker,
      v.size,
      v.etag,
      v.multipartParts,
      v.contentType,
      v.storageClass || 'STANDARD',
      metaJson(v),
      v.checksum?.algorithm ?? null,
      v.checksum?.value ?? null,
      v.checksum?.type ?? null,
    ],
  );
  const id = ins.rows[0].id;
  if (v.parts.length > 0) {
    let offset = 0;
    const offsets = v.parts.map((p) => {
      const at = offset;
      offset += p.size;
      return at;
    });
    await q.query(
      `INSERT INTO version_parts (version_id, part_number, start_offset, size, etag, checksums, chunk_id)
       SELECT $1, t.part_number, t.start_offset, t.size, t.etag, t.checksums::jsonb, t.chunk_id
         FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[]) AS t(part_number, start_offset, size, etag, checksums, chunk_id)`,
      [
        id,
        v.parts.map((p) => p.partNumber),
        offsets,
        v.parts.map((p) => p.size),
        v.parts.map((p) => p.etag),
        v.parts.map((p) => JSON.stringify(p.checksums ?? {})),
        v.parts.map((p) => p.chunkId),
      ],
    );
  }
  return { id, versionId, droppedChunkIds: dropped };
}

/**
 * Chunk bookkeeping after a version change: `added` gained a reference, `dropped`
 * may have lost their last one. Both sets are locked (in id order) first.
 */
export async function settleChunkRefs(q: Queryable, added: string[], dropped: string[]): Promise<void> {
  await lockChunks(q, [...added, ...dropped]);
  await markReferenced(q, added);
  await markIfUnreferenced(q, dropped);
}

/** A version with its parts, chunks and blobs. */
export async function loadVersion(q: Queryable, where: { id: string } | { bucketId: string; key: string; versionId?: string }): Promise<ObjectVersion | null> {
  const cond = 'id' in where ? 'v.id = $1' : where.versionId !== undefined ? 'v.bucket_id = $1 AND v.key = $2 AND v.version_id = $3' : 'v.bucket_id = $1 AND v.key = $2 AND v.is_latest';
  const args = 'id' in where ? [where.id] : where.versionId !== undefined ? [where.bucketId, where.key, where.versionId] : [where.bucketId, where.key];
  const r = await q.query<VersionDbRow & PartJoinRow>(
    `SELECT ${VERSION_COLUMNS}, p.part_number, p.start_offset, p.size AS part_size, p.etag AS part_etag, p.checksums AS part_checksums,
            ${CHUNK_COLUMNS.replace(/c\.(\w+)/g, 'c.$1 AS chunk_$1')}
       FROM object_versions v
       LEFT JOIN version_parts p ON p.version_id = v.id
       LEFT JOIN chunks c ON c.id = p.chunk_id
      WHERE ${cond}
      ORDER BY p.part_number`,
    args,
  );
  if (r.rows.length === 0) return null;
  const version = toVersion(r.rows[0]);
  const withParts = r.rows.filter((row) => row.part_number !== null);
  const blobs = await loadBlobs(
    q,
    withParts.map((row) => row.chunk_id),
  );
  version.parts = withParts.map((row) => ({
    partNumber: row.part_number!,
    offset: Number(row.start_offset),
    size: Number(row.part_size),
    etag: row.part_etag!,
    checksums: row.part_checksums ?? {},
    chunk: toChunk(
      { id: row.chunk_id, bucket_id: row.chunk_bucket_id, size: row.chunk_size, md5: row.chunk_md5, checksums: row.chunk_checksums, created_at: row.chunk_created_at },
      blobs.get(row.chunk_id) ?? [],
    ),
  }));
  return version;
}

interface PartJoinRow {
  part_number: number | null;
  start_offset: number | string | null;
  part_size: number | string | null;
  part_etag: string | null;
  part_checksums: ChecksumSet | null;
  chunk_id: string;
  chunk_bucket_id: string;
  chunk_size: ChunkDbRow['size'];
  chunk_md5: string;
  chunk_checksums: ChecksumSet | null;
  chunk_created_at: Date;
}
