// The admin listener: /health, /ready and /metrics without auth; everything under
// /admin/ behind the bearer token (PRODUCT.md §4, §8).
import type http from 'node:http';
import type pg from 'pg';
import type { MetadataStore } from '../../metadata/types.ts';
import type { DataPlane } from '../../shared/dataplane/index.ts';
import type { Vault } from '../../shared/vault/index.ts';
import type { Logger } from '../../shared/observability/logger.ts';
import type { AuditLog } from '../../shared/audit/index.ts';
import { MetadataError } from '../../metadata/types.ts';
import { isDatabaseUnreachable } from '../../metadata/db.ts';
import { AdminError, readJson, sendJson, str } from './http.ts';
import { addStorage, listStorage, removeStorage } from './storage.ts';

export interface AdminDeps {
  store: MetadataStore;
  data: DataPlane;
  vault: Vault;
  pool: pg.Pool;
  audit: AuditLog;
  log: Logger;
  timeoutMs: number;
  checkAdminToken(token: string): boolean;
  /** Create a tenant key pair (generated when not given); returns the pair. */
  addTenantKey(tenantId: string, pair?: { accessKeyId: string; secretAccessKey: string }): Promise<{ accessKeyId: string; secretAccessKey: string }>;
  /** An access key was disabled, enabled or deleted: every instance must drop its cached copy. */
  keyChanged(accessKeyId: string): Promise<void>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Routes of other applications (e.g. the AI proxy's /admin/ai/*), tried after the bearer check; true = handled. */
  extraRoutes?: Array<(req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>>;
}

const TENANT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const ACCESS_KEY = /^[A-Za-z0-9]{16,128}$/;

async function ready(deps: AdminDeps): Promise<{ ok: boolean; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  let ok = true;
  try {
    await deps.pool.query('SELECT 1');
    checks.postgres = 'ok';
  } catch (e) {
    ok = false;
    checks.postgres = `unreachable: ${(e as Error).message}`;
  }
  const active = deps.data.backends.all().filter((b) => b.row.state === 'active');
  const healthy = active.filter((b) => b.healthy).length;
  // StandardClass needs 3 placement targets with 2 reachable for a write quorum.
  if (active.length >= 3 && healthy >= 2) checks.quorum = `ok (${healthy} of ${active.length} backends healthy)`;
  else {
    ok = false;
    checks.quorum = `not possible (${healthy} healthy of ${active.length} active backends; StandardClass needs 3 backends, 2 reachable)`;
  }
  return { ok, checks };
}

async function route(deps: AdminDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const p = url.pathname.replace(/\/+$/, '') || '/';
  const m = req.method ?? 'GET';
  if (p === '/health' && m === 'GET') return sendJson(res, 200, { status: 'ok' });
  if (p === '/ready' && m === 'GET') {
    const r = await ready(deps);
    return sendJson(res, r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'not ready', checks: r.checks });
  }
  if (p === '/metrics' && m === 'GET') {
    const r = await deps.metrics();
    res.writeHead(200, { 'content-type': r.contentType });
    res.end(r.body);
    return;
  }
  if (!p.startsWith('/admin/')) throw new AdminError(404, 'NotFound', `no route ${m} ${p}`);
  const auth = req.headers.authorization ?? '';
  const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
  if (!token || !deps.checkAdminToken(token)) throw new AdminError(401, 'Unauthorized', 'a valid admin bearer token is required');
  for (const extra of deps.extraRoutes ?? []) if (await extra(req, res, url)) return;

  if (p === '/admin/add-storage' && m === 'POST') return sendJson(res, 201, await addStorage(deps, await readJson(req)));
  if (p === '/admin/storage' && m === 'GET') return sendJson(res, 200, await listStorage(deps));
  let mm = /^\/admin\/storage\/([^/]+)$/.exec(p);
  if (mm && m === 'DELETE') {
    await removeStorage(deps, decodeURIComponent(mm[1]));
    res.writeHead(204).end();
    return;
  }
  if (p === '/admin/tenants' && m === 'POST') {
    const body = await readJson(req);
    const name = str(body, 'name', { required: true, pattern: TENANT_NAME })!;
    const accessKeyId = str(body, 'accessKeyId', { pattern: ACCESS_KEY });
    const secretAccessKey = str(body, 'secretAccessKey', { max: 128 });
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) throw new AdminError(400, 'InvalidArgument', 'give both "accessKeyId" and "secretAccessKey", or neither');
    if (secretAccessKey !== undefined && secretAccessKey.length < 16) throw new AdminError(400, 'InvalidArgument', '"secretAccessKey" must be at least 16 characters');
    if (accessKeyId && (await deps.store.getAccessKey(accessKeyId))) throw new AdminError(409, 'AccessKeyExists', 'that access key id is taken');
    let tenant;
    try {
      tenant = await deps.store.createTenant(name);
    } catch (e) {
      if (e instanceof MetadataError && e.code === 'TenantExists') throw new AdminError(409, 'TenantExists', `tenant "${name}" exists`);
      throw e;
    }
    const pair = await deps.addTenantKey(tenant.id, accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined);
    return sendJson(res, 201, { name: tenant.name, ...pair });
  }
  if (p === '/admin/tenants' && m === 'GET') {
    const tenants = await deps.store.listTenants();
    const out = [];
    for (const t of tenants) out.push({ name: t.name, createdAt: t.createdAt, accessKeys: (await deps.store.listAccessKeys(t.id)).map((k) => ({ accessKeyId: k.accessKeyId, status: k.status, createdAt: k.createdAt })) });
    return sendJson(res, 200, { tenants: out });
  }
  mm = /^\/admin\/tenants\/([^/]+)\/keys$/.exec(p);
  if (mm && m === 'POST') {
    const tenant = await deps.store.getTenantByName(decodeURIComponent(mm[1]));
    if (!tenant) throw new AdminError(404, 'NoSuchTenant', 'no such tenant');
    const pair = await deps.addTenantKey(tenant.id);
    return sendJson(res, 201, { name: tenant.name, ...pair });
  }
  mm = /^\/admin\/tenants\/([^/]+)\/keys\/([^/]+)$/.exec(p);
  if (mm && (m === 'PATCH' || m === 'DELETE')) {
    const tenant = await deps.store.getTenantByName(decodeURIComponent(mm[1]));
    if (!tenant) throw new AdminError(404, 'NoSuchTenant', 'no such tenant');
    const accessKeyId = decodeURIComponent(mm[2]);
    const noKey = () => new AdminError(404, 'NoSuchAccessKey', `tenant ${tenant.name} has no access key ${accessKeyId}`);
    if (m === 'DELETE') {
      if (!(await deps.store.deleteAccessKey(tenant.id, accessKeyId))) throw noKey();
      await deps.keyChanged(accessKeyId);
      res.writeHead(204).end();
      return;
    }
    const status = str(await readJson(req), 'status', { required: true });
    if (status !== 'active' && status !== 'inactive') throw new AdminError(400, 'InvalidArgument', '"status" must be "active" or "inactive"');
    const row = await deps.store.setAccessKeyStatus(tenant.id, accessKeyId, status);
    if (!row) throw noKey();
    await deps.keyChanged(accessKeyId);
    return sendJson(res, 200, { name: tenant.name, accessKeyId: row.accessKeyId, status: row.status, createdAt: row.createdAt });
  }
  if (p === '/admin/audit/verify' && m === 'GET') {
    // Walk the hash chain (PRODUCT.md §5.3): pending entries are appended first so they are covered.
    await deps.audit.flush();
    const fromId = Number(url.searchParams.get('fromId') ?? '') || undefined;
    const limit = Number(url.searchParams.get('limit') ?? '') || undefined;
    const r = await deps.audit.verify({ fromId, limit });
    return sendJson(res, r.ok ? 200 : 409, r);
  }
  if (p === '/admin/replicas' && m === 'GET') {
    const tenantName = url.searchParams.get('tenant') ?? 'root';
    const bucketName = url.searchParams.get('bucket') ?? '';
    const key = url.searchParams.get('key') ?? '';
    const tenant = await deps.store.getTenantByName(tenantName);
    const bucket = tenant ? await deps.store.getBucket(tenant.id, bucketName) : null;
    if (!bucket) throw new AdminError(404, 'NoSuchBucket', 'no such bucket');
    const parts = await deps.store.getReplicaStatus(bucket.id, key);
    if (!parts) throw new AdminError(404, 'NoSuchKey', 'no such object');
    const names = new Map(deps.data.backends.all().map((b) => [b.row.id, b.row.name]));
    return sendJson(res, 200, {
      bucket: bucketName,
      key,
      parts: parts.map((pt) => ({ partNumber: pt.partNumber, chunkId: pt.chunkId, replicas: pt.blobs.map((b) => ({ backend: names.get(b.backendId) ?? b.backendId, state: b.state, physicalBucket: b.physicalBucket, physicalKey: b.physicalKey, updatedAt: b.updatedAt })) })),
    });
  }
  throw new AdminError(404, 'NotFound', `no route ${m} ${p}`);
}

export function createAdminRequestListener(deps: AdminDeps): http.RequestListener {
  return (req, res) => {
    // Every admin change is audited with its outcome; reads are not.
    if (req.method !== 'GET') {
      res.on('finish', () => deps.audit.record({ plane: 'admin', actor: 'admin-token', action: `${req.method} ${new URL(req.url ?? '/', 'http://a').pathname}`, resource: 'admin', result: String(res.statusCode) }));
    }
    route(deps, req, res).catch((e) => {
      if (e instanceof AdminError) return sendJson(res, e.status, { error: e.code, message: e.message });
      if (isDatabaseUnreachable(e)) {
        deps.log.warn({ err: (e as Error).message }, 'admin API: metadata database unreachable');
        return sendJson(res, 503, { error: 'ServiceUnavailable', message: 'the metadata database is unreachable; retry later' });
      }
      deps.log.error({ err: e }, 'admin API error');
      sendJson(res, 500, { error: 'InternalError', message: 'internal error; see the server log' });
    });
  };
}
