// The metadata authority's contract. PostgreSQL is the source of truth; the
// gateway and workers speak to it only through this interface. Every mutating
// method runs in one transaction and appends to the changelog in that same
// transaction (docs/ARCHITECTURE.md, "Data model").
//
// Content model: an object version is an ordered list of parts; each part points
// at an immutable *chunk* (size, MD5, checksums) stored as one *blob* per backend.
// A single PUT is a version with one part. Multipart uploads own chunks through
// upload_parts until Complete moves them to the version. A chunk no version and no
// upload references is garbage (collected by the GC worker). Copies and
// metadata-only changes reference the same chunks (zero-copy).
import type { Tag } from './tagging-cors.ts';

export type BackendType = 's3' | 'local-disk';
export type BlobState = 'writing' | 'ok' | 'missing' | 'corrupt' | 'deleting';

/** One replica for the scrubber to read back (listBlobsToScrub). */
export interface ScrubCandidate {
  chunkId: string;
  backendId: string;
  physicalBucket: string;
  physicalKey: string;
  size: number;
  /** Hex MD5 and CRC-32C ('' when not recorded) of the chunk's bytes. */
  md5: string;
  crc32c: string;
}
export type Versioning = 'Unversioned' | 'Enabled' | 'Suspended';
export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

/** Base64 checksum values keyed by algorithm, as S3 prints them in x-amz-checksum-*. */
export type ChecksumSet = Partial<Record<ChecksumAlgorithm, string>>;

export interface TenantRow {
  id: string;
  name: string;
  createdAt: Date;
}

export interface AccessKeyRow {
  accessKeyId: string;
  tenantId: string;
  tenantName: string;
  /** Vault envelope (see shared/vault); never the plain secret. */
  secretSealed: string;
  status: 'active' | 'inactive';
  createdAt: Date;
}

export interface BackendInput {
  name: string;
  type: BackendType;
  endpoint: string | null;
  path: string | null;
  region: string;
  jurisdiction: string;
  country: string;
  provider: string;
  /** Vault envelope of the JSON `{ accessKeyId, secretAccessKey }`, or null (local-disk). */
  credentialsSealed: string | null;
}

export interface BackendRow extends BackendInput {
  id: string;
  state: 'active' | 'draining';
  healthy: boolean;
  lastRttMs: number | null;
  lastError: string | null;
  lastCheckedAt: Date | null;
  createdAt: Date;
}

export interface BucketRow {
  id: string;
  tenantId: string;
  name: string;
  region: string;
  versioning: Versioning;
  createdAt: Date;
}

export interface BucketBackendRow {
  bucketId: string;
  backendId: string;
  physicalName: string;
}

export interface BlobRow {
  chunkId: string;
  backendId: string;
  physicalBucket: string;
  physicalKey: string;
  state: BlobState;
  updatedAt: Date;
}

/** A blob whose chunk was removed (doomChunk), still to be deleted from its backend. */
export interface DoomedBlob {
  chunkId: string;
  backendId: string;
  physicalBucket: string;
  physicalKey: string;
}

export interface ChunkRow {
  id: string;
  bucketId: string;
  size: number;
  /** Hex MD5 of the chunk's bytes. */
  md5: string;
  /** Hex CRC-32C of the chunk's bytes, for Fedgate's own read checks ('' for chunks older than migration 008). */
  crc32c: string;
  checksums: ChecksumSet;
  createdAt: Date;
  /**
   * Since when no version and no upload part references the chunk (null: referenced). Loaded
   * where chunks are looked up on their own (getChunk, the GC and healer lists); absent in the
   * parts of an object read, which are referenced by definition.
   */
  unreferencedSince?: Date | null;
  blobs: BlobRow[];
}

