import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { S3Error } from '../../gateway/s3-errors.ts';
import { parseCopySource, parseOperation, validateBucketName, validateObjectKey } from '../../gateway/router/index.ts';
import type { Operation } from '../../gateway/router/index.ts';

function route(method: string, target: string, headers: IncomingHttpHeaders = {}, opts: { host?: string; domain?: string } = {}) {
  const q = target.indexOf('?');
  return parseOperation(
    {
      method,
      rawPath: q < 0 ? target : target.slice(0, q),
      rawQuery: q < 0 ? '' : target.slice(q + 1),
      host: opts.host ?? 'localhost:9000',
      headers,
    },
    { domain: opts.domain },
  );
}

function s3Error(code: string): (err: unknown) => boolean {
  return (err) => err instanceof S3Error && err.code === code;
}

const COPY = { 'x-amz-copy-source': '/src/obj' };

describe('parseOperation: served operations (path-style)', () => {
  const table: [string, string, IncomingHttpHeaders, Operation][] = [
    ['GET', '/', {}, { kind: 'ListBuckets' }],
    ['GET', '/?x-id=ListBuckets', {}, { kind: 'ListBuckets' }],
    ['PUT', '/photos', {}, { kind: 'CreateBucket', bucket: 'photos' }],
    ['PUT', '/photos/', {}, { kind: 'CreateBucket', bucket: 'photos' }],
    ['HEAD', '/photos', {}, { kind: 'HeadBucket', bucket: 'photos' }],
    ['DELETE', '/photos', {}, { kind: 'DeleteBucket', bucket: 'photos' }],
    ['GET', '/photos?location', {}, { kind: 'GetBucketLocation', bucket: 'photos' }],
    ['GET', '/photos?versioning', {}, { kind: 'GetBucketVersioning', bucket: 'photos' }],
    ['PUT', '/photos?versioning', {}, { kind: 'PutBucketVersioning', bucket: 'photos' }],
    ['GET', '/photos?list-type=2&prefix=a/&delimiter=/', {}, { kind: 'ListObjectsV2', bucket: 'photos' }],
    ['GET', '/photos', {}, { kind: 'ListObjects', bucket: 'photos' }],
    ['GET', '/photos/?prefix=N&marker=Ned&max-keys=40', {}, { kind: 'ListObjects', bucket: 'photos' }],
    ['GET', '/photos?uploads&max-uploads=3', {}, { kind: 'ListMultipartUploads', bucket: 'photos' }],
    ['POST', '/photos?delete', {}, { kind: 'DeleteObjects', bucket: 'photos' }],
    ['POST', '/photos?delete=', {}, { kind: 'DeleteObjects', bucket: 'photos' }],
    ['GET', '/photos?versions&key-marker=k', {}, { kind: 'ListObjectVersions', bucket: 'photos' }],
    ['PUT', '/photos/a.jpg', {}, { kind: 'PutObject', bucket: 'photos', key: 'a.jpg' }],
    ['GET', '/photos/a.jpg', {}, { kind: 'GetObject', bucket: 'photos', key: 'a.jpg' }],
    ['GET', '/photos/a.jpg?versionId=3/L4kq&partNumber=2&response-content-type=x', {}, { kind: 'GetObject', bucket: 'photos', key: 'a.jpg' }],
    ['HEAD', '/photos/a.jpg?partNumber=1', {}, { kind: 'HeadObject', bucket: 'photos', key: 'a.jpg' }],
    ['DELETE', '/photos/a.jpg?versionId=v1', {}, { kind: 'DeleteObject', bucket: 'photos', key: 'a.jpg' }],
    ['PUT', '/photos/b.jpg', COPY, { kind: 'CopyObject', bucket: 'photos', key: 'b.jpg' }],
    ['POST', '/photos/big.iso?uploads', {}, { kind: 'CreateMultipartUpload', bucket: 'photos', key: 'big.iso' }],
    ['PUT', '/photos/big.iso?partNumber=1&uploadId=U', {}, { kind: 'UploadPart', bucket: 'photos', key: 'big.iso' }],
    ['PUT', '/photos/big.iso?uploadId=U&partNumber=2', COPY, { kind: 'UploadPartCopy', bucket: 'photos', key: 'big.iso' }],
    ['POST', '/photos/big.iso?uploadId=U', {}, { kind: 'CompleteMultipartUpload', bucket: 'photos', key: 'big.iso' }],
    ['DELETE', '/photos/big.iso?uploadId=U', {}, { kind: 'AbortMultipartUpload', bucket: 'photos', key: 'big.iso' }],
    ['GET', '/photos/big.iso?uploadId=U&max-parts=2', {}, { kind: 'ListParts', bucket: 'photos', key: 'big.iso' }],
  ];
  for (const [method, target, headers, op] of table) {
    it(`${method} ${target}${headers['x-amz-copy-source'] ? ' (copy)' : ''} → ${op.kind}`, () => {
      assert.deepEqual(route(method, target, headers).op, op);
    });
  }

  it('returns the parsed query alongside the operation', () => {
    const { query } = route('GET', '/photos?list-type=2&prefix=a%20b+c&start-after=x');
    assert.equal(query.get('prefix'), 'a b c');
    assert.equal(query.get('start-after'), 'x');
  });

  it('accepts lower-case methods', () => {
    assert.deepEqual(route('get', '/photos/a').op, { kind: 'GetObject', bucket: 'photos', key: 'a' });
  });
});

