// The PostgreSQL MetadataStore: the contract of metadata/types.ts, assembled from
// one repository module per entity. Every mutating method runs in one transaction
// that also appends to the changelog.
import type pg from 'pg';
import { MetadataError, type MetadataStore } from './types.ts';
import * as backends from './repositories/backends.ts';
import * as buckets from './repositories/buckets.ts';
import * as chunks from './repositories/chunks.ts';
import { listObjects } from './repositories/listing.ts';
import * as objects from './repositories/objects.ts';
import * as tenants from './repositories/tenants.ts';
import { listUploads } from './repositories/upload-listing.ts';
import { listObjectVersions } from './repositories/version-listing.ts';
import * as uploads from './repositories/uploads.ts';
import { currentVersion } from './repositories/versions.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Ids of tenants, buckets and backends are uuids. One that is not cannot name a row:
 * answer "not found" instead of letting PostgreSQL fail on the cast (22P02).
 */
const isId = (id: string) => typeof id === 'string' && UUID.test(id);

export interface PgMetadataStoreOptions {
  /**
   * How much longer than the time since its chunk was begun a PutObject's commit may still run:
   * a commit that reaches the server later is rolled back (objects.commitObject, migrations/010).
   * Half the pool's query timeout; unset: no such deadline (the commit then goes between BEGIN and COMMIT).
   */
  lateCommitAfterMs?: number;
}