/** What a writer knows about a chunk once its bytes went through the quorum writer. */
export interface SealedChunk {
  chunkId: string;
  size: number;
  md5: string;
  /** Hex CRC-32C of the bytes (ChunkRow.crc32c). */
  crc32c?: string;
  checksums: ChecksumSet;
  /** Final state per target backend: 'ok' for those that acknowledged, 'writing' for stragglers still running, 'missing' for failed ones. */
  blobStates: { backendId: string; state: BlobState }[];
  /**
   * performance.now() when the chunk's begin was answered. With it, a PutObject commits in one
   * statement that the server refuses when it runs too late (commitObject, migrations/010): the
   * deadline is the chunk's created_at, stamped by the server before that answer, plus the time
   * since, plus half the database timeout, so it never falls later than half the timeout after
   * the commit was sent, however late the begin itself ran. (Timed from before the begin was
   * sent, a begin that waited in the pool or the network pushed the deadline past the moment the
   * gateway gives up on the commit.)
   */
  begunAtMs?: number;
}

export interface VersionPart {
  partNumber: number;
  /** Byte offset of this part inside the object. */
  offset: number;
  size: number;
  /** Unquoted hex MD5 of the part. */
  etag: string;
  checksums: ChecksumSet;
  chunk: ChunkRow;
}

export interface ObjectMeta {
  contentType: string | null;
  /** cache-control, content-disposition, content-encoding, content-language, expires (lower-case names). */
  headers: Record<string, string>;
  /** x-amz-meta-* without the prefix, lower-case names. */
  userMetadata: Record<string, string>;
  storageClass: string;
  /** The object-level checksum S3 reports, if any. */
  checksum: { algorithm: ChecksumAlgorithm; value: string; type: ChecksumType } | null;
}

export interface ObjectVersion extends ObjectMeta {
  /** Internal id (uuid). */
  id: string;
  bucketId: string;
  key: string;
  /** S3 version id; 'null' for writes to an unversioned / suspended bucket. */
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  size: number;
  /** Unquoted: `<md5hex>` or `<md5hex>-<N>` for multipart. */
  etag: string;
  lastModified: Date;
  /** Number of parts when the object was created by multipart upload, else null. */
  multipartParts: number | null;
  parts: VersionPart[];
}

/** What a commit made: the new version without its parts (they are what the caller passed in). */
export type CommittedVersion = Omit<ObjectVersion, 'parts'>;

/** What GetObject / HeadObject need, read together (MetadataStore.readObject). */
export interface ObjectRead {
  bucket: BucketRow;
  /** Latest (or the asked) version, delete markers included; null when there is none. */
  version: ObjectVersion | null;
  /** Number of tags on that version (x-amz-tagging-count). */
  tagCount: number;
}

export interface WriteCondition {
  /** `*` only: the key must not exist (no current, non-delete-marker version). */
  ifNoneMatch?: '*';
  /** Unquoted ETag the current version must have. */
  ifMatch?: string;
  /**
   * Internal id of the version that was latest when the write began (null: none). If the
   * key was deleted since, the write fails with ConditionalRequestConflict (S3's 409).
   */
  seenVersion?: string | null;
}

export interface CommitObjectInput extends ObjectMeta {
  bucketId: string;
  key: string;
  size: number;
  etag: string;
  multipartParts: number | null;
  /** Parts in order; each either a freshly written chunk (sealed) or an existing one (copy). */
  parts: { partNumber: number; size: number; etag: string; checksums: ChecksumSet; chunk: SealedChunk | { existingChunkId: string } }[];
  condition?: WriteCondition;
  /** The new version's tag set, stored in the same transaction. */
  tags?: Tag[];
}

export interface ListObjectsInput {
  prefix?: string;
  delimiter?: string;
  /** Exclusive lower bound (StartAfter / Marker / decoded continuation token). */
  after?: string;
  maxKeys: number;
}

export interface ObjectSummary {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
  storageClass: string;
  checksumAlgorithm: ChecksumAlgorithm | null;
}

/** ListObjectVersions (API_ListObjectVersions.html): markers are exclusive; versionIdMarker needs keyMarker. */
export interface ListVersionsInput {
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  versionIdMarker?: string;
  maxKeys: number;
}