describe('parseOperation: keys', () => {
  const keys: [string, string][] = [
    ['/b/%26%2B%3F%25%C3%A9/something', '&+?%é/something'],
    ['/b/a+b', 'a+b'],
    ['/b/a%20b', 'a b'],
    ['/b/dir//double', 'dir//double'],
    ['/b//leading', '/leading'],
    ['/b/trailing/', 'trailing/'],
    ['/b/%F0%9F%98%80.txt', '😀.txt'],
    ['/b/ü-raw', 'ü-raw'],
    ['/b/../etc/passwd', '../etc/passwd'],
    ['/b/a%2Fb', 'a/b'],
  ];
  for (const [path, key] of keys) {
    it(`${path} names key ${JSON.stringify(key)}`, () => {
      assert.deepEqual(route('GET', path).op, { kind: 'GetObject', bucket: 'b', key });
    });
  }

  it('answers InvalidURI for broken percent-encoding', () => {
    assert.throws(() => route('GET', '/b/%zz'), s3Error('InvalidURI'));
    assert.throws(() => route('GET', '/b/%C3'), s3Error('InvalidURI'));
    assert.throws(() => route('GET', 'b/no-leading-slash'), s3Error('InvalidURI'));
  });

  it('answers KeyTooLongError for a key over 1024 UTF-8 bytes, and accepts exactly 1024', () => {
    assert.deepEqual(route('GET', `/b/${'a'.repeat(1024)}`).op, { kind: 'GetObject', bucket: 'b', key: 'a'.repeat(1024) });
    assert.throws(() => route('PUT', `/b/${'a'.repeat(1025)}`), s3Error('KeyTooLongError'));
    assert.throws(() => route('PUT', `/b/${'%C3%A9'.repeat(513)}`), s3Error('KeyTooLongError'));
  });

  it('answers InvalidBucketName for an empty bucket segment', () => {
    assert.throws(() => route('GET', '//key'), s3Error('InvalidBucketName'));
  });
});

describe('parseOperation: virtual-hosted style', () => {
  const domain = 's3.example.com';
  it('takes the bucket from the Host and the whole path as the key', () => {
    assert.deepEqual(route('GET', '/a/b.txt', {}, { host: 'photos.s3.example.com', domain }).op, { kind: 'GetObject', bucket: 'photos', key: 'a/b.txt' });
    assert.deepEqual(route('GET', '//x', {}, { host: 'photos.s3.example.com', domain }).op, { kind: 'GetObject', bucket: 'photos', key: '/x' });
  });

  it('ignores the port and letter case of the Host, and a trailing dot', () => {
    assert.deepEqual(route('GET', '/?list-type=2', {}, { host: 'Photos.S3.Example.com:9000', domain }).op, { kind: 'ListObjectsV2', bucket: 'photos' });
    assert.deepEqual(route('HEAD', '/', {}, { host: 'photos.s3.example.com.', domain: 's3.example.com:443' }).op, { kind: 'HeadBucket', bucket: 'photos' });
  });

  it('keeps dots in bucket names', () => {
    assert.deepEqual(route('PUT', '/', {}, { host: 'my.dotted.bucket.s3.example.com', domain }).op, { kind: 'CreateBucket', bucket: 'my.dotted.bucket' });
  });

  it('falls back to path style for the bare domain, other hosts, and when no domain is configured', () => {
    assert.deepEqual(route('GET', '/', {}, { host: 's3.example.com', domain }).op, { kind: 'ListBuckets' });
    assert.deepEqual(route('GET', '/b/k', {}, { host: '127.0.0.1:9000', domain }).op, { kind: 'GetObject', bucket: 'b', key: 'k' });
    assert.deepEqual(route('GET', '/b/k', {}, { host: 'photos.s3.example.com' }).op, { kind: 'GetObject', bucket: 'b', key: 'k' });
    assert.deepEqual(route('GET', '/b/k', {}, { host: 'evil-s3.example.com', domain }).op, { kind: 'GetObject', bucket: 'b', key: 'k' });
    assert.deepEqual(route('GET', '/b/k', {}, { host: '[::1]:9000', domain }).op, { kind: 'GetObject', bucket: 'b', key: 'k' });
  });
});

