// A backend is a blob store, not the S3 API (docs/ARCHITECTURE.md): S3 semantics
// (listing, versions, multipart, conditions) live in the metadata authority, so a
// driver only stores immutable, opaquely named blobs.
import type { Readable } from 'node:stream';

export interface BlobLocator {
  /** Physical bucket on the backend: `s3gw-<hash>-<provider>`. */
  bucket: string;
  /** Opaque physical key (derived from the chunk id, never from the object key). */
  key: string;
}

/** Inclusive byte range, as in HTTP. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BackendHealth {
  ok: boolean;
  rttMs: number;
  error?: string;
}

export interface StorageBackend {
  readonly name: string;
  /** Create the physical bucket if it does not exist (idempotent). */
  ensureBucket(bucket: string, signal?: AbortSignal): Promise<void>;
  /** Remove an empty physical bucket (idempotent: a missing bucket is fine). */
  deleteBucket(bucket: string, signal?: AbortSignal): Promise<void>;
  /**
   * Store `body` (exactly `size` bytes) under `loc`. Resolves only when the blob is
   * durable on the backend; rejects (and leaves nothing visible under `loc`) on any
   * error, on a short body, or when `signal` aborts.
   */
  put(loc: BlobLocator, body: Readable, size: number, signal?: AbortSignal): Promise<void>;
  /** Stream a blob (or an inclusive range of it). Rejects with a BlobNotFoundError if absent. */
  get(loc: BlobLocator, range?: ByteRange, signal?: AbortSignal): Promise<Readable>;
  /** Size of a blob, or null if it does not exist. */
  head(loc: BlobLocator, signal?: AbortSignal): Promise<{ size: number } | null>;
  /** Delete a blob (idempotent: a missing blob is fine). */
  delete(loc: BlobLocator, signal?: AbortSignal): Promise<void>;
  /** List blobs in a physical bucket (scrub, GC, import). */
  list(bucket: string, prefix?: string, signal?: AbortSignal): AsyncIterable<{ key: string; size: number }>;
  /** Reach the backend and report round-trip time; never throws. */
  health(signal?: AbortSignal): Promise<BackendHealth>;
  close?(): Promise<void>;
}

export class BlobNotFoundError extends Error {
  constructor(loc: BlobLocator, backend: string) {
    super(`blob ${loc.bucket}/${loc.key} not found on backend ${backend}`);
    this.name = 'BlobNotFoundError';
  }
}