/** One Version or DeleteMarker entry. */
export interface VersionSummary {
  key: string;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  size: number;
  etag: string;
  lastModified: Date;
  storageClass: string;
  checksumAlgorithm: ChecksumAlgorithm | null;
}

export interface ListVersionsResult {
  /** Versions and delete markers in (key ascending, newest first) order. */
  versions: VersionSummary[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** Set when truncated: the last key (or common prefix) returned. */
  nextKeyMarker: string | null;
  /** Set when truncated and the last entry was a version or delete marker. */
  nextVersionIdMarker: string | null;
}

/**
 * Version ids the store hands out: 'null', or 32 lower-case hex digits whose first 12
 * are the creation time in ms (sortable by creation, URL-safe). 22-character base64url
 * ids from before that format stay valid. Anything else is "Invalid version id
 * specified" (InvalidArgument) for S3, not NoSuchVersion.
 */
export function isWellFormedVersionId(id: string): boolean {
  return id === 'null' || /^[0-9a-f]{32}$/.test(id) || /^[A-Za-z0-9_-]{22}$/.test(id);
}

export interface ListObjectsResult {
  contents: ObjectSummary[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned; the next page starts after it. */
  nextAfter: string | null;
}

export interface UploadRow extends ObjectMeta {
  uploadId: string;
  bucketId: string;
  key: string;
  checksumAlgorithm: ChecksumAlgorithm | null;
  checksumType: ChecksumType | null;
  initiated: Date;
}

export interface UploadPartRow {
  partNumber: number;
  size: number;
  etag: string;
  checksums: ChecksumSet;
  lastModified: Date;
  chunk: ChunkRow;
}

export interface ListUploadsInput {
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads: number;
}

export interface ListUploadsResult {
  uploads: UploadRow[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker: string | null;
  nextUploadIdMarker: string | null;
}

export interface CompleteUploadInput {
  bucketId: string;
  uploadId: string;
  /** The client's list, already validated for order; each must match a stored part's ETag. */
  parts: { partNumber: number; etag: string }[];
  etag: string;
  size: number;
  checksum: ObjectMeta['checksum'];
  condition?: WriteCondition;
  /** The new version's tag set, stored in the same transaction. */
  tags?: Tag[];
}

/** Errors the store raises for the gateway to map onto S3 codes. */
export type MetadataErrorCode =
  | 'TenantExists'
  | 'AccessKeyExists'
  | 'BackendExists'
  | 'BackendHoldsSoleCopies'
  | 'BucketAlreadyOwnedByYou'
  | 'BucketNotEmpty'
  | 'NoSuchBucket'
  | 'NoSuchUpload'
  | 'InvalidPart'
  | 'PreconditionFailed'
  | 'ConditionalRequestConflict'
  /** A commit that ran later than the gateway was prepared to wait for it (migrations/010); rolled back. */
  | 'ServiceUnavailable'
  | 'NotFound';

export class MetadataError extends Error {
  readonly code: MetadataErrorCode;
  /** For PreconditionFailed on a write: the request header whose condition did not hold. */
  readonly condition?: 'If-None-Match' | 'If-Match';
  constructor(code: MetadataErrorCode, message?: string, condition?: 'If-None-Match' | 'If-Match') {
    super(message ?? code);
    this.name = 'MetadataError';
    this.code = code;
    if (condition) this.condition = condition;
  }
}

export interface MetadataStore {
  // tenants and keys
  createTenant(name: string): Promise<TenantRow>;
  getTenantByName(name: string): Promise<TenantRow | null>;
  listTenants(): Promise<TenantRow[]>;
  addAccessKey(tenantId: string, accessKeyId: string, secretSealed: string): Promise<AccessKeyRow>;
  getAccessKey(accessKeyId: string): Promise<AccessKeyRow | null>;
  listAccessKeys(tenantId: string): Promise<AccessKeyRow[]>;
  /** Null when the tenant has no such key. */
  setAccessKeyStatus(tenantId: string, accessKeyId: string, status: AccessKeyRow['status']): Promise<AccessKeyRow | null>;
  /** False when the tenant has no such key. */
  deleteAccessKey(tenantId: string, accessKeyId: string): Promise<boolean>;

