import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectsCommand,
  PutBucketVersioningCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { ServiceInputTypes } from '@aws-sdk/client-s3';
import type { Command } from '@smithy/types';
import { S3Error } from '../../gateway/s3-errors.ts';
import {
  MAX_DELETE_OBJECTS,
  XML_BODY_LIMITS,
  decodeCompleteMultipartUpload,
  decodeCreateBucketConfiguration,
  decodeDelete,
  decodeVersioningConfiguration,
  parseXmlDocument,
} from '../../gateway/s3-xml/index.ts';

/** The request body aws-sdk-js v3 sends for a command (captured by a fake HTTP handler). */
async function sdkBody(command: Command<ServiceInputTypes, any, any, any, any>): Promise<Buffer> {
  let body: unknown;
  const client = new S3Client({
    region: 'eu-west-1',
    endpoint: 'http://localhost:1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    requestHandler: {
      handle: async (req: { body: unknown }) => {
        body = req.body;
        return { response: { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('')]) } };
      },
    } as never,
  });
  await client.send(command).catch(() => undefined);
  assert.equal(typeof body, 'string');
  return Buffer.from(body as string, 'utf8');
}

const b = (s: string) => Buffer.from(s, 'utf8');

function assertMalformed(fn: () => unknown, label?: string): void {
  assert.throws(fn, (err: unknown) => err instanceof S3Error && err.code === 'MalformedXML' && err.status === 400, label);
}

