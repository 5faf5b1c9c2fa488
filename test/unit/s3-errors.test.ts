import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { XMLValidator } from 'fast-xml-parser';
// The XML reader aws-sdk-js v3 itself uses for S3 responses (a dependency of @aws-sdk/client-s3).
import { parseXML } from '@aws-sdk/xml-builder';
import { S3Error, S3_ERRORS, errorHasBody, renderErrorXml } from '../../gateway/s3-errors.ts';

const REQUIRED = [
  'AccessDenied', 'AccountProblem', 'AuthorizationHeaderMalformed', 'AuthorizationQueryParametersError',
  'BadDigest', 'BucketAlreadyExists', 'BucketAlreadyOwnedByYou', 'BucketNotEmpty', 'ConditionalRequestConflict',
  'EntityTooLarge', 'EntityTooSmall', 'IncompleteBody', 'InternalError', 'InvalidAccessKeyId', 'InvalidArgument',
  'InvalidBucketName', 'InvalidDigest', 'InvalidPart', 'InvalidPartOrder', 'InvalidRange', 'InvalidRequest',
  'InvalidStorageClass', 'KeyTooLongError', 'MalformedXML', 'MetadataTooLarge', 'MethodNotAllowed',
  'MissingContentLength', 'MissingSecurityHeader', 'NoSuchBucket', 'NoSuchKey', 'NoSuchUpload', 'NoSuchVersion',
  'NotImplemented', 'PreconditionFailed', 'RequestTimeTooSkewed', 'ServiceUnavailable', 'SignatureDoesNotMatch',
  'SlowDown', 'XAmzContentSHA256Mismatch', 'InvalidBucketState', 'TooManyBuckets', 'RequestTimeout', 'NotModified',
];

type ErrorDoc = { Error: Record<string, string> };

describe('S3 error catalog', () => {
  it('declares every code the gateway needs', () => {
    for (const code of REQUIRED) assert.ok(Object.hasOwn(S3_ERRORS, code), `missing ${code}`);
  });

  it("uses AWS's status codes for the common errors", () => {
    const expected: Record<string, number> = {
      AccessDenied: 403, BadDigest: 400, BucketAlreadyExists: 409, BucketAlreadyOwnedByYou: 409, BucketNotEmpty: 409,
      ConditionalRequestConflict: 409, InternalError: 500, InvalidAccessKeyId: 403, InvalidBucketState: 409,
      InvalidRange: 416, MethodNotAllowed: 405, MissingContentLength: 411, NoSuchBucket: 404, NoSuchKey: 404,
      NoSuchUpload: 404, NoSuchVersion: 404, NotImplemented: 501, NotModified: 304, PreconditionFailed: 412,
      RequestTimeTooSkewed: 403, RequestTimeout: 400, ServiceUnavailable: 503, SignatureDoesNotMatch: 403,
      SlowDown: 503, TooManyBuckets: 400, XAmzContentSHA256Mismatch: 400, KeyTooLongError: 400, MalformedXML: 400,
    };
    for (const [code, status] of Object.entries(expected)) {
      assert.equal(new S3Error(code).status, status, code);
    }
  });

  it('uses the default message from the catalog unless one is given', () => {
    assert.equal(new S3Error('NoSuchKey').message, 'The specified key does not exist.');
    assert.equal(
      new S3Error('MalformedXML').message,
      'The XML you provided was not well-formed or did not validate against our published schema.',
    );
    assert.equal(new S3Error('InvalidArgument', 'max-keys must be an integer').message, 'max-keys must be an integer');
  });

  it('maps an unknown code to InternalError without leaking the given message', () => {
    const err = new S3Error('TotallyMadeUp', 'db password is hunter2');
    assert.equal(err.code, 'InternalError');
    assert.equal(err.status, 500);
    assert.equal(err.message, 'We encountered an internal error. Please try again.');
    assert.deepEqual(err.cause, { unknownCode: 'TotallyMadeUp', message: 'db password is hunter2' });
    assert.ok(!renderErrorXml(err, '/b', 'r').includes('hunter2'));
  });

  it('is an Error subclass carrying code, status and extra fields', () => {
    const err = new S3Error('NoSuchBucket', undefined, { BucketName: 'photos' });
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'S3Error');
    assert.deepEqual(err.extra, { BucketName: 'photos' });
  });
});