export function createPgMetadataStore(pool: pg.Pool, opts: PgMetadataStoreOptions = {}): MetadataStore {
  let closed = false;
  const noBucket = (bucketId: string) => new MetadataError('NoSuchBucket', `bucket ${bucketId} does not exist`);
  const noBackend = (backendId: string) => new MetadataError('NotFound', `backend ${backendId} does not exist`);
  return {
    createTenant: (name) => tenants.createTenant(pool, name),
    getTenantByName: (name) => tenants.getTenantByName(pool, name),
    listTenants: () => tenants.listTenants(pool),
    addAccessKey: async (tenantId, accessKeyId, secretSealed) => {
      if (!isId(tenantId)) throw new MetadataError('NotFound', `tenant ${tenantId} does not exist`);
      return tenants.addAccessKey(pool, tenantId, accessKeyId, secretSealed);
    },
    getAccessKey: (accessKeyId) => tenants.getAccessKey(pool, accessKeyId),
    listAccessKeys: async (tenantId) => (isId(tenantId) ? tenants.listAccessKeys(pool, tenantId) : []),
    setAccessKeyStatus: async (tenantId, accessKeyId, status) => (isId(tenantId) ? tenants.setAccessKeyStatus(pool, tenantId, accessKeyId, status) : null),
    deleteAccessKey: async (tenantId, accessKeyId) => (isId(tenantId) ? tenants.deleteAccessKey(pool, tenantId, accessKeyId) : false),

    createBackend: (input) => backends.createBackend(pool, input),
    listBackends: () => backends.listBackends(pool),
    getBackendByName: (name) => backends.getBackendByName(pool, name),
    recordBackendHealth: async (backendId, health) => {
      if (!isId(backendId)) throw noBackend(backendId);
      return backends.recordBackendHealth(pool, backendId, health);
    },
    deleteBackend: async (backendId) => {
      if (!isId(backendId)) throw noBackend(backendId);
      return backends.deleteBackend(pool, backendId);
    },

    createBucket: async (input) => {
      if (!isId(input.tenantId)) throw new MetadataError('NotFound', `tenant ${input.tenantId} does not exist`);
      return buckets.createBucket(pool, input);
    },
    getBucket: async (tenantId, name) => (isId(tenantId) ? buckets.getBucket(pool, tenantId, name) : null),
    listBuckets: async (tenantId) => (isId(tenantId) ? buckets.listBuckets(pool, tenantId) : []),
    getBucketBackends: async (bucketId) => (isId(bucketId) ? buckets.getBucketBackends(pool, bucketId) : []),
    addBucketBackend: async (bucketId, backendId, physicalName) => {
      if (!isId(bucketId)) throw noBucket(bucketId);
      if (!isId(backendId)) throw noBackend(backendId);
      return buckets.addBucketBackend(pool, bucketId, backendId, physicalName);
    },
    setBucketVersioning: async (bucketId, status) => {
      if (!isId(bucketId)) throw noBucket(bucketId);
      return buckets.setBucketVersioning(pool, bucketId, status);
    },
    deleteBucket: async (bucketId) => {
      if (!isId(bucketId)) throw noBucket(bucketId);
      return buckets.deleteBucket(pool, bucketId);
    },

    beginChunk: async (input) => {
      if (!isId(input.bucketId)) throw noBucket(input.bucketId);
      const bad = input.blobs.find((b) => !isId(b.backendId));
      if (bad) throw noBackend(bad.backendId);
      return chunks.beginChunk(pool, input);
    },
    setBlobState: async (chunkId, backendId, state) => {
      if (!isId(backendId)) throw noBackend(backendId);
      return chunks.setBlobState(pool, chunkId, backendId, state);
    },
    upsertBlob: async (blob) => {
      if (!isId(blob.backendId)) throw noBackend(blob.backendId);
      return chunks.upsertBlob(pool, blob);
    },
    getChunk: (chunkId) => chunks.getChunk(pool, chunkId),
    doomChunk: (chunkId, graceMs) => chunks.doomChunk(pool, chunkId, graceMs),
    listDoomedBlobs: (limit) => chunks.listDoomedBlobs(pool, limit),
    settleDoomedBlob: (blob, deleted) => chunks.settleDoomedBlob(pool, blob, deleted),
    renewChunk: (chunkId) => chunks.renewChunk(pool, chunkId),
    listGarbageChunks: (limit, olderThanMs) => chunks.listGarbageChunks(pool, limit, olderThanMs),

    commitObject: async (input) => {
      if (!isId(input.bucketId)) throw noBucket(input.bucketId);
      for (const p of input.parts) {
        if ('chunkId' in p.chunk) {
          const bad = p.chunk.blobStates.find((b) => !isId(b.backendId));
          if (bad) throw noBackend(bad.backendId);
        }
      }
      return objects.commitObject(pool, input, opts.lateCommitAfterMs);
    },
    readObject: async (tenantId, bucketName, key, versionId) => (isId(tenantId) ? objects.readObject(pool, tenantId, bucketName, key, versionId) : null),
    getObject: async (bucketId, key, versionId) => (isId(bucketId) ? objects.getObject(pool, bucketId, key, versionId) : null),
    getVersion: async (bucketId, key, versionId) => (isId(bucketId) ? objects.getVersion(pool, bucketId, key, versionId) : null),
    currentVersionId: async (bucketId, key) => (isId(bucketId) ? ((await currentVersion(pool, bucketId, key))?.id ?? null) : null),
    deleteObject: async (bucketId, key, versionId) => {
      if (!isId(bucketId)) throw noBucket(bucketId);
      return objects.deleteObject(pool, bucketId, key, versionId);
    },
    listObjects: async (bucketId, input) =>
      isId(bucketId) ? listObjects(pool, bucketId, input) : { contents: [], commonPrefixes: [], isTruncated: false, nextAfter: null },
    listObjectVersions: async (bucketId, input) =>
      isId(bucketId)
        ? listObjectVersions(pool, bucketId, input)
        : { versions: [], commonPrefixes: [], isTruncated: false, nextKeyMarker: null, nextVersionIdMarker: null },

    createUpload: async (input) => {
      if (!isId(input.bucketId)) throw noBucket(input.bucketId);
      return uploads.createUpload(pool, input);
    },
    getUpload: async (bucketId, uploadId) => (isId(bucketId) ? uploads.getUpload(pool, bucketId, uploadId) : null),
    putUploadPart: async (bucketId, uploadId, partNumber, chunk, etag, checksums) => {
      if (!isId(bucketId)) throw new MetadataError('NoSuchUpload', `upload ${uploadId} does not exist`);
      const bad = chunk.blobStates.find((b) => !isId(b.backendId));
      if (bad) throw noBackend(bad.backendId);
      return uploads.putUploadPart(pool, bucketId, uploadId, partNumber, chunk, etag, checksums);
    },
    listUploadParts: async (bucketId, uploadId, input) => {
      if (!isId(bucketId)) throw new MetadataError('NoSuchUpload', `upload ${uploadId} does not exist`);
      return uploads.listUploadParts(pool, bucketId, uploadId, input);
    },
    getUploadParts: async (bucketId, uploadId) => {
      if (!isId(bucketId)) throw new MetadataError('NoSuchUpload', `upload ${uploadId} does not exist`);
      return uploads.getUploadParts(pool, bucketId, uploadId);
    },
    listUploads: async (bucketId, input) =>
      isId(bucketId) ? listUploads(pool, bucketId, input) : { uploads: [], commonPrefixes: [], isTruncated: false, nextKeyMarker: null, nextUploadIdMarker: null },
    completeUpload: async (input) => {
      if (!isId(input.bucketId)) throw new MetadataError('NoSuchUpload', `upload ${input.uploadId} does not exist`);
      return uploads.completeUpload(pool, input);
    },
    abortUpload: async (bucketId, uploadId) => {
      if (!isId(bucketId)) throw new MetadataError('NoSuchUpload', `upload ${uploadId} does not exist`);
      return uploads.abortUpload(pool, bucketId, uploadId);
    },

    listUnderReplicatedChunks: (limit) => chunks.listUnderReplicatedChunks(pool, limit),
    listBlobsToScrub: (limit, skipBackends) => chunks.listBlobsToScrub(pool, limit, skipBackends),
    markBlobVerified: (chunkId, backendId) => chunks.markBlobVerified(pool, chunkId, backendId),
    getReplicaStatus: async (bucketId, key) => (isId(bucketId) ? objects.getReplicaStatus(pool, bucketId, key) : null),

    /** Ends the pool this store was built on (once; later calls are no-ops). */
    async close() {
      if (closed || (pool as pg.Pool & { ended?: boolean }).ended) return;
      closed = true;
      await pool.end();
    },
  };
}