describe('decodeCreateBucketConfiguration', () => {
  it('accepts an empty or blank body as "no location constraint"', () => {
    assert.deepEqual(decodeCreateBucketConfiguration(Buffer.alloc(0)), { locationConstraint: null });
    assert.deepEqual(decodeCreateBucketConfiguration(b(' \r\n\t')), { locationConstraint: null });
  });

  it('reads the LocationConstraint the SDK sends', async () => {
    const body = await sdkBody(new CreateBucketCommand({ Bucket: 'b', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    assert.deepEqual(decodeCreateBucketConfiguration(body), { locationConstraint: 'eu-west-1' });
  });

  it('treats an empty LocationConstraint element like none', () => {
    assert.deepEqual(decodeCreateBucketConfiguration(b('<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>')), {
      locationConstraint: null,
    });
  });

  it('refuses a wrong root element or a repeated LocationConstraint', () => {
    assertMalformed(() => decodeCreateBucketConfiguration(b('<Bucket><LocationConstraint>x</LocationConstraint></Bucket>')));
    assertMalformed(() =>
      decodeCreateBucketConfiguration(b('<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint><LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>')),
    );
  });
});

describe('decodeDelete', () => {
  it('round-trips keys with markup, CR/LF, spaces and unicode as the SDK escapes them', async () => {
    const keys = [' lead and trail ', `a&b<c>d"e'f`, 'line\r\nbreak\rcr', 'ü/😀', '0001'];
    const body = await sdkBody(
      new DeleteObjectsCommand({ Bucket: 'b', Delete: { Objects: [...keys.map((Key) => ({ Key })), { Key: 'v', VersionId: '3/L4kq' }], Quiet: true } }),
    );
    assert.deepEqual(decodeDelete(body), {
      objects: [...keys.map((key) => ({ key })), { key: 'v', versionId: '3/L4kq' }],
      quiet: true,
    });
  });

  it('defaults Quiet to false and accepts it in any case', () => {
    assert.equal(decodeDelete(b('<Delete><Object><Key>k</Key></Object></Delete>')).quiet, false);
    assert.equal(decodeDelete(b('<Delete><Object><Key>k</Key></Object><Quiet>TRUE</Quiet></Delete>')).quiet, true);
    assertMalformed(() => decodeDelete(b('<Delete><Object><Key>k</Key></Object><Quiet>yes</Quiet></Delete>')));
  });

  it('accepts exactly 1000 objects and refuses 1001', () => {
    const doc = (n: number) => b(`<Delete>${'<Object><Key>k</Key></Object>'.repeat(n)}</Delete>`);
    assert.equal(decodeDelete(doc(MAX_DELETE_OBJECTS)).objects.length, 1000);
    assertMalformed(() => decodeDelete(doc(MAX_DELETE_OBJECTS + 1)));
  });

  it('refuses a request with no objects, an object without Key, or an empty Key', () => {
    assertMalformed(() => decodeDelete(b('<Delete><Quiet>true</Quiet></Delete>')));
    assertMalformed(() => decodeDelete(b('<Delete><Object><VersionId>v</VersionId></Object></Delete>')));
    assertMalformed(() => decodeDelete(b('<Delete><Object><Key></Key></Object></Delete>')));
    assertMalformed(() => decodeDelete(b('<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>')));
    assertMalformed(() => decodeDelete(b('<Delete><Object><Key><Sub/></Key></Object></Delete>')));
  });

  it('refuses characters XML 1.0 forbids, raw or as references, as S3 does', () => {
    assertMalformed(() => decodeDelete(b('<Delete><Object><Key>a\u0001b</Key></Object></Delete>')));
    assertMalformed(() => decodeDelete(b('<Delete><Object><Key>a&#x1;b</Key></Object></Delete>')));
    assertMalformed(() => decodeDelete(b('<Delete><Object><Key>a&#0;b</Key></Object></Delete>')));
  });

  it('decodes CDATA sections and character references, and ignores comments and unknown elements', () => {
    const r = decodeDelete(
      b('<!-- hi --><Delete><Object><!-- c --><Key><![CDATA[x<y&z]]>&#65;&#x42;</Key><ETag>"e"</ETag></Object></Delete>'),
    );
    assert.deepEqual(r.objects, [{ key: 'x<y&zAB' }]);
  });

  it('accepts a namespace prefix on the element names', () => {
    const r = decodeDelete(b('<s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:Object><s3:Key>k</s3:Key></s3:Object></s3:Delete>'));
    assert.deepEqual(r.objects, [{ key: 'k' }]);
  });

  it('refuses a body over the exported limit', () => {
    const big = Buffer.alloc(XML_BODY_LIMITS.delete + 1, 0x20);
    assertMalformed(() => decodeDelete(big));
  });
});

describe('decodeCompleteMultipartUpload', () => {
  it('reads part numbers, unquoted ETags and checksums from the SDK body', async () => {
    const body = await sdkBody(
      new CompleteMultipartUploadCommand({
        Bucket: 'b',
        Key: 'k',
        UploadId: 'u',
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: '"aaa"', ChecksumCRC32: 'AAAAAA==', ChecksumSHA256: 'q83v' },
            { PartNumber: 2, ETag: 'bbb' },
          ],
        },
      }),
    );
    assert.deepEqual(decodeCompleteMultipartUpload(body), {
      parts: [
        { partNumber: 1, etag: 'aaa', checksums: { CRC32: 'AAAAAA==', SHA256: 'q83v' } },
        { partNumber: 2, etag: 'bbb', checksums: {} },
      ],
    });
  });

  it('keeps parts in document order and leaves order checks to the caller', () => {
    const r = decodeCompleteMultipartUpload(
      b('<CompleteMultipartUpload><Part><PartNumber>3</PartNumber><ETag>"c"</ETag></Part><Part><PartNumber> 1 </PartNumber><ETag>&quot;a&quot;</ETag></Part></CompleteMultipartUpload>'),
    );
    assert.deepEqual(r.parts.map((p) => [p.partNumber, p.etag]), [[3, 'c'], [1, 'a']]);
  });

  it('refuses missing or non-numeric part numbers, missing ETags and an empty part list', () => {
    assertMalformed(() => decodeCompleteMultipartUpload(b('<CompleteMultipartUpload></CompleteMultipartUpload>')));
    assertMalformed(() => decodeCompleteMultipartUpload(b('<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>')));
    assertMalformed(() => decodeCompleteMultipartUpload(b('<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>')));
    assertMalformed(() => decodeCompleteMultipartUpload(b('<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>')));
    assertMalformed(() => decodeCompleteMultipartUpload(b('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>')));
    assertMalformed(() => decodeCompleteMultipartUpload(b('<CompleteMultipartUpload>text<Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>')));
  });
});

