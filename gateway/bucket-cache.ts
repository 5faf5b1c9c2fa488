// Bucket rows cached per gateway instance (PRODUCT.md §2, "Cache"). Every S3 request names a
// bucket, and reading its row was one PostgreSQL round trip per request.
//
// A bucket deleted, or whose versioning changed, through any instance is dropped here at once
// (BUCKET_TOPIC on the invalidation bus, through Redis between instances); the TTL only matters
// for an instance that Redis could not reach, as for access keys. A missing bucket is never
// cached, so a bucket created through any instance is visible at once.
//
// A stale entry cannot make a write land in a deleted bucket: the commit re-reads the bucket row
// under a share lock and answers NoSuchBucket (fedgate_commit_version), and takes the versioning
// state from that row, not from this cache.
import type { BucketRow, MetadataStore } from '../metadata/types.ts';
import { BUCKET_TOPIC, type InvalidationBus } from '../shared/cache/invalidation.ts';

/** Far more buckets than one instance serves at once; when full the cache starts over. */
const MAX_ENTRIES = 10_000;

export function cachingBucketStore(store: MetadataStore, bus: InvalidationBus, ttlMs = 10_000): MetadataStore {
  const cache = new Map<string, { at: number; row: BucketRow }>();
  // A read that an invalidation overtook must not cache what it read before the change.
  let generation = 0;
  bus.subscribe(BUCKET_TOPIC, (bucketId) => {
    generation++;
    if (bucketId === null) cache.clear();
    else for (const [k, e] of cache) if (e.row.id === bucketId) cache.delete(k);
  });
  return {
    ...store,
    async getBucket(tenantId, name) {
      // NUL occurs in neither a tenant id nor a bucket name.
      const k = `${tenantId}\0${name}`;
      const hit = cache.get(k);
      if (hit && Date.now() - hit.at < ttlMs) return hit.row;
      const before = generation;
      const row = await store.getBucket(tenantId, name);
      if (row === null) {
        cache.delete(k);
      } else if (generation === before) {
        if (cache.size >= MAX_ENTRIES) cache.clear();
        // Shared by every request that reads it until it expires: frozen, so none can change it.
        cache.set(k, { at: Date.now(), row: Object.freeze(row) });
      }
      return row;
    },
    async setBucketVersioning(bucketId, status) {
      try {
        await store.setBucketVersioning(bucketId, status);
      } finally {
        await bus.publish(BUCKET_TOPIC, bucketId);
      }
    },
    async deleteBucket(bucketId) {
      try {
        return await store.deleteBucket(bucketId);
      } finally {
        await bus.publish(BUCKET_TOPIC, bucketId);
      }
    },
  };
}