describe('renderErrorXml', () => {
  it('renders every catalog entry as well-formed XML carrying its code and message', () => {
    for (const [code, spec] of Object.entries(S3_ERRORS)) {
      const xml = renderErrorXml(new S3Error(code), '/bucket/key', 'REQ123');
      assert.equal(XMLValidator.validate(xml), true, code);
      const doc = parseXML(xml) as ErrorDoc;
      assert.equal(doc.Error.Code, code);
      assert.equal(doc.Error.Message, spec.message);
      assert.equal(doc.Error.Resource, '/bucket/key');
      assert.equal(doc.Error.RequestId, 'REQ123');
      assert.equal(new S3Error(code).status, spec.status);
    }
  });

  it('writes the declaration and fields in S3 order with extra fields before Resource', () => {
    const xml = renderErrorXml(new S3Error('NoSuchKey', undefined, { Key: 'a.txt' }), '/b/a.txt', 'R1');
    assert.equal(
      xml,
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>' +
        '<Key>a.txt</Key><Resource>/b/a.txt</Resource><RequestId>R1</RequestId></Error>',
    );
  });

  it('escapes XML special characters in messages, extra fields and resources', () => {
    const nasty = `a&b<c>d"e'f`;
    const xml = renderErrorXml(
      new S3Error('InvalidArgument', `bad ${nasty}`, { ArgumentName: 'x-amz-meta-<x>', ArgumentValue: nasty }),
      `/bucket/${nasty}`,
      'R&1',
    );
    assert.ok(!xml.includes(nasty));
    assert.equal(XMLValidator.validate(xml), true);
    const doc = parseXML(xml) as ErrorDoc;
    assert.equal(doc.Error.Message, `bad ${nasty}`);
    assert.equal(doc.Error.ArgumentName, 'x-amz-meta-<x>');
    assert.equal(doc.Error.ArgumentValue, nasty);
    assert.equal(doc.Error.Resource, `/bucket/${nasty}`);
    assert.equal(doc.Error.RequestId, 'R&1');
  });

  it('writes control characters in a resource as character references, never raw', () => {
    const xml = renderErrorXml(new S3Error('NoSuchKey'), '/b/a\u0001b\rc', 'R');
    assert.ok(xml.includes('<Resource>/b/a&#x1;b&#xD;c</Resource>'));
    assert.equal((parseXML(xml) as ErrorDoc).Error.Resource, '/b/a\u0001b\rc');
  });

  it('drops extra fields whose names are not XML names or would shadow the standard ones', () => {
    const xml = renderErrorXml(new S3Error('AccessDenied', undefined, { 'bad name': 'x', Code: 'Forged', Ok: 'y' }), '/', 'R');
    assert.equal(XMLValidator.validate(xml), true);
    const doc = parseXML(xml) as ErrorDoc;
    assert.equal(doc.Error.Code, 'AccessDenied');
    assert.equal(doc.Error.Ok, 'y');
    assert.ok(!xml.includes('bad name'));
  });
});

describe('errorHasBody', () => {
  it('is false for 304 NotModified and for HEAD requests, true otherwise', () => {
    assert.equal(errorHasBody(new S3Error('NotModified'), 'GET'), false);
    assert.equal(errorHasBody(new S3Error('NoSuchKey'), 'HEAD'), false);
    assert.equal(errorHasBody(new S3Error('NoSuchKey'), 'head'), false);
    assert.equal(errorHasBody(new S3Error('NoSuchKey'), 'GET'), true);
  });
});
