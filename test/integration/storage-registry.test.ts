// Building drivers from backend specs, and the pool that owns them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createDriver } from '../../shared/storage/index.ts';
import { startS3rver, type S3ServerHandle } from '../helpers/s3-servers.ts';

describe('createDriver', () => {
  let root: string;
  let srv: S3ServerHandle;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'fedgate-registry-'));
    srv = await startS3rver();
  });
  after(async () => {
    await srv?.stop();
    await rm(root, { recursive: true, force: true });
  });

  for (const kind of ['local-disk', 's3'] as const) {
    test(`a ${kind} spec gives a working driver named after the backend`, async () => {
      const d =
        kind === 'local-disk'
          ? createDriver({ name: 'disk-1', type: 'local-disk', path: root, region: 'local' }, { timeoutMs: 2000 })
          : createDriver(
              { name: 's3-1', type: 's3', endpoint: srv.endpoint, region: srv.region, credentials: { accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey } },
              { timeoutMs: 2000 },
            );
      try {
        assert.equal(d.name, kind === 'local-disk' ? 'disk-1' : 's3-1');
        await d.ensureBucket('s3gw-registry');
        await d.put({ bucket: 's3gw-registry', key: 'k' }, Readable.from([Buffer.from('hello')]), 5);
        assert.equal((await buffer(await d.get({ bucket: 's3gw-registry', key: 'k' }))).toString(), 'hello');
      } finally {
        await d.close?.();
      }
    });
  }

  test('refuses incomplete specs with the missing field named', () => {
    assert.throws(() => createDriver({ name: 'x', type: 'local-disk', region: 'r' }, { timeoutMs: 1000 }), /needs a path/);
    assert.throws(() => createDriver({ name: 'x', type: 's3', region: 'r', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }, { timeoutMs: 1000 }), /needs an endpoint/);
    assert.throws(() => createDriver({ name: 'x', type: 's3', endpoint: 'http://127.0.0.1:1', region: 'r' }, { timeoutMs: 1000 }), /needs credentials/);
    assert.throws(() => createDriver({ name: 'x', type: 'ftp' as 's3', region: 'r' }, { timeoutMs: 1000 }), /unknown backend type "ftp"/);
  });
});