describe('parseOperation: not implemented sub-resources', () => {
  const table: [string, string, string][] = [
    ['GET', '/b?policy', 'GetBucketPolicy'],
    ['DELETE', '/b?policy', 'DeleteBucketPolicy'],
    ['GET', '/b?lifecycle', 'GetBucketLifecycleConfiguration'],
    ['DELETE', '/b?lifecycle', 'DeleteBucketLifecycle'],
    ['PUT', '/b?website', 'PutBucketWebsite'],
    ['GET', '/b?logging', 'GetBucketLogging'],
    ['GET', '/b?notification', 'GetBucketNotificationConfiguration'],
    ['PUT', '/b?replication', 'PutBucketReplication'],
    ['GET', '/b?encryption', 'GetBucketEncryption'],
    ['PUT', '/b?object-lock', 'PutObjectLockConfiguration'],
    ['GET', '/b?analytics', 'ListBucketAnalyticsConfigurations'],
    ['GET', '/b?analytics&id=x', 'GetBucketAnalyticsConfiguration'],
    ['GET', '/b?publicAccessBlock', 'GetPublicAccessBlock'],
    ['PUT', '/b?ownershipControls', 'PutBucketOwnershipControls'],
    ['GET', '/b/k?retention', 'GetObjectRetention'],
    ['PUT', '/b/k?legal-hold', 'PutObjectLegalHold'],
    ['GET', '/b/k?torrent', 'GetObjectTorrent'],
    ['POST', '/b/k?restore', 'RestoreObject'],
    ['POST', '/b/k?select&select-type=2', 'SelectObjectContent'],
  ];
  for (const [method, target, name] of table) {
    it(`${method} ${target} → NotImplemented ${name}`, () => {
      const { op } = route(method, target);
      assert.equal(op.kind, 'NotImplemented');
      assert.equal((op as { name: string }).name, name);
      assert.equal((op as { bucket?: string }).bucket, 'b');
    });
  }

  it('carries the key for object sub-resources', () => {
    assert.deepEqual(route('GET', '/b/dir/k?retention&versionId=1').op, { kind: 'NotImplemented', name: 'GetObjectRetention', bucket: 'b', key: 'dir/k' });
  });

  it('routes the ACL and ownership reads and writes it answers as BucketOwnerEnforced', () => {
    assert.deepEqual(route('GET', '/b?acl').op, { kind: 'GetBucketAcl', bucket: 'b' });
    assert.deepEqual(route('PUT', '/b?acl').op, { kind: 'PutBucketAcl', bucket: 'b' });
    assert.deepEqual(route('GET', '/b?ownershipControls').op, { kind: 'GetBucketOwnershipControls', bucket: 'b' });
    assert.deepEqual(route('GET', '/b/dir/k?acl&versionId=1').op, { kind: 'GetObjectAcl', bucket: 'b', key: 'dir/k' });
    assert.deepEqual(route('PUT', '/b/k?acl').op, { kind: 'PutObjectAcl', bucket: 'b', key: 'k' });
  });

  it('ignores sub-resources on HEAD', () => {
    assert.deepEqual(route('HEAD', '/b/k?acl').op, { kind: 'HeadObject', bucket: 'b', key: 'k' });
  });
});

