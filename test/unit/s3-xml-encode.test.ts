import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { XMLValidator } from 'fast-xml-parser';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { ObjectSummary } from '../../metadata/types.ts';
import * as xml from '../../gateway/s3-xml/index.ts';

// The SDK under test reads our documents exactly as it reads AWS's: a fake HTTP
// handler hands it the encoded body, no network involved.
function sdkReading(body: string): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: 'http://localhost:1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    requestHandler: {
      handle: async () => ({
        response: { statusCode: 200, headers: { 'content-type': 'application/xml' }, body: Readable.from([Buffer.from(body)]) },
      }),
    } as never,
  });
}

const OWNER = { id: 'tenant-1', displayName: 'acme' };
const T0 = new Date('2026-01-01T00:00:00.000Z');
const NASTY = `dir/a&b<c>d"e'f\u0001\u001f\r\n\tz ü 😀`;

function summary(key: string, extra: Partial<ObjectSummary> = {}): ObjectSummary {
  return { key, size: 5, etag: 'd41d8cd98f00b204e9800998ecf8427e', lastModified: T0, storageClass: 'STANDARD', checksumAlgorithm: null, ...extra };
}

describe('escapeXml and s3UrlEncode', () => {
  it('escapes the markup characters and CR/LF, and writes characters XML 1.0 forbids as hex references', () => {
    assert.equal(xml.escapeXml(`&<>"'`), '&amp;&lt;&gt;&quot;&apos;');
    assert.equal(xml.escapeXml('a\r\nb'), 'a&#xD;&#xA;b');
    assert.equal(xml.escapeXml('\u0000\u0008\u000b\u000c\u001b\ufffe\uffff'), '&#x0;&#x8;&#xb;&#xc;&#x1b;&#xfffe;&#xffff;');
    assert.equal(xml.escapeXml('tab\there ü 😀 \u007f'), 'tab\there ü 😀 \u007f');
    assert.equal(xml.escapeXml('lone \ud800 x \udc00'), 'lone &#xd800; x &#xdc00;');
  });

  it('URL-encodes like S3: unreserved and / * kept, space as +, everything else %XX in UTF-8', () => {
    assert.equal(xml.s3UrlEncode('test_file(3).png'), 'test_file%283%29.png');
    assert.equal(xml.s3UrlEncode('a b+c/d*e~f'), 'a+b%2Bc/d*e%7Ef');
    assert.equal(xml.s3UrlEncode('ü\u0001&'), '%C3%BC%01%26');
  });
});