  // backends
  createBackend(input: BackendInput): Promise<BackendRow>;
  listBackends(): Promise<BackendRow[]>;
  getBackendByName(name: string): Promise<BackendRow | null>;
  recordBackendHealth(backendId: string, health: { healthy: boolean; rttMs: number | null; error: string | null }): Promise<void>;
  /** Throws BackendHoldsSoleCopies if some chunk has its only 'ok' blob there; otherwise removes the backend and its blob / bucket rows. */
  deleteBackend(backendId: string): Promise<void>;

  // buckets
  /** Throws BucketAlreadyOwnedByYou if the tenant already has it. */
  createBucket(input: { tenantId: string; name: string; region: string; physical: { backendId: string; physicalName: string }[] }): Promise<BucketRow>;
  getBucket(tenantId: string, name: string): Promise<BucketRow | null>;
  listBuckets(tenantId: string): Promise<BucketRow[]>;
  getBucketBackends(bucketId: string): Promise<BucketBackendRow[]>;
  /** Idempotent. */
  addBucketBackend(bucketId: string, backendId: string, physicalName: string): Promise<void>;
  /** Enabled or Suspended (a bucket never returns to Unversioned, as in S3). Throws NoSuchBucket. */
  setBucketVersioning(bucketId: string, status: 'Enabled' | 'Suspended'): Promise<void>;
  /** Throws BucketNotEmpty while any object version or multipart upload exists. Returns the physical buckets to remove. */
  deleteBucket(bucketId: string): Promise<BucketBackendRow[]>;

  // the write path: chunks and blobs
  /** Record a chunk about to be written: blob rows in state 'writing', so an interrupted write leaves rows the GC finds. */
  beginChunk(input: { chunkId: string; bucketId: string; blobs: { backendId: string; physicalBucket: string; physicalKey: string }[] }): Promise<void>;
  setBlobState(chunkId: string, backendId: string, state: BlobState): Promise<void>;
  /** Add (or reset) a blob row for a replica being created on another backend. */
  upsertBlob(blob: { chunkId: string; backendId: string; physicalBucket: string; physicalKey: string; state: BlobState }): Promise<void>;
  getChunk(chunkId: string): Promise<ChunkRow | null>;
  /**
   * Remove an unreferenced chunk's rows for good, its blobs going to the doomed list (migrations/011):
   * the blobs to delete, or null when the chunk is referenced (or, with `graceMs`, was referenced
   * or created within that long) and stays. `[]` when it was already gone.
   */
  doomChunk(chunkId: string, graceMs: number | null): Promise<DoomedBlob[] | null>;
  /** Doomed blobs still to be deleted from their backends, least recently tried first. */
  listDoomedBlobs(limit: number): Promise<DoomedBlob[]>;
  /** A doomed blob was deleted from its backend (its row goes), or its delete failed (it goes to the back of the list). */
  settleDoomedBlob(blob: { chunkId: string; backendId: string }, deleted: boolean): Promise<void>;
  /** A writer still streaming renews its uncommitted chunk's grace period; false when the chunk is gone. */
  renewChunk(chunkId: string): Promise<boolean>;
  /** Chunks no version or upload references, created more than `olderThanMs` ago. */
  listGarbageChunks(limit: number, olderThanMs: number): Promise<ChunkRow[]>;

