// ACL operations as an S3 bucket with Object Ownership = BucketOwnerEnforced answers them
// (S3's default since April 2023, the only mode Fedgate has), driven by @aws-sdk/client-s3
// with default settings and by the aws cli: reads show the owner's FULL_CONTROL, writes that
// grant only the owner are accepted, any other grant is 400 AccessControlListNotSupported.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand,
  GetBucketAclCommand,
  GetBucketOwnershipControlsCommand,
  GetObjectAclCommand,
  PutBucketAclCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { s3Error } from '../helpers/s3-error.ts';
import { availableAwsClis, runAws } from '../helpers/aws-cli.ts';

let fg: TestFedgate;
let s3: S3Client;
const B = 'acls';
const NOT_SUPPORTED = { name: 'AccessControlListNotSupported', status: 400 };

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'o.txt', Body: 'x' }));
});
after(async () => fg?.stop());

test('GetBucketAcl and GetObjectAcl: the owner alone, with FULL_CONTROL', async () => {
  for (const acl of [await s3.send(new GetBucketAclCommand({ Bucket: B })), await s3.send(new GetObjectAclCommand({ Bucket: B, Key: 'o.txt' }))]) {
    assert.ok(acl.Owner?.ID);
    assert.equal(acl.Grants?.length, 1);
    assert.equal(acl.Grants![0].Permission, 'FULL_CONTROL');
    assert.equal(acl.Grants![0].Grantee?.Type, 'CanonicalUser');
    assert.equal(acl.Grants![0].Grantee?.ID, acl.Owner!.ID);
  }
  assert.deepEqual(await s3Error(s3.send(new GetObjectAclCommand({ Bucket: B, Key: 'absent' }))), { name: 'NoSuchKey', status: 404 });
  assert.deepEqual(await s3Error(s3.send(new GetBucketAclCommand({ Bucket: 'no-such-acl-bucket' }))), { name: 'NoSuchBucket', status: 404 });
});

test('GetBucketOwnershipControls: BucketOwnerEnforced', async () => {
  const r = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket: B }));
  assert.deepEqual(r.OwnershipControls?.Rules, [{ ObjectOwnership: 'BucketOwnerEnforced' }]);
});

test('PutBucketAcl / PutObjectAcl: private, bucket-owner-full-control and an owner-only policy pass; public grants are refused', async () => {
  const { Owner } = await s3.send(new GetBucketAclCommand({ Bucket: B }));
  await s3.send(new PutBucketAclCommand({ Bucket: B, ACL: 'private' }));
  await s3.send(new PutObjectAclCommand({ Bucket: B, Key: 'o.txt', ACL: 'bucket-owner-full-control' }));
  const ownerOnly = { Owner, Grants: [{ Grantee: { Type: 'CanonicalUser' as const, ID: Owner!.ID }, Permission: 'FULL_CONTROL' as const }] };
  await s3.send(new PutObjectAclCommand({ Bucket: B, Key: 'o.txt', AccessControlPolicy: ownerOnly }));
  assert.deepEqual(await s3Error(s3.send(new PutBucketAclCommand({ Bucket: B, ACL: 'public-read' }))), NOT_SUPPORTED);
  assert.deepEqual(await s3Error(s3.send(new PutObjectAclCommand({ Bucket: B, Key: 'o.txt', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' }))), NOT_SUPPORTED);
  const publicRead = { Owner, Grants: [...ownerOnly.Grants, { Grantee: { Type: 'Group' as const, URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' as const }] };
  assert.deepEqual(await s3Error(s3.send(new PutObjectAclCommand({ Bucket: B, Key: 'o.txt', AccessControlPolicy: publicRead }))), NOT_SUPPORTED);
  // Nothing changed: still the owner alone.
  const after = await s3.send(new GetObjectAclCommand({ Bucket: B, Key: 'o.txt' }));
  assert.equal(after.Grants?.length, 1);
});

test('aws cli s3api get-bucket-acl / put-object-acl see the same', async (t) => {
  const clis = availableAwsClis();
  if (clis.length === 0) {
    if (process.env.CI === 'true') assert.fail('aws cli is not installed');
    t.skip('aws cli is not installed');
    return;
  }
  for (const cli of clis) {
    const get = await runAws(cli, ['--endpoint-url', fg.endpoint, 's3api', 'get-bucket-acl', '--bucket', B], fg.awsEnv());
    assert.equal(get.code, 0, get.stderr);
    assert.equal(JSON.parse(get.stdout).Grants[0].Permission, 'FULL_CONTROL');
    const put = await runAws(cli, ['--endpoint-url', fg.endpoint, 's3api', 'put-object-acl', '--bucket', B, '--key', 'o.txt', '--acl', 'public-read'], fg.awsEnv());
    assert.notEqual(put.code, 0);
    assert.match(put.stderr, /AccessControlListNotSupported/);
  }
});