describe('bucket documents', () => {
  it('ListAllMyBucketsResult lists owner and buckets and reads back through the SDK', async () => {
    const body = xml.encodeListAllMyBuckets({
      owner: OWNER,
      buckets: [
        { name: 'alpha', createdAt: T0, region: 'eu-central-1' },
        { name: 'beta', createdAt: new Date('2026-02-03T04:05:06.789Z'), region: 'us-east-1' },
      ],
    });
    assert.ok(body.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'));
    assert.ok(body.includes('<CreationDate>2026-02-03T04:05:06.789Z</CreationDate>'));
    const out = await sdkReading(body).send(new ListBucketsCommand({}));
    assert.deepEqual(out.Owner, { ID: 'tenant-1', DisplayName: 'acme' });
    assert.deepEqual(
      out.Buckets?.map((b) => [b.Name, b.CreationDate?.toISOString(), b.BucketRegion]),
      [
        ['alpha', '2026-01-01T00:00:00.000Z', 'eu-central-1'],
        ['beta', '2026-02-03T04:05:06.789Z', 'us-east-1'],
      ],
    );
  });

  it('LocationConstraint is empty for us-east-1 and names any other region', async () => {
    const ns = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
    assert.equal(xml.encodeLocationConstraint('us-east-1'), `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint ${ns}/>`);
    assert.equal(xml.encodeLocationConstraint('eu-west-3'), `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint ${ns}>eu-west-3</LocationConstraint>`);
    assert.equal((await sdkReading(xml.encodeLocationConstraint('eu-west-3')).send(new GetBucketLocationCommand({ Bucket: 'b' }))).LocationConstraint, 'eu-west-3');
  });

  it('VersioningConfiguration has a Status only once versioning was configured', async () => {
    assert.ok(!xml.encodeVersioningConfiguration('Unversioned').includes('Status'));
    const out = await sdkReading(xml.encodeVersioningConfiguration('Suspended')).send(new GetBucketVersioningCommand({ Bucket: 'b' }));
    assert.equal(out.Status, 'Suspended');
  });
});

describe('ListBucketResult', () => {
  it('V2 round-trips keys with markup, control and non-ASCII characters through the SDK', async () => {
    const body = xml.encodeListObjectsV2({
      bucket: 'b',
      prefix: 'dir/',
      delimiter: '/',
      maxKeys: 2,
      isTruncated: true,
      continuationToken: 'tok-in',
      nextContinuationToken: 'tok+/=out',
      startAfter: 'dir/0',
      contents: [summary(NASTY, { checksumAlgorithm: 'CRC64NVME', size: 12345678901 })],
      commonPrefixes: ['dir/sub/'],
    });
    const out = await sdkReading(body).send(new ListObjectsV2Command({ Bucket: 'b' }));
    assert.equal(out.Name, 'b');
    assert.equal(out.Prefix, 'dir/');
    assert.equal(out.Delimiter, '/');
    assert.equal(out.MaxKeys, 2);
    assert.equal(out.KeyCount, 2);
    assert.equal(out.IsTruncated, true);
    assert.equal(out.ContinuationToken, 'tok-in');
    assert.equal(out.NextContinuationToken, 'tok+/=out');
    assert.equal(out.StartAfter, 'dir/0');
    assert.equal(out.Contents?.length, 1);
    const c = out.Contents![0];
    assert.equal(c.Key, NASTY);
    assert.equal(c.ETag, '"d41d8cd98f00b204e9800998ecf8427e"');
    assert.equal(c.Size, 12345678901);
    assert.equal(c.StorageClass, 'STANDARD');
    assert.deepEqual(c.ChecksumAlgorithm, ['CRC64NVME']);
    assert.equal(c.LastModified?.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(c.Owner, undefined);
    assert.deepEqual(out.CommonPrefixes, [{ Prefix: 'dir/sub/' }]);
  });

  it('V2 writes ETags quoted as &quot; and dates with milliseconds, Owner only when asked', () => {
    const body = xml.encodeListObjectsV2({ bucket: 'b', maxKeys: 1000, isTruncated: false, contents: [summary('k')], commonPrefixes: [], owner: OWNER });
    assert.ok(body.includes('<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>'));
    assert.ok(body.includes('<LastModified>2026-01-01T00:00:00.000Z</LastModified>'));
    assert.ok(body.includes('<Owner><ID>tenant-1</ID><DisplayName>acme</DisplayName></Owner>'));
    assert.ok(body.includes('<Prefix></Prefix>'));
    assert.ok(!body.includes('Delimiter') && !body.includes('EncodingType') && !body.includes('ContinuationToken'));
    assert.equal(XMLValidator.validate(body), true);
  });

  it('V2 with encoding-type=url encodes Key, Prefix, Delimiter, StartAfter and common prefixes, not tokens', () => {
    const body = xml.encodeListObjectsV2({
      bucket: 'b', prefix: 'a b/', delimiter: '|', maxKeys: 10, encodingType: 'url', isTruncated: false,
      continuationToken: 'x y', startAfter: 'a b/ü', contents: [summary('a b/\u0001&')], commonPrefixes: ['a b/c d|'],
    });
    assert.ok(body.includes('<Prefix>a+b/</Prefix>'));
    assert.ok(body.includes('<Delimiter>%7C</Delimiter>'));
    assert.ok(body.includes('<StartAfter>a+b/%C3%BC</StartAfter>'));
    assert.ok(body.includes('<Key>a+b/%01%26</Key>'));
    assert.ok(body.includes('<CommonPrefixes><Prefix>a+b/c+d%7C</Prefix></CommonPrefixes>'));
    assert.ok(body.includes('<ContinuationToken>x y</ContinuationToken>'));
    assert.ok(body.includes('<EncodingType>url</EncodingType>'));
    assert.equal(XMLValidator.validate(body), true);
  });

  it('V1 echoes Marker, writes NextMarker when given and always lists the owner', async () => {
    const body = xml.encodeListObjectsV1({
      bucket: 'b', prefix: 'p', marker: 'm&1', delimiter: '/', maxKeys: 1, isTruncated: true, nextMarker: 'p/next',
      contents: [summary('p1')], commonPrefixes: ['p/'], owner: OWNER,
    });
    const out = await sdkReading(body).send(new ListObjectsCommand({ Bucket: 'b' }));
    assert.equal(out.Marker, 'm&1');
    assert.equal(out.NextMarker, 'p/next');
    assert.equal(out.IsTruncated, true);
    assert.deepEqual(out.Contents?.[0].Owner, { ID: 'tenant-1', DisplayName: 'acme' });
    assert.deepEqual(out.CommonPrefixes, [{ Prefix: 'p/' }]);
  });

  it('V1 with encoding-type=url encodes Marker and NextMarker too', () => {
    const body = xml.encodeListObjectsV1({
      bucket: 'b', marker: 'a b', maxKeys: 1, encodingType: 'url', isTruncated: true, nextMarker: 'c d',
      contents: [], commonPrefixes: [], owner: OWNER,
    });
    assert.ok(body.includes('<Marker>a+b</Marker>') && body.includes('<NextMarker>c+d</NextMarker>'));
  });

  it('ListVersionsResult separates versions from delete markers', async () => {
    const body = xml.encodeListVersions({
      bucket: 'b', maxKeys: 100, isTruncated: false, owner: OWNER, commonPrefixes: [],
      versions: [
        { key: 'k', versionId: 'v2', isLatest: true, lastModified: T0, deleteMarker: true, etag: '', size: 0, storageClass: 'STANDARD' },
        { key: 'k', versionId: 'v1', isLatest: false, lastModified: T0, deleteMarker: false, etag: 'abc', size: 3, storageClass: 'STANDARD' },
      ],
    });
    const out = await sdkReading(body).send(new ListObjectVersionsCommand({ Bucket: 'b' }));
    assert.deepEqual(out.DeleteMarkers?.map((d) => [d.Key, d.VersionId, d.IsLatest]), [['k', 'v2', true]]);
    assert.deepEqual(out.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest, v.ETag, v.Size]), [['k', 'v1', false, '"abc"', 3]]);
  });
});

