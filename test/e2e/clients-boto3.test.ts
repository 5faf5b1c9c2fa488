// boto3, the Python SDK, with its default settings (flexible checksums on, CRC32 trailers)
// against a whole Fedgate: the object operations, a multipart upload_file, a presigned PUT,
// ranged and checksum-validated reads, and S3 error codes as boto3 sees them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';
import { requireClient, run } from '../helpers/clients.ts';

let fg: TestFedgate;
let dir: string;

// The python3 on PATH (pip's boto3), else Debian's /usr/bin/python3 with python3-boto3.
const python = (async () => {
  for (const py of ['python3', '/usr/bin/python3']) if ((await run(py, ['-c', 'import boto3'], process.env)).code === 0) return py;
  return null;
})();

before(async () => {
  fg = await startTestFedgate();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fedgate-boto3-'));
});

after(async () => {
  await fg?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

// Every step prints one JSON line; the assertions live in TypeScript below.
const SCRIPT = String.raw`
import boto3, json, os, sys, hashlib, http.client, urllib.parse
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
ep, d = sys.argv[1], sys.argv[2]
s3 = boto3.client('s3', endpoint_url=ep, region_name='us-east-1')
out = {}
def code(fn):
    try:
        fn()
        return None
    except ClientError as e:
        return [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
s3.create_bucket(Bucket='boto')
out['dup'] = code(lambda: s3.create_bucket(Bucket='boto'))
r = s3.put_object(Bucket='boto', Key='hello.txt', Body=b'hello boto3', ContentType='text/plain', Metadata={'k': 'v'}, ChecksumAlgorithm='SHA256')
out['put_sha256'] = r.get('ChecksumSHA256')
h = s3.head_object(Bucket='boto', Key='hello.txt', ChecksumMode='ENABLED')
out['head'] = [h['ContentLength'], h['ContentType'], h['Metadata'], h.get('ChecksumSHA256')]
g = s3.get_object(Bucket='boto', Key='hello.txt', Range='bytes=6-10')
out['range'] = [g['Body'].read().decode(), g['ContentRange']]
big = os.path.join(d, 'big.bin')
with open(big, 'wb') as f:
    f.write(os.urandom(12 * 1024 * 1024))
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
s3.upload_file(big, 'boto', 'big.bin', Config=cfg)
back = os.path.join(d, 'back.bin')
s3.download_file('boto', 'big.bin', back, Config=cfg)
out['big_same'] = open(big, 'rb').read() == open(back, 'rb').read()
hb = s3.head_object(Bucket='boto', Key='big.bin', ChecksumMode='ENABLED')
out['big_etag_parts'] = hb['ETag'].strip('"').split('-')[-1]
gb = s3.get_object(Bucket='boto', Key='big.bin', ChecksumMode='ENABLED')
out['big_get_same'] = hashlib.md5(gb['Body'].read()).hexdigest() == hashlib.md5(open(big, 'rb').read()).hexdigest()
out['part2'] = s3.head_object(Bucket='boto', Key='big.bin', PartNumber=2)['ContentLength']
s3.copy_object(Bucket='boto', Key='copy.txt', CopySource={'Bucket': 'boto', 'Key': 'hello.txt'})
url = s3.generate_presigned_url('put_object', Params={'Bucket': 'boto', 'Key': 'presigned.txt'}, ExpiresIn=300)
# http.client adds no Content-Type (urllib would add a form type the URL was not signed with).
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
conn.request('PUT', u.path + '?' + u.query, body=b'via presigned put')
resp = conn.getresponse()
out['presigned_status'] = resp.status
if resp.status != 200:
    sys.exit('presigned PUT failed: %s %s' % (resp.status, resp.read().decode()))
conn.close()
out['presigned_body'] = s3.get_object(Bucket='boto', Key='presigned.txt')['Body'].read().decode()
pages = s3.get_paginator('list_objects_v2').paginate(Bucket='boto', PaginationConfig={'PageSize': 2})
out['keys'] = [o['Key'] for p in pages for o in p.get('Contents', [])]
out['missing'] = code(lambda: s3.get_object(Bucket='boto', Key='nope'))
out['head_missing'] = code(lambda: s3.head_object(Bucket='boto', Key='nope'))
out['no_bucket'] = code(lambda: s3.list_objects_v2(Bucket='no-such-boto'))
out['not_empty'] = code(lambda: s3.delete_bucket(Bucket='boto'))
out['bad_part'] = code(lambda: s3.get_object(Bucket='boto', Key='big.bin', PartNumber=9))
out['bad_range'] = code(lambda: s3.get_object(Bucket='boto', Key='hello.txt', Range='bytes=100-200'))
mp = s3.create_multipart_upload(Bucket='boto', Key='mp', ChecksumAlgorithm='CRC32', ChecksumType='FULL_OBJECT')
p1 = s3.upload_part(Bucket='boto', Key='mp', UploadId=mp['UploadId'], PartNumber=1, Body=b'a' * 100, ChecksumAlgorithm='CRC32')
c = s3.complete_multipart_upload(Bucket='boto', Key='mp', UploadId=mp['UploadId'], MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': p1['ETag'], 'ChecksumCRC32': p1['ChecksumCRC32']}]})
out['full_object'] = [c.get('ChecksumCRC32'), c.get('ChecksumType'), p1['ChecksumCRC32']]
d2 = s3.delete_objects(Bucket='boto', Delete={'Objects': [{'Key': k} for k in out['keys'] + ['mp']]})
out['deleted'] = len(d2.get('Deleted', []))
s3.delete_bucket(Bucket='boto')
print(json.dumps(out))
`;

test('boto3 with default settings: object operations, multipart upload_file, presigned PUT, errors', async (t) => {
  const py = await python;
  if (!requireClient(t, py !== null, 'boto3')) return;
  const script = path.join(dir, 'run.py');
  await fs.writeFile(script, SCRIPT);
  const r = await run(py!, [script, fg.endpoint, dir], fg.awsEnv());
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(out.dup, ['BucketAlreadyOwnedByYou', 409]);
  assert.equal(out.put_sha256, 'VTEB0HzzrtqA81LzmAgYUP6fo5AaqvUZj2Q6DZ6iO1c=');
  assert.deepEqual(out.head, [11, 'text/plain', { k: 'v' }, 'VTEB0HzzrtqA81LzmAgYUP6fo5AaqvUZj2Q6DZ6iO1c=']);
  assert.deepEqual(out.range, ['boto3', 'bytes 6-10/11']);
  assert.equal(out.big_same, true);
  assert.equal(out.big_etag_parts, '3');
  assert.equal(out.big_get_same, true);
  assert.equal(out.part2, 5 * 1024 * 1024);
  assert.equal(out.presigned_status, 200);
  assert.equal(out.presigned_body, 'via presigned put');
  assert.deepEqual(out.keys, ['big.bin', 'copy.txt', 'hello.txt', 'presigned.txt']);
  assert.deepEqual(out.missing, ['NoSuchKey', 404]);
  assert.deepEqual(out.head_missing, ['404', 404]);
  assert.deepEqual(out.no_bucket, ['NoSuchBucket', 404]);
  assert.deepEqual(out.not_empty, ['BucketNotEmpty', 409]);
  assert.deepEqual(out.bad_part, ['InvalidPartNumber', 416]);
  assert.deepEqual(out.bad_range, ['InvalidRange', 416]);
  assert.deepEqual(out.full_object, [out.full_object[2], 'FULL_OBJECT', out.full_object[2]], 'a one-part FULL_OBJECT CRC is the part CRC');
  assert.equal(out.deleted, 5);
});
