// Everything a handler may use, built once by the composition root (gateway/main.ts)
// and passed in. Handlers never reach for globals.
import type { Logger } from '../shared/observability/logger.ts';
import type { MetadataStore } from '../metadata/types.ts';
import type { Vault } from '../shared/vault/index.ts';
import type { DataPlane } from '../shared/dataplane/index.ts';
import type { AuditLog } from '../shared/audit/index.ts';
import type { TaggingCorsStore } from '../metadata/tagging-cors.ts';

export interface GatewayOptions {
  /** Base domain for virtual-hosted-style addressing. */
  domain?: string;
  region: string;
  /** Largest single PUT (S3: 5 GiB). */
  maxPutSize: number;
  /** Where browser POST uploads spool the file part before it is stored (default: the OS temp dir). */
  spoolDir?: string;
}

export interface GatewayContext {
  store: MetadataStore;
  /** Object/bucket tag sets and bucket CORS rules. */
  tagsCors: TaggingCorsStore;
  vault: Vault;
  data: DataPlane;
  audit: AuditLog;
  log: Logger;
  options: GatewayOptions;
  /** Resolves an access key to its secret (cached, vault-opened) and tenant. */
  resolveKey(accessKeyId: string): Promise<{ secret: string; tenantId: string; tenantName: string } | null>;
  /** Metrics hook: one call per finished request. */
  observe?(op: string, status: number, seconds: number): void;
}
