// Driver construction from a backend's registry row, and the pool of live drivers
// keyed by backend id. Credentials arrive already unsealed (shared/vault) and are
// handed straight to the driver; nothing here logs or keeps them.
import type { StorageBackend } from './types.ts';
import { createLocalDiskBackend } from './drivers/local-disk.ts';
import { createS3Backend } from './drivers/s3.ts';

export interface DriverSpec {
  name: string;
  type: 's3' | 'local-disk';
  endpoint?: string | null;
  path?: string | null;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string } | null;
  forcePathStyle?: boolean;
}

export interface DriverOptions {
  /** Silence after which a backend operation fails (see drivers/s3.ts). */
  timeoutMs: number;
}

export function createDriver(spec: DriverSpec, opts: DriverOptions): StorageBackend {
  switch (spec.type) {
    case 'local-disk':
      if (!spec.path) throw new Error(`local-disk backend ${spec.name} needs a path`);
      return createLocalDiskBackend({ name: spec.name, root: spec.path });
    case 's3':
      if (!spec.endpoint) throw new Error(`s3 backend ${spec.name} needs an endpoint`);
      if (!spec.credentials) throw new Error(`s3 backend ${spec.name} needs credentials`);
      return createS3Backend({
        name: spec.name,
        endpoint: spec.endpoint,
        region: spec.region,
        accessKeyId: spec.credentials.accessKeyId,
        secretAccessKey: spec.credentials.secretAccessKey,
        timeoutMs: opts.timeoutMs,
        forcePathStyle: spec.forcePathStyle,
      });
    default:
      throw new Error(`unknown backend type ${JSON.stringify((spec as { type: unknown }).type)}`);
  }
}
