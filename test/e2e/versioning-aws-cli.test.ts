// Versioning through the real aws cli (v1 on PATH and v2 at /usr/bin/aws when present):
// put-bucket-versioning, list-object-versions, get-object --version-id, delete-object
// with and without --version-id.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { availableAwsClis, runAws } from '../helpers/aws-cli.ts';

const clis = availableAwsClis();
let fg: TestFedgate;
let dir: string;

before(async () => {
  fg = await startTestFedgate();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fedgate-versioning-cli-'));
});
after(async () => {
  await fg?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

// The cli is slow to start (seconds per call on a busy machine): objects are written
// through the SDK, the cli does the versioning calls, and the two clis run side by side.
describe('aws cli s3api versioning', { concurrency: true }, () => {
  for (const [i, cli] of clis.entries()) {
    test(`${cli.label}: put-bucket-versioning, get-object --version-id, delete-object with and without --version-id, list-object-versions`, async () => {
      const ok = async (args: string[]) => {
        const r = await runAws(cli, ['--endpoint-url', fg.endpoint, '--output', 'json', ...args], fg.awsEnv(), 60_000);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.trim() ? JSON.parse(r.stdout) : {};
      };
      const s3 = fg.client();
      const bucket = `cli-versions-${i}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await ok(['s3api', 'put-bucket-versioning', '--bucket', bucket, '--versioning-configuration', 'Status=Enabled']);
      const v1 = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'notes.txt', Body: 'first version' }))).VersionId!;
      const v2 = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'notes.txt', Body: 'second version' }))).VersionId!;
      assert.match(v1, /^[0-9a-f]{32}$/);
      assert.notEqual(v1, v2);

      const out = path.join(dir, `out-${i}.txt`);
      const got = await ok(['s3api', 'get-object', '--bucket', bucket, '--key', 'notes.txt', '--version-id', v1, out]);
      assert.equal(got.VersionId, v1);
      assert.equal(await fs.readFile(out, 'utf8'), 'first version');

      const dm = await ok(['s3api', 'delete-object', '--bucket', bucket, '--key', 'notes.txt']);
      assert.equal(dm.DeleteMarker, true);
      assert.match(dm.VersionId, /^[0-9a-f]{32}$/);
      const listed = await ok(['s3api', 'list-object-versions', '--bucket', bucket]);
      assert.deepEqual(
        listed.Versions.map((v: { VersionId: string; IsLatest: boolean }) => [v.VersionId, v.IsLatest]),
        [
          [v2, false],
          [v1, false],
        ],
      );
      assert.deepEqual(
        listed.DeleteMarkers.map((d: { VersionId: string; IsLatest: boolean }) => [d.VersionId, d.IsLatest]),
        [[dm.VersionId, true]],
      );

      const undo = await ok(['s3api', 'delete-object', '--bucket', bucket, '--key', 'notes.txt', '--version-id', dm.VersionId]);
      assert.deepEqual([undo.DeleteMarker, undo.VersionId], [true, dm.VersionId]);
      const latest = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'notes.txt' }));
      assert.equal(await latest.Body!.transformToString(), 'second version');
      assert.equal(latest.VersionId, v2);
    });
  }
});
