// Object versions: the commit point shared by every write that makes a new latest
// version (commitVersion → fedgate_commit_version, migrations/007_write_paths.sql),
// the delete paths' building blocks, and reading a version with its parts.
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db.ts';
import type { Tag } from '../tagging-cors.ts';
import { MetadataError, type ChecksumSet, type CommittedVersion, type ObjectMeta, type ObjectVersion, type SealedChunk, type Versioning, type WriteCondition } from '../types.ts';
import { lockChunks, markIfUnreferenced, markReferenced } from './chunk-refs.ts';
import { callFunction } from './pg-errors.ts';
import { toBlob, toChunk, toVersion, VERSION_COLUMNS, type BlobDbRow, type ChunkDbRow, type VersionDbRow } from './rows.ts';

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

/**
 * Opaque S3 version id for versioning-enabled buckets: 12 hex digits of the creation
 * time in ms, then 20 random hex digits (80 bits). URL-safe with no escaping, unique,
 * and sortable by creation to the millisecond; exact order within a key comes from
 * object_versions.seq (migrations/004_versioning.sql). Format: isWellFormedVersionId.
 */
export function newVersionId(now: number = Date.now()): string {
  return now.toString(16).padStart(12, '0').slice(-12) + randomBytes(10).toString('hex');
}

export interface VersionCommit extends ObjectMeta {
  bucketId: string;
  key: string;
  deleteMarker: boolean;
  size: number;
  etag: string;
  multipartParts: number | null;
  /** In object order; offsets are derived from the sizes. */
  parts: { partNumber: number; size: number; etag: string; checksums: ChecksumSet; chunkId: string }[];
  /** Chunks of `parts` written by this request: sealed in the same commit. */
  fresh: SealedChunk[];
  /** Chunks that lose a reference besides those of a replaced version (e.g. unlisted upload parts). */
  released?: string[];
  tags?: Tag[];
  condition?: WriteCondition;
  /** Changelog action and the data it carries besides bucket, key and version ids. */
  action: string;
  change?: Record<string, unknown>;
}

const unquote = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

/**
 * Make `c` the latest version of its key, atomically, in one round trip:
 *  - the bucket row is share-locked (DeleteBucket waits; a write after a delete sees no bucket),
 *    the key's head row locked (writers of one key queue there), then the current version read;
 *  - S3 conditional writes (AWS S3 User Guide, "Conditional writes"): If-None-Match `*` fails
 *    with PreconditionFailed when a current, non-delete-marker version exists; If-Match fails
 *    with PreconditionFailed on a different ETag and with NotFound when there is no current
 *    object or it is a delete marker; ConditionalRequestConflict when the key was deleted after
 *    the write began (condition.seenVersion);
 *  - Unversioned and Suspended buckets keep one 'null' version, which the new one replaces;
 *    Enabled buckets keep the previous ones (S3 User Guide, "Versioning");
 *  - fresh chunks are sealed, referenced chunks marked in use, released ones flagged for the
 *    GC once nothing references them; tags and the changelog row go into the same transaction.
 * Runs inside the caller's transaction when `q` is one.
 */
export async function commitVersion(q: Queryable, c: VersionCommit, inTime?: { chunkId: string; withinMs: number }): Promise<CommittedVersion> {
  let offset = 0;
  const parts = c.parts.map((p) => {
    const at = offset;
    offset += p.size;
    return { ...p, offset: at };
  });
  const condition = c.condition
    ? {
        ifNoneMatch: c.condition.ifNoneMatch ?? null,
        ifMatch: c.condition.ifMatch === undefined ? null : unquote(c.condition.ifMatch),
        seenId: c.condition.seenVersion ?? null,
      }
    : null;
  const arg = {
    bucketId: c.bucketId,
    key: c.key,
    newVersionId: newVersionId(),
    deleteMarker: c.deleteMarker,
    size: c.size,
    etag: c.etag,
    multipartParts: c.multipartParts,
    contentType: c.contentType,
    storageClass: c.storageClass,
    meta: { headers: c.headers ?? {}, userMetadata: c.userMetadata ?? {} },
    checksumAlgorithm: c.checksum?.algorithm ?? null,
    checksumValue: c.checksum?.value ?? null,
    checksumType: c.checksum?.type ?? null,
    condition,
    parts,
    fresh: c.fresh.map(({ begunAtMs: _begunAt, ...sealed }) => sealed),
    released: c.released ?? [],
    tags: c.tags ?? null,
    action: c.action,
    change: c.change ?? {},
  };
  const r = inTime
    ? await callFunction<{ id: string; versionId: string; lastModifiedMs: number }>(q, 'fedgate_commit_version_in_time', arg, [inTime.chunkId, inTime.withinMs])
    : await callFunction<{ id: string; versionId: string; lastModifiedMs: number }>(q, 'fedgate_commit_version', arg);
  return {
    id: r.id,
    bucketId: c.bucketId,
    key: c.key,
    versionId: r.versionId,
    isLatest: true,
    deleteMarker: c.deleteMarker,
    size: c.size,
    etag: c.etag,
    lastModified: new Date(Number(r.lastModifiedMs)),
    multipartParts: c.multipartParts,
    contentType: c.contentType ?? null,
    headers: c.headers ?? {},
    userMetadata: c.userMetadata ?? {},
    storageClass: c.storageClass || 'STANDARD',
    checksum: c.checksum && c.checksum.value ? c.checksum : null,
  };
}

