// Objects: the visibility point (commitObject), reads, deletes, replica status.
import type pg from 'pg';
import { prepared, retrying, withTransaction, type Queryable } from '../db.ts';
import type { BlobRow, CommitObjectInput, CommittedVersion, ObjectRead, ObjectVersion, SealedChunk } from '../types.ts';
import { toBucket, type BucketDbRow } from './buckets.ts';
import { appendChange } from './changelog.ts';
import { loadBlobs } from './rows.ts';
import {
  commitVersion,
  currentVersion,
  deleteVersions,
  dropHeadIfEmpty,
  loadVersion,
  lockBucketForWrite,
  lockExistingHead,
  settleChunkRefs,
  toVersionWithParts,
  VERSION_WITH_PARTS_COLUMNS,
  versionPredicate,
  type VersionWithPartsRow,
} from './versions.ts';

const isSealed = (c: SealedChunk | { existingChunkId: string }): c is SealedChunk => 'chunkId' in c;

/**
 * `lateAfterMs`: how much longer than the time since the chunk was begun the caller would still
 * wait for the commit's answer (half its query timeout); undefined: no deadline.
 */
export async function commitObject(pool: pg.Pool, input: CommitObjectInput, lateAfterMs?: number): Promise<CommittedVersion> {
  const parts = input.parts.map((p) => ({
    partNumber: p.partNumber,
    size: p.size,
    etag: p.etag,
    checksums: p.checksums,
    chunkId: isSealed(p.chunk) ? p.chunk.chunkId : p.chunk.existingChunkId,
  }));
  const fresh = input.parts.map((p) => p.chunk).filter(isSealed);
  const commit = {
    ...input,
    deleteMarker: false,
    parts,
    fresh,
    action: 'put',
    change: { etag: input.etag, size: input.size, chunks: parts.map((p) => p.chunkId) },
  };
  // A commit statement that reaches the server only after the gateway gave up on it (503) must
  // commit nothing, or the object would appear after the client was told the write failed
  // (PRODUCT.md §9). With a fresh chunk, the statement itself refuses to run late, timed from the
  // chunk's begin on the server's clock (migrations/010): one round trip, as before. Without one
  // (CopyObject), it goes between BEGIN and COMMIT, which the server ends by itself when the
  // session sits idle inside the transaction (idle_in_transaction_session_timeout, shared/runtime).
  const timed = fresh.find((c) => c.begunAtMs !== undefined);
  if (timed && lateAfterMs !== undefined) {
    return retrying(() => commitVersion(pool, commit, { chunkId: timed.chunkId, withinMs: Math.ceil(performance.now() - timed.begunAtMs!) + lateAfterMs }));
  }
  return withTransaction(pool, (tx) => commitVersion(tx, commit));
}

const readObjectSql = (versionId: string | undefined) =>
  `SELECT b.id AS b_id, b.tenant_id AS b_tenant_id, b.name AS b_name, b.region AS b_region, b.versioning AS b_versioning,
            b.created_at AS b_created_at, x.*
       FROM buckets b
       LEFT JOIN LATERAL (
         SELECT ${VERSION_WITH_PARTS_COLUMNS},
                (SELECT jsonb_array_length(t.tags) FROM object_tags t WHERE t.version_id = v.id) AS tag_count
           FROM object_versions v WHERE v.bucket_id = b.id AND ${versionPredicate(versionId, 3)}) x ON true
      WHERE b.tenant_id = $1 AND b.name = $2`;
const READ_LATEST = prepared('fedgate_read_object_latest', readObjectSql(undefined));
const READ_VERSION = prepared('fedgate_read_object_version', readObjectSql(''));

/**
 * GetObject / HeadObject in one round trip: the caller's bucket by name, the version
 * (latest or by S3 version id; delete markers included) with its parts, and how many
 * tags it has. null when the tenant has no bucket of that name.
 */
export async function readObject(q: Queryable, tenantId: string, bucketName: string, key: string, versionId?: string): Promise<ObjectRead | null> {
  const args = versionId === undefined ? [tenantId, bucketName, key] : [tenantId, bucketName, key, versionId];
  const r = await q.query<{ [K in keyof BucketDbRow as `b_${K}`]: BucketDbRow[K] } & (VersionWithPartsRow & { tag_count: number | null })>(
    versionId === undefined ? READ_LATEST : READ_VERSION,
    args,
  );
  const row = r.rows[0];
  if (!row) return null;
  const bucket = toBucket({ id: row.b_id, tenant_id: row.b_tenant_id, name: row.b_name, region: row.b_region, versioning: row.b_versioning, created_at: row.b_created_at });
  return { bucket, version: row.id === null ? null : toVersionWithParts(row), tagCount: row.tag_count ?? 0 };
}

