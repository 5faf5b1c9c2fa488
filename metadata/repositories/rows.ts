// Row shapes as they come out of PostgreSQL and their mapping onto the contract
// types (metadata/types.ts). bigint columns are converted with Number() here too,
// so a pool not built by createPool (string int8) still yields numbers.
import type { Queryable } from '../db.ts';
import type { BlobRow, ChecksumAlgorithm, ChecksumSet, ChecksumType, ChunkRow, ObjectMeta, ObjectVersion, UploadRow } from '../types.ts';

export interface BlobDbRow {
  chunk_id: string;
  backend_id: string;
  physical_bucket: string;
  physical_key: string;
  state: BlobRow['state'];
  updated_at: Date;
}

export function toBlob(r: BlobDbRow): BlobRow {
  return {
    chunkId: r.chunk_id,
    backendId: r.backend_id,
    physicalBucket: r.physical_bucket,
    physicalKey: r.physical_key,
    state: r.state,
    updatedAt: r.updated_at,
  };
}

export const CHUNK_COLUMNS = 'c.id, c.bucket_id, c.size, c.md5, c.crc32c, c.checksums, c.created_at, c.unreferenced_since';

export interface ChunkDbRow {
  id: string;
  bucket_id: string;
  size: number | string;
  md5: string;
  crc32c: string;
  checksums: ChecksumSet | null;
  created_at: Date;
  /** In CHUNK_COLUMNS; not in the parts an object read loads. */
  unreferenced_since?: Date | null;
}

export function toChunk(r: ChunkDbRow, blobs: BlobRow[]): ChunkRow {
  const chunk: ChunkRow = { id: r.id, bucketId: r.bucket_id, size: Number(r.size), md5: r.md5, crc32c: r.crc32c ?? '', checksums: r.checksums ?? {}, createdAt: r.created_at, blobs };
  if (r.unreferenced_since !== undefined) chunk.unreferencedSince = r.unreferenced_since;
  return chunk;
}

/** Blob rows of the given chunks, grouped by chunk id (backend id order, for stable output). */
export async function loadBlobs(q: Queryable, chunkIds: string[]): Promise<Map<string, BlobRow[]>> {
  const byChunk = new Map<string, BlobRow[]>();
  if (chunkIds.length === 0) return byChunk;
  const r = await q.query<BlobDbRow>(
    `SELECT chunk_id, backend_id, physical_bucket, physical_key, state, updated_at
       FROM blobs WHERE chunk_id = ANY($1::text[]) ORDER BY chunk_id, backend_id`,
    [chunkIds],
  );
  for (const row of r.rows) {
    const list = byChunk.get(row.chunk_id) ?? [];
    list.push(toBlob(row));
    byChunk.set(row.chunk_id, list);
  }
  return byChunk;
}

/** Chunks with their blobs, in the order of the ids given (unknown ids are skipped). */
export async function loadChunks(q: Queryable, ids: string[]): Promise<ChunkRow[]> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  const r = await q.query<ChunkDbRow>(`SELECT ${CHUNK_COLUMNS} FROM chunks c WHERE c.id = ANY($1::text[])`, [unique]);
  const blobs = await loadBlobs(q, unique);
  const byId = new Map(r.rows.map((row) => [row.id, toChunk(row, blobs.get(row.id) ?? [])]));
  return unique.map((id) => byId.get(id)).filter((c): c is ChunkRow => c !== undefined);
}

/** ObjectMeta as stored: content_type, storage_class, meta jsonb and the checksum columns. */
export interface MetaDbColumns {
  content_type: string | null;
  storage_class: string;
  meta: { headers?: Record<string, string>; userMetadata?: Record<string, string> } | null;
}

export function metaJson(m: Pick<ObjectMeta, 'headers' | 'userMetadata'>): string {
  return JSON.stringify({ headers: m.headers ?? {}, userMetadata: m.userMetadata ?? {} });
}

export const VERSION_COLUMNS = `v.id, v.bucket_id, v.key, v.version_id, v.is_latest, v.delete_marker, v.size, v.etag,
  v.multipart_parts, v.content_type, v.storage_class, v.meta, v.checksum_algorithm, v.checksum_value,
  v.checksum_type, v.last_modified`;

export interface VersionDbRow extends MetaDbColumns {
  id: string;
  bucket_id: string;
  key: string;
  version_id: string;
  is_latest: boolean;
  delete_marker: boolean;
  size: number | string;
  etag: string;
  multipart_parts: number | null;
  checksum_algorithm: ChecksumAlgorithm | null;
  checksum_value: string | null;
  checksum_type: ChecksumType | null;
  last_modified: Date;
}

export function toVersion(r: VersionDbRow): ObjectVersion {
  return {
    id: r.id,
    bucketId: r.bucket_id,
    key: r.key,
    versionId: r.version_id,
    isLatest: r.is_latest,
    deleteMarker: r.delete_marker,
    size: Number(r.size),
    etag: r.etag,
    lastModified: r.last_modified,
    multipartParts: r.multipart_parts,
    contentType: r.content_type,
    headers: r.meta?.headers ?? {},
    userMetadata: r.meta?.userMetadata ?? {},
    storageClass: r.storage_class,
    checksum:
      r.checksum_algorithm && r.checksum_value
        ? { algorithm: r.checksum_algorithm, value: r.checksum_value, type: r.checksum_type ?? 'FULL_OBJECT' }
        : null,
    parts: [],
  };
}

export const UPLOAD_COLUMNS = `u.upload_id, u.bucket_id, u.key, u.content_type, u.storage_class, u.meta,
  u.checksum_algorithm, u.checksum_type, u.checksum, u.initiated`;

export interface UploadDbRow extends MetaDbColumns {
  upload_id: string;
  bucket_id: string;
  key: string;
  checksum_algorithm: ChecksumAlgorithm | null;
  checksum_type: ChecksumType | null;
  checksum: ObjectMeta['checksum'];
  initiated: Date;
}

export function toUpload(r: UploadDbRow): UploadRow {
  return {
    uploadId: r.upload_id,
    bucketId: r.bucket_id,
    key: r.key,
    contentType: r.content_type,
    headers: r.meta?.headers ?? {},
    userMetadata: r.meta?.userMetadata ?? {},
    storageClass: r.storage_class,
    checksum: r.checksum ?? null,
    checksumAlgorithm: r.checksum_algorithm,
    checksumType: r.checksum_type,
    initiated: r.initiated,
  };
}
