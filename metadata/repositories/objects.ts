// Objects: the visibility point (commitObject), reads, deletes, replica status.
import type pg from 'pg';
import { withTransaction, type Queryable } from '../db.ts';
import { MetadataError, type BlobRow, type CommitObjectInput, type ObjectVersion, type SealedChunk } from '../types.ts';
import { appendChange } from './changelog.ts';
import { lockChunks, sealChunks } from './chunk-refs.ts';
import { loadBlobs } from './rows.ts';
import {
  checkCondition,
  currentVersion,
  deleteVersions,
  dropHeadIfEmpty,
  insertLatestVersion,
  loadVersion,
  lockBucketForWrite,
  lockExistingHead,
  lockHead,
  settleChunkRefs,
} from './versions.ts';

const isSealed = (c: SealedChunk | { existingChunkId: string }): c is SealedChunk => 'chunkId' in c;

export async function commitObject(pool: pg.Pool, input: CommitObjectInput): Promise<ObjectVersion> {
  return withTransaction(pool, async (tx) => {
    const versioning = await lockBucketForWrite(tx, input.bucketId);
    await lockHead(tx, input.bucketId, input.key);
    const current = await currentVersion(tx, input.bucketId, input.key);
    checkCondition(current, input.condition);

    const fresh = input.parts.map((p) => p.chunk).filter(isSealed);
    const parts = input.parts.map((p) => ({
      partNumber: p.partNumber,
      size: p.size,
      etag: p.etag,
      checksums: p.checksums,
      chunkId: isSealed(p.chunk) ? p.chunk.chunkId : p.chunk.existingChunkId,
    }));
    const chunkIds = parts.map((p) => p.chunkId);
    // Lock every chunk the version will reference before touching any of them; a
    // zero-copy source the GC already removed cannot be referenced.
    const present = await lockChunks(tx, chunkIds);
    const gone = chunkIds.find((id) => !present.has(id));
    if (gone) throw new MetadataError('NotFound', `chunk ${gone} does not exist`);
    await sealChunks(tx, fresh);

    const written = await insertLatestVersion(tx, versioning, current, {
      bucketId: input.bucketId,
      key: input.key,
      size: input.size,
      etag: input.etag,
      multipartParts: input.multipartParts,
      deleteMarker: false,
      contentType: input.contentType,
      headers: input.headers,
      userMetadata: input.userMetadata,
      storageClass: input.storageClass,
      checksum: input.checksum,
      parts,
    });
    await settleChunkRefs(tx, chunkIds, written.droppedChunkIds);
    await appendChange(tx, 'object', 'put', {
      bucketId: input.bucketId,
      key: input.key,
      versionId: written.versionId,
      id: written.id,
      etag: input.etag,
      size: input.size,
      chunks: chunkIds,
      replaced: current?.id ?? null,
    });
    const version = await loadVersion(tx, { id: written.id });
    return version!;
  });
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
    await lockHead(tx, bucketId, key);
    const current = await currentVersion(tx, bucketId, key);
    const written = await insertLatestVersion(tx, versioning, current, {
      bucketId,
      key,
      size: 0,
      etag: '',
      multipartParts: null,
      deleteMarker: true,
      contentType: null,
      headers: {},
      userMetadata: {},
      storageClass: 'STANDARD',
      checksum: null,
      parts: [],
    });
    await settleChunkRefs(tx, [], written.droppedChunkIds);
    await appendChange(tx, 'object', 'delete-marker', { bucketId, key, id: written.id, versionId: written.versionId });
    return { deleted: true, versionId: written.versionId, deleteMarker: true };
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
