// Multipart uploads: parts own their chunks through upload_parts until Complete
// moves them into a version (zero-copy) or Abort lets them become garbage.
import type pg from 'pg';
import { withTransaction, type Queryable } from '../db.ts';
import {
  MetadataError,
  type ChecksumSet,
  type CommittedVersion,
  type CompleteUploadInput,
  type SealedChunk,
  type UploadPartRow,
  type UploadRow,
} from '../types.ts';
import { appendChange } from './changelog.ts';
import { lockChunks, markIfUnreferenced, markReferenced, sealChunks } from './chunk-refs.ts';
import { isForeignKeyViolation, isUniqueViolation } from './pg-errors.ts';
import { loadChunks, metaJson, toUpload, UPLOAD_COLUMNS, type UploadDbRow } from './rows.ts';
import { commitVersion, lockBucketForWrite } from './versions.ts';

export async function createUpload(pool: pg.Pool, input: Omit<UploadRow, 'initiated'>): Promise<UploadRow> {
  try {
    return await withTransaction(pool, async (tx) => {
      await lockBucketForWrite(tx, input.bucketId);
      const r = await tx.query<UploadDbRow>(
        `INSERT INTO multipart_uploads AS u (upload_id, bucket_id, key, content_type, storage_class, meta, checksum_algorithm, checksum_type, checksum,
                                             seen_version, seen_recorded)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                 (SELECT v.id FROM object_versions v WHERE v.bucket_id = $2 AND v.key = $3 AND v.is_latest), true)
         RETURNING ${UPLOAD_COLUMNS}`,
        [
          input.uploadId,
          input.bucketId,
          input.key,
          input.contentType,
          input.storageClass || 'STANDARD',
          metaJson(input),
          input.checksumAlgorithm,
          input.checksumType,
          input.checksum ? JSON.stringify(input.checksum) : null,
        ],
      );
      await appendChange(tx, 'upload', 'create', { uploadId: input.uploadId, bucketId: input.bucketId, key: input.key });
      return toUpload(r.rows[0]);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new MetadataError('ConditionalRequestConflict', `upload id ${input.uploadId} is already in use`);
    if (isForeignKeyViolation(err)) throw new MetadataError('NoSuchBucket', `bucket ${input.bucketId} does not exist`);
    throw err;
  }
}

export async function getUpload(q: Queryable, bucketId: string, uploadId: string): Promise<UploadRow | null> {
  const r = await q.query<UploadDbRow>(`SELECT ${UPLOAD_COLUMNS} FROM multipart_uploads u WHERE u.upload_id = $1 AND u.bucket_id = $2`, [uploadId, bucketId]);
  return r.rows[0] ? toUpload(r.rows[0]) : null;
}

/** Lock the upload row or throw NoSuchUpload. */
type LockedUploadRow = UploadDbRow & { seen_version: string | null; seen_recorded: boolean };

async function lockUpload(q: Queryable, bucketId: string, uploadId: string, mode: 'FOR UPDATE' | 'FOR NO KEY UPDATE'): Promise<LockedUploadRow> {
  const r = await q.query<LockedUploadRow>(
    `SELECT ${UPLOAD_COLUMNS}, u.seen_version, u.seen_recorded FROM multipart_uploads u WHERE u.upload_id = $1 AND u.bucket_id = $2 ${mode}`,
    [uploadId, bucketId],
  );
  if (r.rows.length === 0) throw new MetadataError('NoSuchUpload', `upload ${uploadId} does not exist`);
  return r.rows[0];
}

interface PartDbRow {
  part_number: number;
  size: number | string;
  etag: string;
  checksums: ChecksumSet | null;
  last_modified: Date;
  chunk_id: string;
}

async function partsWithChunks(q: Queryable, rows: PartDbRow[]): Promise<UploadPartRow[]> {
  const chunks = new Map(
    (
      await loadChunks(
        q,
        rows.map((r) => r.chunk_id),
      )
    ).map((c) => [c.id, c]),
  );
  return rows.map((r) => ({
    partNumber: r.part_number,
    size: Number(r.size),
    etag: r.etag,
    checksums: r.checksums ?? {},
    lastModified: r.last_modified,
    chunk: chunks.get(r.chunk_id)!,
  }));
}

const PART_COLUMNS = 'part_number, size, etag, checksums, last_modified, chunk_id';

export async function putUploadPart(
  pool: pg.Pool,
  bucketId: string,
  uploadId: string,
  partNumber: number,
  chunk: SealedChunk,
  etag: string,
  checksums: ChecksumSet,
): Promise<UploadPartRow> {
  return withTransaction(pool, async (tx) => {
    // FOR NO KEY UPDATE serializes part commits of one upload (so a replaced part's
    // chunk is always seen and released) without blocking the FK checks of others;
    // Complete / Abort take FOR UPDATE and wait for in-flight parts.
    await lockUpload(tx, bucketId, uploadId, 'FOR NO KEY UPDATE');
    const old = await tx.query<{ chunk_id: string }>('SELECT chunk_id FROM upload_parts WHERE upload_id = $1 AND part_number = $2', [uploadId, partNumber]);
    const oldChunk = old.rows[0]?.chunk_id;
    const present = await lockChunks(tx, oldChunk ? [chunk.chunkId, oldChunk] : [chunk.chunkId]);
    if (!present.has(chunk.chunkId)) throw new MetadataError('NotFound', `chunk ${chunk.chunkId} was never begun (or was already removed)`);
    await sealChunks(tx, [chunk]);
    const r = await tx.query<PartDbRow>(
      `INSERT INTO upload_parts (upload_id, part_number, size, etag, checksums, chunk_id) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (upload_id, part_number) DO UPDATE
         SET size = EXCLUDED.size, etag = EXCLUDED.etag, checksums = EXCLUDED.checksums, chunk_id = EXCLUDED.chunk_id, last_modified = now()
       RETURNING ${PART_COLUMNS}`,
      [uploadId, partNumber, chunk.size, etag, JSON.stringify(checksums ?? {}), chunk.chunkId],
    );
    await markReferenced(tx, [chunk.chunkId]);
    if (oldChunk && oldChunk !== chunk.chunkId) await markIfUnreferenced(tx, [oldChunk]);
    await appendChange(tx, 'upload', 'put-part', { uploadId, bucketId, partNumber, chunkId: chunk.chunkId, replaced: oldChunk ?? null, etag, size: chunk.size });
    const [part] = await partsWithChunks(tx, r.rows);
    return part;
  });
}

export async function listUploadParts(
  pool: pg.Pool,
  bucketId: string,
  uploadId: string,
  input: { partNumberMarker: number; maxParts: number },
): Promise<{ parts: UploadPartRow[]; isTruncated: boolean; nextPartNumberMarker: number | null }> {
  // One snapshot for "does the upload exist" and its parts.
  return withTransaction(
    pool,
    async (tx) => {
      if (!(await getUpload(tx, bucketId, uploadId))) throw new MetadataError('NoSuchUpload', `upload ${uploadId} does not exist`);
      const maxParts = Math.max(0, Math.floor(input.maxParts));
      const r = await tx.query<PartDbRow>(
        `SELECT ${PART_COLUMNS} FROM upload_parts WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3`,
        [uploadId, Math.max(0, Math.floor(input.partNumberMarker || 0)), maxParts + 1],
      );
      const isTruncated = r.rows.length > maxParts;
      const page = r.rows.slice(0, maxParts);
      const parts = await partsWithChunks(tx, page);
      return { parts, isTruncated, nextPartNumberMarker: page.length > 0 ? page[page.length - 1].part_number : null };
    },
    { isolation: 'repeatable read', readOnly: true },
  );
}

export async function getUploadParts(pool: pg.Pool, bucketId: string, uploadId: string): Promise<UploadPartRow[]> {
  return withTransaction(
    pool,
    async (tx) => {
      if (!(await getUpload(tx, bucketId, uploadId))) throw new MetadataError('NoSuchUpload', `upload ${uploadId} does not exist`);
      const r = await tx.query<PartDbRow>(`SELECT ${PART_COLUMNS} FROM upload_parts WHERE upload_id = $1 ORDER BY part_number`, [uploadId]);
      return partsWithChunks(tx, r.rows);
    },
    { isolation: 'repeatable read', readOnly: true },
  );
}

const unquote = (etag: string) => etag.trim().replace(/^"(.*)"$/, '$1');

export async function completeUpload(pool: pg.Pool, input: CompleteUploadInput): Promise<CommittedVersion> {
  return withTransaction(pool, async (tx) => {
    const upload = await lockUpload(tx, input.bucketId, input.uploadId, 'FOR UPDATE');
    const stored = await tx.query<PartDbRow>(`SELECT ${PART_COLUMNS} FROM upload_parts WHERE upload_id = $1`, [input.uploadId]);
    const byNumber = new Map(stored.rows.map((p) => [p.part_number, p]));
    const listed = input.parts.map((p) => {
      const part = byNumber.get(p.partNumber);
      // CompleteMultipartUpload API reference: InvalidPart when a listed part was not
      // uploaded or its ETag does not match the one stored.
      if (!part || unquote(part.etag) !== unquote(p.etag)) throw new MetadataError('InvalidPart', `part ${p.partNumber} was not uploaded or its ETag differs`);
      return part;
    });
    // The upload (and its part rows) goes first, so parts not listed have lost their only
    // reference by the time the commit flags released chunks; a refused commit rolls it back.
    await tx.query('DELETE FROM multipart_uploads WHERE upload_id = $1', [input.uploadId]);
    const used = new Set(listed.map((p) => p.chunk_id));
    const meta = toUpload(upload);
    return commitVersion(tx, {
      bucketId: input.bucketId,
      key: upload.key,
      deleteMarker: false,
      size: input.size,
      etag: input.etag,
      multipartParts: listed.length,
      contentType: meta.contentType,
      headers: meta.headers,
      userMetadata: meta.userMetadata,
      storageClass: meta.storageClass,
      checksum: input.checksum,
      parts: listed.map((p) => ({ partNumber: p.part_number, size: Number(p.size), etag: p.etag, checksums: p.checksums ?? {}, chunkId: p.chunk_id })),
      fresh: [],
      released: stored.rows.map((p) => p.chunk_id).filter((id) => !used.has(id)),
      tags: input.tags,
      // The version latest at CreateMultipartUpload: a delete since then makes a conditional Complete a 409.
      condition: input.condition && upload.seen_recorded ? { ...input.condition, seenVersion: upload.seen_version } : input.condition,
      action: 'complete-upload',
      change: { uploadId: input.uploadId, etag: input.etag, size: input.size, parts: listed.length, discardedParts: stored.rows.length - listed.length },
    });
  });
}

export async function abortUpload(pool: pg.Pool, bucketId: string, uploadId: string): Promise<void> {
  await withTransaction(pool, async (tx) => {
    await lockUpload(tx, bucketId, uploadId, 'FOR UPDATE');
    const parts = await tx.query<{ chunk_id: string }>('DELETE FROM upload_parts WHERE upload_id = $1 RETURNING chunk_id', [uploadId]);
    await tx.query('DELETE FROM multipart_uploads WHERE upload_id = $1', [uploadId]);
    const ids = parts.rows.map((r) => r.chunk_id);
    await lockChunks(tx, ids);
    await markIfUnreferenced(tx, ids);
    await appendChange(tx, 'upload', 'abort', { uploadId, bucketId, parts: ids.length });
  });
}