export async function getObject(q: Queryable, bucketId: string, key: string, versionId?: string): Promise<ObjectVersion | null> {
  const v = await loadVersion(q, versionId === undefined ? { bucketId, key } : { bucketId, key, versionId });
  if (!v) return null;
  if (versionId === undefined && v.deleteMarker) return null;
  return v;
}

/** Like getObject, but a delete marker is returned too (S3 answers it with x-amz-delete-marker). */
export async function getVersion(q: Queryable, bucketId: string, key: string, versionId?: string): Promise<ObjectVersion | null> {
  return loadVersion(q, versionId === undefined ? { bucketId, key } : { bucketId, key, versionId });
}

type DeleteResult = { deleted: boolean; versionId: string | null; deleteMarker: boolean };

export async function deleteObject(pool: pg.Pool, bucketId: string, key: string, versionId?: string): Promise<DeleteResult> {
  return withTransaction(pool, async (tx) => {
    const versioning = await lockBucketForWrite(tx, bucketId);
    if (versionId !== undefined) return deleteOneVersion(tx, bucketId, key, versionId);
    if (versioning === 'Unversioned') {
      if (!(await lockExistingHead(tx, bucketId, key))) return { deleted: false, versionId: null, deleteMarker: false };
      const current = await currentVersion(tx, bucketId, key);
      if (!current) return { deleted: false, versionId: null, deleteMarker: false };
      const dropped = await deleteVersions(tx, [current.id]);
      await dropHeadIfEmpty(tx, bucketId, key);
      await settleChunkRefs(tx, [], dropped);
      await appendChange(tx, 'object', 'delete', { bucketId, key, id: current.id, versionId: current.versionId });
      return { deleted: true, versionId: null, deleteMarker: false };
    }
    // Versioned buckets: a delete without a version id adds a delete marker, which
    // replaces the 'null' version when versioning is suspended (S3 User Guide,
    // "Deleting object versions from a versioning-suspended bucket").
    const marker = await commitVersion(tx, {
      bucketId,
      key,
      deleteMarker: true,
      size: 0,
      etag: '',
      multipartParts: null,
      contentType: null,
      headers: {},
      userMetadata: {},
      storageClass: 'STANDARD',
      checksum: null,
      parts: [],
      fresh: [],
      action: 'delete-marker',
    });
    return { deleted: true, versionId: marker.versionId, deleteMarker: true };
  });
}

/** Permanently remove one version; if it was the latest, the newest remaining one takes over. */
async function deleteOneVersion(tx: Queryable, bucketId: string, key: string, versionId: string): Promise<DeleteResult> {
  if (!(await lockExistingHead(tx, bucketId, key))) return { deleted: false, versionId, deleteMarker: false };
  const r = await tx.query<{ id: string; is_latest: boolean; delete_marker: boolean }>(
    'SELECT id, is_latest, delete_marker FROM object_versions WHERE bucket_id = $1 AND key = $2 AND version_id = $3',
    [bucketId, key, versionId],
  );
  const row = r.rows[0];
  if (!row) return { deleted: false, versionId, deleteMarker: false };
  const dropped = await deleteVersions(tx, [row.id]);
  if (row.is_latest) {
    await tx.query(
      `UPDATE object_versions SET is_latest = true WHERE id = (
         SELECT id FROM object_versions WHERE bucket_id = $1 AND key = $2 ORDER BY seq DESC LIMIT 1)`,
      [bucketId, key],
    );
  }
  await dropHeadIfEmpty(tx, bucketId, key);
  await settleChunkRefs(tx, [], dropped);
  await appendChange(tx, 'object', 'delete-version', { bucketId, key, id: row.id, versionId });
  return { deleted: true, versionId, deleteMarker: row.delete_marker };
}

export async function getReplicaStatus(q: Queryable, bucketId: string, key: string): Promise<{ partNumber: number; chunkId: string; blobs: BlobRow[] }[] | null> {
  const latest = await q.query<{ id: string; delete_marker: boolean }>(
    'SELECT id, delete_marker FROM object_versions WHERE bucket_id = $1 AND key = $2 AND is_latest',
    [bucketId, key],
  );
  if (latest.rows.length === 0 || latest.rows[0].delete_marker) return null;
  const parts = await q.query<{ part_number: number; chunk_id: string }>(
    'SELECT part_number, chunk_id FROM version_parts WHERE version_id = $1 ORDER BY part_number',
    [latest.rows[0].id],
  );
  const blobs = await loadBlobs(
    q,
    parts.rows.map((p) => p.chunk_id),
  );
  return parts.rows.map((p) => ({ partNumber: p.part_number, chunkId: p.chunk_id, blobs: blobs.get(p.chunk_id) ?? [] }));
}
