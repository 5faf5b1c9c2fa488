// First-start defaults (issue #2, `fedgate serve` with no configuration): the admin
// token, the first tenant and its key, and three local-disk backends in two regions.
// Generated secrets are printed once, on the start that creates them, and never again.
import path from 'node:path';
import fs from 'node:fs/promises';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Runtime } from './index.ts';
import { MetadataError } from '../../metadata/types.ts';

export interface Bootstrap {
  /** Constant-time check of an admin bearer token. */
  checkAdminToken(token: string): boolean;
  /** Lines to print once (generated credentials), empty on later starts. */
  announcements: string[];
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** AWS-shaped key pair: 20-character id, 40-character secret. */
export function generateKeyPair(): { accessKeyId: string; secretAccessKey: string } {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const id = 'FG' + [...randomBytes(18)].map((b) => alphabet[b & 31]).join('');
  return { accessKeyId: id, secretAccessKey: randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B') };
}

export const accessKeyContext = (accessKeyId: string) => `access-key:${accessKeyId}`;

export async function addTenantKey(rt: Runtime, tenantId: string, pair: { accessKeyId: string; secretAccessKey: string }): Promise<void> {
  await rt.store.addAccessKey(tenantId, pair.accessKeyId, rt.vault.seal(pair.secretAccessKey, accessKeyContext(pair.accessKeyId)));
}

export const DEFAULT_LOCAL_BACKENDS = [
  { name: 'local-eu-1', region: 'eu-1', jurisdiction: 'EU', country: 'DE' },
  { name: 'local-eu-2', region: 'eu-2', jurisdiction: 'EU', country: 'FR' },
  { name: 'local-us-1', region: 'us-1', jurisdiction: 'US', country: 'US' },
];

export async function bootstrap(rt: Runtime): Promise<Bootstrap> {
  const { config, settings, store } = rt;
  const announcements: string[] = [];

  let tokenHash: Buffer;
  if (config.adminToken) {
    tokenHash = sha256(config.adminToken);
  } else {
    const fresh = 'fga_' + randomBytes(24).toString('base64url');
    const stored = await settings.putIfAbsent('admin_token_sha256', sha256(fresh).toString('hex'));
    tokenHash = Buffer.from(stored, 'hex');
    if (stored === sha256(fresh).toString('hex')) announcements.push(`Admin API token (shown once): ${fresh}`);
  }

  let root = await store.getTenantByName('root');
  if (!root) {
    try {
      root = await store.createTenant('root');
    } catch (e) {
      if (!(e instanceof MetadataError && e.code === 'TenantExists')) throw e;
      root = (await store.getTenantByName('root'))!;
    }
  }
  if (config.rootAccessKey && config.rootSecretKey) {
    const existing = await store.getAccessKey(config.rootAccessKey);
    if (!existing) await addTenantKey(rt, root.id, { accessKeyId: config.rootAccessKey, secretAccessKey: config.rootSecretKey });
  } else if ((await store.listAccessKeys(root.id)).length === 0) {
    const pair = generateKeyPair();
    await addTenantKey(rt, root.id, pair);
    announcements.push(`Root tenant access key (shown once): AWS_ACCESS_KEY_ID=${pair.accessKeyId} AWS_SECRET_ACCESS_KEY=${pair.secretAccessKey}`);
  }

  if (config.defaultBackends === 'local' && (await settings.get('default_backends_created')) === null) {
    const existing = new Set((await store.listBackends()).map((b) => b.name));
    for (const b of DEFAULT_LOCAL_BACKENDS) {
      if (existing.has(b.name)) continue;
      const dir = path.join(config.dataDir, 'backends', b.name);
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await store.createBackend({ ...b, type: 'local-disk', endpoint: null, path: dir, provider: 'local', credentialsSealed: null });
    }
    await settings.putIfAbsent('default_backends_created', new Date().toISOString());
    await rt.data.backends.refresh();
    await rt.data.backends.checkHealth(3000);
  }

  return {
    checkAdminToken(token: string) {
      return timingSafeEqual(sha256(token), tokenHash);
    },
    announcements,
  };
}