describe('parseOperation: refused requests', () => {
  const table: [string, string, string][] = [
    ['PUT', '/', 'MethodNotAllowed'],
    ['DELETE', '/', 'MethodNotAllowed'],
    ['PATCH', '/b', 'MethodNotAllowed'],
    ['PATCH', '/b/k', 'MethodNotAllowed'],
    ['POST', '/b/k', 'MethodNotAllowed'],
    ['GET', '/b?delete', 'MethodNotAllowed'],
    ['DELETE', '/b?versioning', 'MethodNotAllowed'],
    ['PUT', '/b?location', 'MethodNotAllowed'],
    ['GET', '/b/k?uploads', 'MethodNotAllowed'],
    ['PUT', '/b/k?restore', 'MethodNotAllowed'],
    ['GET', '/b?list-type=3', 'InvalidArgument'],
    ['PUT', '/b/k?partNumber=1', 'InvalidArgument'],
    ['PUT', '/b/k?uploadId=U', 'InvalidArgument'],
  ];
  for (const [method, target, code] of table) {
    it(`${method} ${target} → ${code}`, () => {
      assert.throws(() => route(method, target), s3Error(code));
    });
  }

  it('names the method and resource type in MethodNotAllowed', () => {
    assert.throws(
      () => route('POST', '/b/k'),
      (err: unknown) => err instanceof S3Error && err.status === 405 && err.extra.Method === 'POST' && err.extra.ResourceType === 'OBJECT',
    );
  });
});

describe('validateBucketName', () => {
  const valid = ['abc', 'my-bucket', 'my.bucket.name', 'a'.repeat(63), '123', 'xn-a', 'bucket-s3alias-x'];
  const invalid = [
    'ab', 'a'.repeat(64), 'My-Bucket', 'my_bucket', '-bucket', 'bucket-', '.bucket', 'bucket.', 'my..bucket',
    '192.168.5.4', 'xn--bucket', 'sthree-bucket', 'amzn-s3-demo-bucket', 'bucket-s3alias', 'bucket--ol-s3',
    'bucket.mrap', 'bucket--x-s3', 'bucket--table-s3', 'bück', 'a b c', '',
  ];
  for (const name of valid) it(`accepts ${JSON.stringify(name.length > 20 ? `${name.length} chars` : name)}`, () => validateBucketName(name));
  for (const name of invalid) {
    it(`refuses ${JSON.stringify(name.length > 20 ? `${name.length} chars` : name)} with InvalidBucketName`, () => {
      assert.throws(() => validateBucketName(name), (err: unknown) => err instanceof S3Error && err.code === 'InvalidBucketName' && err.extra.BucketName === name);
    });
  }
});

describe('validateObjectKey', () => {
  it('accepts keys up to 1024 UTF-8 bytes', () => {
    validateObjectKey('k');
    validateObjectKey('é'.repeat(512));
  });

  it('answers KeyTooLongError over 1024 bytes, counting UTF-8 bytes not characters', () => {
    assert.throws(() => validateObjectKey('é'.repeat(513)), (err: unknown) => err instanceof S3Error && err.code === 'KeyTooLongError' && err.extra.Size === '1026');
  });

  it('answers InvalidArgument for an empty key', () => {
    assert.throws(() => validateObjectKey(''), s3Error('InvalidArgument'));
  });
});

describe('parseCopySource', () => {
  it('reads bucket, key and versionId, with or without a leading slash', () => {
    assert.deepEqual(parseCopySource('src/dir/obj.txt'), { bucket: 'src', key: 'dir/obj.txt' });
    assert.deepEqual(parseCopySource('/src/obj?versionId=v1'), { bucket: 'src', key: 'obj', versionId: 'v1' });
  });

  it('percent-decodes the path, keeping + and an encoded ?', () => {
    assert.deepEqual(parseCopySource('/src/a%20b+c%3Fd%C3%A9'), { bucket: 'src', key: 'a b+c?dé' });
  });

  it('answers InvalidArgument without a bucket and key', () => {
    for (const bad of ['src', 'src/', '/obj', '', '/src/%zz']) assert.throws(() => parseCopySource(bad), s3Error('InvalidArgument'), bad);
    assert.throws(() => parseCopySource(undefined), s3Error('InvalidArgument'));
  });

  it('answers NotImplemented for access point ARNs', () => {
    assert.throws(() => parseCopySource('arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/k'), s3Error('NotImplemented'));
  });
});