describe('decodeVersioningConfiguration', () => {
  it('reads the Status the SDK sends', async () => {
    const body = await sdkBody(new PutBucketVersioningCommand({ Bucket: 'b', VersioningConfiguration: { Status: 'Enabled' } }));
    assert.deepEqual(decodeVersioningConfiguration(body), { status: 'Enabled', mfaDelete: null });
  });

  it('reads Suspended and MfaDelete, and a document without Status as no change', () => {
    assert.deepEqual(
      decodeVersioningConfiguration(b('<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>')),
      { status: 'Suspended', mfaDelete: 'Disabled' },
    );
    assert.deepEqual(decodeVersioningConfiguration(b('<VersioningConfiguration/>')), { status: null, mfaDelete: null });
  });

  it('refuses an unknown Status, an empty body and a wrong root', () => {
    assertMalformed(() => decodeVersioningConfiguration(b('<VersioningConfiguration><Status>On</Status></VersioningConfiguration>')));
    assertMalformed(() => decodeVersioningConfiguration(Buffer.alloc(0)));
    assertMalformed(() => decodeVersioningConfiguration(b('<Versioning><Status>Enabled</Status></Versioning>')));
  });
});

describe('malformed and hostile documents', () => {
  const ok = '<Delete><Object><Key>k</Key></Object></Delete>';
  const cases: [string, string | Buffer][] = [
    ['DOCTYPE with an external entity (XXE)', `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>`],
    ['entity expansion (billion laughs)', `<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Delete><Object><Key>&b;</Key></Object></Delete>`],
    ['a plain DOCTYPE', `<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>`],
    ['an undeclared entity', '<Delete><Object><Key>&nbsp;</Key></Object></Delete>'],
    ['a bare ampersand', '<Delete><Object><Key>a & b</Key></Object></Delete>'],
    ['a processing instruction', `<?xml-stylesheet href="x"?>${ok}`],
    ['two root elements', ok + ok],
    ['text after the root', ok + 'junk'],
    ['an unclosed element', '<Delete><Object><Key>k</Key></Object>'],
    ['mismatched tags', '<Delete><Object><Key>k</Object></Key></Delete>'],
    ['no root at all', '   '],
    ['not XML', '{"Objects":[{"Key":"k"}]}'],
    ['invalid UTF-8', Buffer.concat([b('<Delete><Object><Key>'), Buffer.from([0xff, 0xfe]), b('</Key></Object></Delete>')])],
    ['a non-UTF-8 declared encoding', `<?xml version="1.0" encoding="ISO-8859-1"?>${ok}`],
    ['deep nesting', `<Delete>${'<a>'.repeat(100)}${'</a>'.repeat(100)}</Delete>`],
    ['a duplicate attribute', '<Delete a="1" a="2"><Object><Key>k</Key></Object></Delete>'],
    ["']]>' in text", '<Delete><Object><Key>a]]>b</Key></Object></Delete>'],
  ];
  for (const [label, input] of cases) {
    it(`answers MalformedXML for ${label}`, () => {
      assertMalformed(() => decodeDelete(typeof input === 'string' ? b(input) : input), label);
    });
  }

  it('accepts a UTF-8 byte order mark and an XML declaration without encoding', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    assert.deepEqual(decodeDelete(Buffer.concat([bom, b(`<?xml version="1.0"?>\n${ok}`)])).objects, [{ key: 'k' }]);
  });

  it('normalises literal CR LF in text to LF, as XML 1.0 requires', () => {
    assert.equal(parseXmlDocument(b('<a>x\r\ny\rz</a>')).text, 'x\ny\nz');
  });
});