/** Delete versions (with their parts); returns the chunk ids they referenced. */
export async function deleteVersions(q: Queryable, versionIds: string[]): Promise<string[]> {
  if (versionIds.length === 0) return [];
  const parts = await q.query<{ chunk_id: string }>('DELETE FROM version_parts WHERE version_id = ANY($1::uuid[]) RETURNING chunk_id', [versionIds]);
  await q.query('DELETE FROM object_versions WHERE id = ANY($1::uuid[])', [versionIds]);
  return parts.rows.map((r) => r.chunk_id);
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

/**
 * A version's parts with their chunks and blobs as one json column of the version row
 * (part order; blobs in backend id order), so a read costs one round trip.
 */
const PARTS_JSON = `(SELECT coalesce(json_agg(json_build_object(
      'part_number', p.part_number, 'start_offset', p.start_offset, 'size', p.size, 'etag', p.etag, 'checksums', p.checksums,
      'chunk', json_build_object('id', c.id, 'bucket_id', c.bucket_id, 'size', c.size, 'md5', c.md5, 'crc32c', c.crc32c, 'checksums', c.checksums, 'created_at', c.created_at),
      'blobs', (SELECT coalesce(json_agg(json_build_object('chunk_id', b.chunk_id, 'backend_id', b.backend_id, 'physical_bucket', b.physical_bucket,
                                                            'physical_key', b.physical_key, 'state', b.state, 'updated_at', b.updated_at)
                                         ORDER BY b.backend_id), '[]') FROM blobs b WHERE b.chunk_id = c.id)
    ) ORDER BY p.part_number), '[]')
   FROM version_parts p JOIN chunks c ON c.id = p.chunk_id WHERE p.version_id = v.id) AS parts_json`;

interface PartJson {
  part_number: number;
  start_offset: number;
  size: number;
  etag: string;
  checksums: ChecksumSet | null;
  chunk: Omit<ChunkDbRow, 'created_at'> & { created_at: string };
  blobs: (Omit<BlobDbRow, 'updated_at'> & { updated_at: string })[];
}

export type VersionWithPartsRow = VersionDbRow & { parts_json: PartJson[] };

/** The version row and its parts (VERSION_COLUMNS + PARTS_JSON) as an ObjectVersion. */
export function toVersionWithParts(row: VersionWithPartsRow): ObjectVersion {
  const version = toVersion(row);
  version.parts = row.parts_json.map((p) => ({
    partNumber: p.part_number,
    offset: Number(p.start_offset),
    size: Number(p.size),
    etag: p.etag,
    checksums: p.checksums ?? {},
    // json renders timestamps as ISO text with microseconds; Date keeps milliseconds, as pg's own parser does.
    chunk: toChunk(
      { ...p.chunk, created_at: new Date(p.chunk.created_at) },
      p.blobs.map((b) => toBlob({ ...b, updated_at: new Date(b.updated_at) })),
    ),
  }));
  return version;
}

export const VERSION_WITH_PARTS_COLUMNS = `${VERSION_COLUMNS}, ${PARTS_JSON}`;

/** Which version of a key: the latest, or the one with this S3 version id ($n placeholders from `first`). */
export function versionPredicate(versionId: string | undefined, first: number): string {
  return versionId === undefined ? `v.key = $${first} AND v.is_latest` : `v.key = $${first} AND v.version_id = $${first + 1}`;
}

/** A version with its parts, chunks and blobs, in one query. */
export async function loadVersion(q: Queryable, where: { id: string } | { bucketId: string; key: string; versionId?: string }): Promise<ObjectVersion | null> {
  const [cond, args] =
    'id' in where
      ? ['v.id = $1', [where.id]]
      : [`v.bucket_id = $1 AND ${versionPredicate(where.versionId, 2)}`, where.versionId === undefined ? [where.bucketId, where.key] : [where.bucketId, where.key, where.versionId]];
  const r = await q.query<VersionWithPartsRow>(`SELECT ${VERSION_WITH_PARTS_COLUMNS} FROM object_versions v WHERE ${cond}`, args);
  return r.rows[0] ? toVersionWithParts(r.rows[0]) : null;
}
