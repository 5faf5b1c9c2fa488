// Shared set-up for the metadata integration tests: a fresh database with a tenant,
// three backends and a bucket, plus helpers that write objects the way the data
// plane does (beginChunk, then commit with a sealed chunk).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { createPgMetadataStore, type BackendRow, type BlobState, type BucketRow, type MetadataStore, type ObjectVersion, type SealedChunk, type TenantRow, type WriteCondition } from '../../metadata/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';

export interface Fixture {
  db: TestDatabase;
  pool: pg.Pool;
  store: MetadataStore;
  tenant: TenantRow;
  backends: BackendRow[];
  bucket: BucketRow;
  close(): Promise<void>;
}

export async function setup(): Promise<Fixture> {
  const db = await createTestDatabase();
  const store = createPgMetadataStore(db.pool);
  const tenant = await store.createTenant('acme');
  const backends: BackendRow[] = [];
  for (const [i, region] of ['eu-west', 'eu-central', 'us-east'].entries()) {
    backends.push(
      await store.createBackend({
        name: `b${i + 1}`,
        type: 's3',
        endpoint: `http://127.0.0.1:${9000 + i}`,
        path: null,
        region,
        jurisdiction: region.startsWith('eu') ? 'EU' : 'US',
        country: region.startsWith('eu') ? 'DE' : 'US',
        provider: `p${i + 1}`,
        credentialsSealed: 'sealed-creds',
      }),
    );
  }
  const bucket = await store.createBucket({
    tenantId: tenant.id,
    name: 'photos',
    region: 'eu-west',
    physical: backends.map((b) => ({ backendId: b.id, physicalName: `s3gw-abc-${b.provider}` })),
  });
  return { db, pool: db.pool, store, tenant, backends, bucket, close: () => db.drop() };
}

/** Begin a chunk on the given backends, the way the quorum writer does before streaming. */
export async function beginChunk(store: MetadataStore, bucketId: string, backends: BackendRow[]): Promise<string> {
  const chunkId = randomUUID();
  await store.beginChunk({
    chunkId,
    bucketId,
    blobs: backends.map((b) => ({ backendId: b.id, physicalBucket: `s3gw-abc-${b.provider}`, physicalKey: `k/${chunkId}` })),
  });
  return chunkId;
}

export function sealed(chunkId: string, backends: BackendRow[], size: number, state: BlobState = 'ok'): SealedChunk {
  return {
    chunkId,
    size,
    md5: `md5-${chunkId.slice(0, 8)}`,
    checksums: { CRC32: 'AAAAAA==' },
    blobStates: backends.map((b) => ({ backendId: b.id, state })),
  };
}

export const META = { contentType: 'application/octet-stream', headers: {}, userMetadata: {}, storageClass: 'STANDARD', checksum: null };

/** A single-part PutObject: begin + commit. */
export async function putObject(
  f: Fixture,
  key: string,
  opts: { etag?: string; size?: number; condition?: WriteCondition; bucketId?: string; backends?: BackendRow[]; state?: BlobState } = {},
): Promise<ObjectVersion> {
  const bucketId = opts.bucketId ?? f.bucket.id;
  const backends = opts.backends ?? f.backends;
  const size = opts.size ?? 10;
  const etag = opts.etag ?? `etag-${randomUUID().slice(0, 8)}`;
  const chunkId = await beginChunk(f.store, bucketId, backends);
  const committed = await f.store.commitObject({
    ...META,
    bucketId,
    key,
    size,
    etag,
    multipartParts: null,
    parts: [{ partNumber: 1, size, etag, checksums: {}, chunk: sealed(chunkId, backends, size, opts.state) }],
    condition: opts.condition,
  });
  return (await f.store.getVersion(bucketId, key, committed.versionId))!;
}

export async function garbageIds(store: MetadataStore): Promise<Set<string>> {
  return new Set((await store.listGarbageChunks(10_000, 0)).map((c) => c.id));
}

export async function changelogCount(pool: pg.Pool): Promise<number> {
  const r = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM changelog');
  return r.rows[0].n;
}

/** A version as commitObject / completeUpload describe it: everything but the parts. */
export function withoutParts(v: ObjectVersion): Omit<ObjectVersion, 'parts'> {
  const { parts: _parts, ...rest } = v;
  return rest;
}
