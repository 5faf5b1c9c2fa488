// POST /admin/add-storage, GET /admin/storage, DELETE /admin/storage/:name.
// A backend joins the pool only after a real probe: reach it, create a bucket,
// write, read back and compare, delete (PRODUCT.md §1.3, §4).
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BackendRow } from '../../metadata/types.ts';
import type { StorageBackend } from '../../shared/storage/types.ts';
import { createDriver } from '../../shared/storage/index.ts';
import { backendCredsContext } from '../../shared/runtime/index.ts';
import { MetadataError } from '../../metadata/types.ts';
import type { AdminDeps } from './index.ts';
import { AdminError, str } from './http.ts';

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function publicBackend(row: BackendRow, live?: { healthy: boolean; rttMs: number | null; lastError: string | null }) {
  return {
    name: row.name,
    type: row.type,
    endpoint: row.endpoint,
    path: row.path,
    region: row.region,
    jurisdiction: row.jurisdiction,
    country: row.country,
    provider: row.provider,
    state: row.state,
    healthy: live?.healthy ?? row.healthy,
    rttMs: live?.rttMs ?? row.lastRttMs,
    lastError: live?.lastError ?? row.lastError,
    createdAt: row.createdAt,
  };
}

async function probe(driver: StorageBackend, timeoutMs: number): Promise<void> {
  const bucket = `s3gw-probe-${randomBytes(6).toString('hex')}`;
  const key = `probe-${randomBytes(6).toString('hex')}`;
  const data = randomBytes(4096);
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw new AdminError(422, 'BackendProbeFailed', `${what} failed: ${(e as Error).message}`);
    }
  };
  const signal = () => AbortSignal.timeout(timeoutMs);
  await step('create probe bucket', () => driver.ensureBucket(bucket, signal()));
  try {
    await step('write probe object', () => driver.put({ bucket, key }, Readable.from([data]), data.length, signal()));
    const back = await step('read probe object', async () => {
      const chunks: Buffer[] = [];
      for await (const c of await driver.get({ bucket, key }, undefined, signal())) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    });
    if (!back.equals(data)) throw new AdminError(422, 'BackendProbeFailed', 'read probe object returned different bytes than were written');
    await step('delete probe object', () => driver.delete({ bucket, key }, signal()));
  } finally {
    await driver.delete({ bucket, key }, signal()).catch(() => {});
    await driver.deleteBucket(bucket, signal()).catch(() => {});
  }
}

export async function addStorage(deps: AdminDeps, body: Record<string, unknown>) {
  const name = str(body, 'name', { required: true, pattern: NAME })!;
  const type = str(body, 'type') ?? 's3';
  if (type !== 's3' && type !== 'local-disk') throw new AdminError(400, 'InvalidArgument', '"type" must be "s3" or "local-disk"');
  const region = str(body, 'region', { required: true, max: 64 })!;
  const jurisdiction = str(body, 'jurisdiction', { max: 16 }) ?? 'UNSPECIFIED';
  const country = str(body, 'country', { max: 64 }) ?? '';
  const provider = (str(body, 'provider', { max: 32 }) ?? (type === 'local-disk' ? 'local' : 's3')).toLowerCase();
  let endpoint: string | null = null;
  let path: string | null = null;
  let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  if (type === 's3') {
    endpoint = str(body, 'endpoint', { required: true, max: 2048 })!;
    let u: URL;
    try {
      u = new URL(endpoint);
    } catch {
      throw new AdminError(400, 'InvalidArgument', '"endpoint" must be an http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AdminError(400, 'InvalidArgument', '"endpoint" must be an http(s) URL');
    credentials = {
      accessKeyId: str(body, 'accessKeyId', { required: true, max: 256 })!,
      secretAccessKey: str(body, 'secretAccessKey', { required: true, max: 1024 })!,
    };
  } else {
    path = str(body, 'path', { required: true, max: 4096 })!;
    if (!path.startsWith('/')) throw new AdminError(400, 'InvalidArgument', '"path" must be absolute');
  }
  if (await deps.store.getBackendByName(name)) throw new AdminError(409, 'BackendExists', `a backend named "${name}" already exists`);

  const driver = createDriver({ name, type, endpoint: endpoint ?? undefined, path: path ?? undefined, region, credentials }, { timeoutMs: deps.timeoutMs });
  try {
    await probe(driver, deps.timeoutMs);
  } finally {
    await driver.close?.().catch(() => {});
  }
  let row: BackendRow;
  try {
    row = await deps.store.createBackend({
      name,
      type,
      endpoint,
      path,
      region,
      jurisdiction,
      country,
      provider,
      credentialsSealed: credentials ? deps.vault.seal(JSON.stringify(credentials), backendCredsContext(name)) : null,
    });
  } catch (e) {
    if (e instanceof MetadataError && e.code === 'BackendExists') throw new AdminError(409, 'BackendExists', `a backend named "${name}" already exists`);
    throw e;
  }
  await deps.data.backends.refresh();
  await deps.data.backends.checkHealth(deps.timeoutMs);
  return publicBackend(row, deps.data.backends.get(row.id));
}

export async function listStorage(deps: AdminDeps) {
  const rows = await deps.store.listBackends();
  return { backends: rows.map((r) => publicBackend(r, deps.data.backends.get(r.id))) };
}

export async function removeStorage(deps: AdminDeps, name: string) {
  const row = await deps.store.getBackendByName(name);
  if (!row) throw new AdminError(404, 'NoSuchBackend', `no backend named "${name}"`);
  try {
    await deps.store.deleteBackend(row.id);
  } catch (e) {
    if (e instanceof MetadataError && e.code === 'BackendHoldsSoleCopies') {
      throw new AdminError(409, 'BackendHoldsSoleCopies', `backend "${name}" holds the only copy of some data; drain it first`);
    }
    throw e;
  }
  await deps.data.backends.refresh();
}