  // objects
  /**
   * The visibility point: seals fresh chunks, checks `condition` against the current
   * version under a row lock (concurrent creators: exactly one wins, the others get
   * PreconditionFailed), inserts the version as latest with its tags, appends to the
   * changelog — one transaction.
   */
  commitObject(input: CommitObjectInput): Promise<CommittedVersion>;
  /**
   * GetObject / HeadObject in one round trip: the tenant's bucket by name, the version (latest
   * or by S3 version id, delete markers included) and its tag count; null when there is no such bucket.
   */
  readObject(tenantId: string, bucketName: string, key: string, versionId?: string): Promise<ObjectRead | null>;
  /** Latest version (or the given one); null if none or if the latest is a delete marker and no versionId was asked. */
  getObject(bucketId: string, key: string, versionId?: string): Promise<ObjectVersion | null>;
  /** Latest version (or the given one) even when it is a delete marker; null if none. */
  getVersion(bucketId: string, key: string, versionId?: string): Promise<ObjectVersion | null>;
  /** The row id of the key's latest version (a delete marker too), or null: what a conditional write saw as it began. One indexed row, no parts. */
  currentVersionId(bucketId: string, key: string): Promise<string | null>;
  /**
   * Without versionId: Unversioned removes the current version (its chunks become
   * garbage); Enabled / Suspended add a delete marker as latest (versionId = its id).
   * With versionId: removes that version for good (deleteMarker = it was one);
   * deleted=false when no such version exists.
   */
  deleteObject(bucketId: string, key: string, versionId?: string): Promise<{ deleted: boolean; versionId: string | null; deleteMarker: boolean }>;
  /** Keyset-paginated, in UTF-8 byte order (COLLATE "C"); cost independent of bucket size. */
  listObjects(bucketId: string, input: ListObjectsInput): Promise<ListObjectsResult>;
  /** Every version and delete marker, (key asc, newest first), keyset-paginated. */
  listObjectVersions(bucketId: string, input: ListVersionsInput): Promise<ListVersionsResult>;

  // multipart
  createUpload(input: Omit<UploadRow, 'initiated'>): Promise<UploadRow>;
  getUpload(bucketId: string, uploadId: string): Promise<UploadRow | null>;
  /** Seals the chunk and makes it part `partNumber` (a previous chunk for that number becomes garbage). Throws NoSuchUpload. */
  putUploadPart(bucketId: string, uploadId: string, partNumber: number, chunk: SealedChunk, etag: string, checksums: ChecksumSet): Promise<UploadPartRow>;
  listUploadParts(bucketId: string, uploadId: string, input: { partNumberMarker: number; maxParts: number }): Promise<{ parts: UploadPartRow[]; isTruncated: boolean; nextPartNumberMarker: number | null }>;
  /** All parts (for Complete's validation), ordered by part number. */
  getUploadParts(bucketId: string, uploadId: string): Promise<UploadPartRow[]>;
  listUploads(bucketId: string, input: ListUploadsInput): Promise<ListUploadsResult>;
  /** Throws NoSuchUpload, InvalidPart, PreconditionFailed. Parts not listed become garbage. */
  completeUpload(input: CompleteUploadInput): Promise<CommittedVersion>;
  /** Throws NoSuchUpload. */
  abortUpload(bucketId: string, uploadId: string): Promise<void>;

  // operators and workers
  /** Chunks referenced by a version or upload with fewer 'ok' blobs than wanted, or any blob 'missing' / 'corrupt'. */
  listUnderReplicatedChunks(limit: number): Promise<ChunkRow[]>;
  /** 'ok' replicas of sealed, referenced chunks with a recorded MD5, verified longest ago (or never) first, on backends not in skipBackends. */
  listBlobsToScrub(limit: number, skipBackends?: string[]): Promise<ScrubCandidate[]>;
  /** Records that a replica was read back and matched its chunk's MD5. */
  markBlobVerified(chunkId: string, backendId: string): Promise<void>;
  /** Replica rows of an object's latest version (admin API). */
  getReplicaStatus(bucketId: string, key: string): Promise<{ partNumber: number; chunkId: string; blobs: BlobRow[] }[] | null>;

  close(): Promise<void>;
}