describe('object and multipart documents', () => {
  it('CopyObjectResult and CopyPartResult carry the quoted ETag, date and checksums', async () => {
    const copy = await sdkReading(
      xml.encodeCopyObjectResult({ etag: 'abc', lastModified: T0, checksums: { CRC32: 'AAAAAA==' }, checksumType: 'FULL_OBJECT' }),
    ).send(new CopyObjectCommand({ Bucket: 'b', Key: 'k', CopySource: 'b/s' }));
    assert.equal(copy.CopyObjectResult?.ETag, '"abc"');
    assert.equal(copy.CopyObjectResult?.ChecksumCRC32, 'AAAAAA==');
    assert.equal(copy.CopyObjectResult?.ChecksumType, 'FULL_OBJECT');
    assert.equal(copy.CopyObjectResult?.LastModified?.toISOString(), '2026-01-01T00:00:00.000Z');
    const part = await sdkReading(xml.encodeCopyPartResult({ etag: '"def"', lastModified: T0, checksums: { SHA256: 'x=' } })).send(
      new UploadPartCopyCommand({ Bucket: 'b', Key: 'k', CopySource: 'b/s', UploadId: 'u', PartNumber: 1 }),
    );
    assert.equal(part.CopyPartResult?.ETag, '"def"');
    assert.equal(part.CopyPartResult?.ChecksumSHA256, 'x=');
  });

  it('InitiateMultipartUploadResult and CompleteMultipartUploadResult read back through the SDK', async () => {
    const init = await sdkReading(xml.encodeInitiateMultipartUpload({ bucket: 'b', key: NASTY, uploadId: 'up-1' })).send(
      new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'k' }),
    );
    assert.deepEqual([init.Bucket, init.Key, init.UploadId], ['b', NASTY, 'up-1']);
    const done = await sdkReading(
      xml.encodeCompleteMultipartUpload({ location: 'http://h/b/k', bucket: 'b', key: 'k', etag: 'abc-2', checksums: { CRC32C: 'q==' }, checksumType: 'COMPOSITE' }),
    ).send(new CompleteMultipartUploadCommand({ Bucket: 'b', Key: 'k', UploadId: 'u' }));
    assert.deepEqual([done.Location, done.Bucket, done.Key, done.ETag, done.ChecksumCRC32C, done.ChecksumType], ['http://h/b/k', 'b', 'k', '"abc-2"', 'q==', 'COMPOSITE']);
  });

  it('ListPartsResult lists parts, markers, owner and initiator', async () => {
    const body = xml.encodeListParts({
      bucket: 'b', key: 'k', uploadId: 'u', partNumberMarker: 0, nextPartNumberMarker: 2, maxParts: 2, isTruncated: true,
      parts: [
        { partNumber: 1, lastModified: T0, etag: 'e1', size: 5242880, checksums: { CRC32: 'c1' } },
        { partNumber: 2, lastModified: T0, etag: 'e2', size: 1, checksums: {} },
      ],
      owner: OWNER, storageClass: 'STANDARD', checksumAlgorithm: 'CRC32', checksumType: 'COMPOSITE',
    });
    const out = await sdkReading(body).send(new ListPartsCommand({ Bucket: 'b', Key: 'k', UploadId: 'u' }));
    assert.equal(out.NextPartNumberMarker, '2');
    assert.equal(out.IsTruncated, true);
    assert.deepEqual(out.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size, p.ChecksumCRC32]), [[1, '"e1"', 5242880, 'c1'], [2, '"e2"', 1, undefined]]);
    assert.deepEqual(out.Initiator, { ID: 'tenant-1', DisplayName: 'acme' });
    assert.equal(out.ChecksumAlgorithm, 'CRC32');
  });

  it('ListMultipartUploadsResult lists uploads and URL-encodes key fields when asked', async () => {
    const input = {
      bucket: 'b', keyMarker: 'a b', prefix: 'a', maxUploads: 10, isTruncated: false, owner: OWNER,
      uploads: [{ key: 'a b&c', uploadId: 'u1', initiated: T0, storageClass: 'STANDARD' }], commonPrefixes: ['a/'],
    };
    const out = await sdkReading(xml.encodeListMultipartUploads(input)).send(new ListMultipartUploadsCommand({ Bucket: 'b' }));
    assert.deepEqual(out.Uploads?.map((u) => [u.Key, u.UploadId, u.Initiated?.toISOString()]), [['a b&c', 'u1', '2026-01-01T00:00:00.000Z']]);
    assert.equal(out.KeyMarker, 'a b');
    const encoded = xml.encodeListMultipartUploads({ ...input, encodingType: 'url', nextKeyMarker: 'n m' });
    assert.ok(encoded.includes('<Key>a+b%26c</Key>') && encoded.includes('<KeyMarker>a+b</KeyMarker>') && encoded.includes('<NextKeyMarker>n+m</NextKeyMarker>'));
  });

  it('DeleteResult lists Deleted and Error entries', async () => {
    const body = xml.encodeDeleteResult({
      deleted: [{ key: NASTY }, { key: 'v', versionId: 'v1', deleteMarker: true, deleteMarkerVersionId: 'dm1' }],
      errors: [{ key: 'x<y', code: 'AccessDenied', message: 'Access Denied' }],
    });
    const out = await sdkReading(body).send(new DeleteObjectsCommand({ Bucket: 'b', Delete: { Objects: [{ Key: 'k' }] } }));
    assert.deepEqual(out.Deleted, [{ Key: NASTY }, { Key: 'v', VersionId: 'v1', DeleteMarker: true, DeleteMarkerVersionId: 'dm1' }]);
    assert.deepEqual(out.Errors, [{ Key: 'x<y', Code: 'AccessDenied', Message: 'Access Denied' }]);
  });

  it('an empty DeleteResult (quiet mode, no errors) is a well-formed empty element', () => {
    const body = xml.encodeDeleteResult({ deleted: [], errors: [] });
    assert.equal(body, '<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>');
  });
});
