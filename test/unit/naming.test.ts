// Namespace hashing: physical bucket names are stable, valid S3 bucket names that
// reveal neither the tenant nor the logical bucket, and physical keys are opaque ids.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { physicalBucketName, physicalKey, sanitizeProvider } from '../../shared/placement/index.ts';

const SECRET = Buffer.from('fedgate-test-secret-0123456789ab');

/** S3 bucket naming rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). */
function isValidS3BucketName(n: string): boolean {
  return (
    n.length >= 3 &&
    n.length <= 63 &&
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(n) &&
    !n.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(n) &&
    !n.startsWith('xn--') &&
    !n.startsWith('sthree-') &&
    !/(-s3alias|--ol-s3|--x-s3|\.mrap)$/.test(n)
  );
}

describe('physicalBucketName', () => {
  test('is stable across releases (golden values, cross-checked with Python hmac + base64.b32encode)', () => {
    // Existing physical buckets are found by recomputing these names: they must never change.
    assert.equal(physicalBucketName(SECRET, 'tenant-1', 'photos', 'aws'), 's3gw-3vlmstjx6ohq2ekkhkewvi4h2v-aws');
    assert.equal(
      physicalBucketName(SECRET, '7c9e6679-7425-40de-944b-e07fc1f90ae7', 'my.bucket-name', 'Wasabi (EU-Central)'),
      's3gw-456ry2zkqbzamtmmxmlfwr66pg-wasabieucentral',
    );
  });

  test('is deterministic and has the shape s3gw-<26 base32>-<provider>', () => {
    const a = physicalBucketName(SECRET, 'tenant-a', 'photos', 'ceph');
    assert.equal(a, physicalBucketName(SECRET, 'tenant-a', 'photos', 'ceph'));
    assert.match(a, /^s3gw-[a-z2-7]{26}-ceph$/);
  });

  test('two tenants owning a bucket of the same name get different physical buckets', () => {
    assert.notEqual(physicalBucketName(SECRET, 'tenant-a', 'photos', 'ceph'), physicalBucketName(SECRET, 'tenant-b', 'photos', 'ceph'));
  });

  test('tenant and bucket cannot be shifted into each other (NUL separator)', () => {
    assert.notEqual(physicalBucketName(SECRET, 'ab', 'c-bucket', 'p'), physicalBucketName(SECRET, 'a', 'bc-bucket', 'p'));
  });

  test('a different deployment secret gives a different name', () => {
    const other = Buffer.from('another-secret-of-32-bytes-long!');
    assert.notEqual(physicalBucketName(SECRET, 't', 'photos', 'ceph'), physicalBucketName(other, 't', 'photos', 'ceph'));
  });

  test('the name contains neither the tenant id nor the logical bucket name', () => {
    const n = physicalBucketName(SECRET, 'acme-corp', 'payroll-2026', 'aws');
    assert.ok(!n.includes('acme') && !n.includes('payroll'));
  });

  test('any provider string yields a valid S3 bucket name', () => {
    for (const provider of ['', '---', 'AWS', 'Wasabi (EU-Central)', 'x'.repeat(500), 'ñandú☃', '..', 'xn--', 's3alias', '-s3alias', '192.168.1.1']) {
      const n = physicalBucketName(SECRET, 'tenant', 'bucket', provider);
      assert.ok(isValidS3BucketName(n), `${JSON.stringify(provider)} → ${n}`);
      assert.ok(n.length <= 48);
    }
  });

  test('1000 random tenants / buckets / providers give 1000 distinct valid names', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const n = physicalBucketName(SECRET, randomUUID(), randomBytes(8).toString('hex'), randomBytes(12).toString('base64'));
      assert.ok(isValidS3BucketName(n), n);
      seen.add(n);
    }
    assert.equal(seen.size, 1000);
  });

  test('refuses a short secret, an empty or NUL-carrying tenant or bucket', () => {
    assert.throws(() => physicalBucketName(Buffer.from('short'), 't', 'b', 'p'), /at least 16 bytes/);
    assert.throws(() => physicalBucketName(SECRET, '', 'b', 'p'), /tenant id/);
    assert.throws(() => physicalBucketName(SECRET, 't\0x', 'b', 'p'), /tenant id/);
    assert.throws(() => physicalBucketName(SECRET, 't', '', 'p'), /bucket name/);
  });
});

describe('sanitizeProvider', () => {
  test('keeps [a-z0-9], lower-cases, caps at 16 characters, never returns empty', () => {
    assert.equal(sanitizeProvider('Wasabi (EU-Central)'), 'wasabieucentral');
    assert.equal(sanitizeProvider('a'.repeat(40)), 'a'.repeat(16));
    assert.equal(sanitizeProvider('--'), 'x');
  });
});

describe('physicalKey', () => {
  test('is the chunk id itself for a UUID', () => {
    const id = randomUUID();
    assert.equal(physicalKey(id), id);
  });

  test('refuses anything that is not a plain id (separators, dots, NUL, empty, overlong)', () => {
    for (const bad of ['', '../x', 'a/b', '.hidden', 'a\0b', 'x'.repeat(201), 'a b']) {
      assert.throws(() => physicalKey(bad), /invalid chunk id/, JSON.stringify(bad));
    }
  });
});
