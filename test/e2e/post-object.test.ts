// Browser POST uploads: forms built like a browser builds them (fetch + FormData,
// multipart/form-data), with a policy signed by the SigV4 signing key, as in
// AWS's sigv4-post-example.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash, createHmac } from 'node:crypto';
import { S3Client, CreateBucketCommand, GetObjectCommand, HeadObjectCommand, GetObjectTaggingCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';

let fg: TestFedgate;
let s3: S3Client;

before(async () => {
  fg = await startTestFedgate();
  s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'forms' }));
});
after(async () => fg?.stop());

const hmac = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();

interface FormOpts {
  conditions: unknown[];
  fields: Record<string, string>;
  file: Buffer;
  filename?: string;
  expiration?: Date;
  secret?: string;
}

/** The form a page's upload script builds: fields first, `file` last. */
function buildForm(o: FormOpts): FormData {
  const date = '20260101';
  const amzDate = `${date}T000000Z`;
  const credential = `${fg.accessKeyId}/${date}/us-east-1/s3/aws4_request`;
  const policy = Buffer.from(
    JSON.stringify({
      expiration: (o.expiration ?? new Date(Date.now() + 3600_000)).toISOString(),
      conditions: [{ bucket: 'forms' }, { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' }, { 'x-amz-credential': credential }, { 'x-amz-date': amzDate }, ...o.conditions],
    }),
  ).toString('base64');
  const key = hmac(hmac(hmac(hmac('AWS4' + (o.secret ?? fg.secretAccessKey), date), 'us-east-1'), 's3'), 'aws4_request');
  const form = new FormData();
  for (const [k, v] of Object.entries(o.fields)) form.append(k, v);
  form.append('x-amz-algorithm', 'AWS4-HMAC-SHA256');
  form.append('x-amz-credential', credential);
  form.append('x-amz-date', amzDate);
  form.append('policy', policy);
  form.append('x-amz-signature', createHmac('sha256', key).update(policy).digest('hex'));
  form.append('file', new Blob([o.file], { type: 'application/octet-stream' }), o.filename ?? 'upload.bin');
  return form;
}

function post(form: FormData, extra: RequestInit = {}) {
  return fetch(`${fg.endpoint}/forms`, { method: 'POST', body: form, ...extra });
}

async function missing(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: 'forms', Key: key }));
    return false;
  } catch (e) {
    return e instanceof S3ServiceException && e.$metadata.httpStatusCode === 404;
  }
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

test('a form POST stores the file under key with ${filename}, Content-Type and metadata, and answers 204', async () => {
  const file = Buffer.from('PNG-bytes-here');
  const res = await post(
    buildForm({
      conditions: [['starts-with', '$key', 'uploads/'], ['starts-with', '$Content-Type', 'image/'], { 'x-amz-meta-owner': 'ana' }, ['content-length-range', 1, 1024]],
      fields: { key: 'uploads/${filename}', 'Content-Type': 'image/png', 'x-amz-meta-owner': 'ana' },
      file,
      filename: 'photo.png',
    }),
  );
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('etag'), `"${md5(file)}"`);
  assert.equal(res.headers.get('location'), `${fg.endpoint}/forms/uploads/photo.png`);
  const got = await s3.send(new GetObjectCommand({ Bucket: 'forms', Key: 'uploads/photo.png' }));
  assert.equal(got.ContentType, 'image/png');
  assert.deepEqual(got.Metadata, { owner: 'ana' });
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(file));
});

test('success_action_status=201 answers the PostResponse document; a tagging field tags the object', async () => {
  const file = Buffer.from('two-oh-one');
  const tagging = '<Tagging><TagSet><Tag><Key>src</Key><Value>form</Value></Tag></TagSet></Tagging>';
  const res = await post(buildForm({ conditions: [{ key: 'r/201.txt' }, { success_action_status: '201' }, { tagging }], fields: { key: 'r/201.txt', success_action_status: '201', tagging }, file }));
  assert.equal(res.status, 201);
  assert.equal(
    await res.text(),
    `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${fg.endpoint}/forms/r/201.txt</Location><Bucket>forms</Bucket><Key>r/201.txt</Key><ETag>&quot;${md5(file)}&quot;</ETag></PostResponse>`,
  );
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'forms', Key: 'r/201.txt' }))).TagSet, [{ Key: 'src', Value: 'form' }]);
});

test('success_action_redirect answers 303 to the page with bucket, key and etag', async () => {
  const file = Buffer.from('redirected');
  const res = await post(
    buildForm({ conditions: [{ key: 'r/303.txt' }, ['starts-with', '$success_action_redirect', 'https://app.example.com/']], fields: { key: 'r/303.txt', success_action_redirect: 'https://app.example.com/done?x=1' }, file }),
    { redirect: 'manual' },
  );
  assert.equal(res.status, 303);
  const loc = new URL(res.headers.get('location')!);
  assert.equal(loc.origin + loc.pathname, 'https://app.example.com/done');
  assert.deepEqual([...loc.searchParams], [['x', '1'], ['bucket', 'forms'], ['key', 'r/303.txt'], ['etag', `"${md5(file)}"`]]);
  await res.text();
});

test('a policy violation is 403 AccessDenied "Invalid according to Policy" and stores nothing', async () => {
  let res = await post(buildForm({ conditions: [['starts-with', '$key', 'uploads/']], fields: { key: 'elsewhere/x.txt' }, file: Buffer.from('x') }));
  assert.equal(res.status, 403);
  assert.match(await res.text(), /<Code>AccessDenied<\/Code><Message>Invalid according to Policy: Policy Condition failed: \[&quot;starts-with&quot;, &quot;\$key&quot;, &quot;uploads\/&quot;\]<\/Message>/);
  assert.ok(await missing('elsewhere/x.txt'));

  res = await post(buildForm({ conditions: [{ key: 'extra.txt' }], fields: { key: 'extra.txt', 'x-amz-meta-sneaky': '1' }, file: Buffer.from('x') }));
  assert.equal(res.status, 403);
  assert.match(await res.text(), /Invalid according to Policy: Extra input fields: x-amz-meta-sneaky/);

  res = await post(buildForm({ conditions: [{ key: 'old.txt' }], fields: { key: 'old.txt' }, file: Buffer.from('x'), expiration: new Date(Date.now() - 1000) }));
  assert.equal(res.status, 403);
  assert.match(await res.text(), /Invalid according to Policy: Policy expired\./);
  assert.ok(await missing('old.txt'));
});

test('a policy signed with the wrong secret is SignatureDoesNotMatch', async () => {
  const res = await post(buildForm({ conditions: [{ key: 'sig.txt' }], fields: { key: 'sig.txt' }, file: Buffer.from('x'), secret: 'not-the-secret' }));
  assert.equal(res.status, 403);
  assert.match(await res.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
  assert.ok(await missing('sig.txt'));
});

test('a file over content-length-range is EntityTooLarge, under it EntityTooSmall, and nothing is stored or left spooled', async () => {
  let res = await post(buildForm({ conditions: [{ key: 'big.bin' }, ['content-length-range', 0, 1000]], fields: { key: 'big.bin' }, file: Buffer.alloc(8 * 1024 * 1024, 7) }));
  assert.equal(res.status, 400);
  const body = await res.text();
  assert.match(body, /<Code>EntityTooLarge<\/Code>/);
  assert.match(body, /<MaxSizeAllowed>1000<\/MaxSizeAllowed>/);
  assert.ok(await missing('big.bin'));

  res = await post(buildForm({ conditions: [{ key: 'small.bin' }, ['content-length-range', 10, 1000]], fields: { key: 'small.bin' }, file: Buffer.from('abc') }));
  assert.equal(res.status, 400);
  assert.match(await res.text(), /<Code>EntityTooSmall<\/Code>.*<ProposedSize>3<\/ProposedSize><MinSizeAllowed>10<\/MinSizeAllowed>/);
  assert.ok(await missing('small.bin'));
  const spool = await fs.readdir(path.join(fg.dataDir, 'tmp')).catch(() => []);
  assert.deepEqual(spool, []);
});

test('a form without a file or without key is refused with InvalidArgument; a non-form POST with PreconditionFailed', async () => {
  const noFile = buildForm({ conditions: [{ key: 'k' }], fields: { key: 'k' }, file: Buffer.from('x') });
  noFile.delete('file');
  let res = await post(noFile);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /<Code>InvalidArgument<\/Code><Message>POST requires exactly one file upload per request\.<\/Message>/);
  res = await post(buildForm({ conditions: [], fields: {}, file: Buffer.from('x') }));
  assert.equal(res.status, 400);
  assert.match(await res.text(), /<ArgumentName>key<\/ArgumentName>/);
  res = await fetch(`${fg.endpoint}/forms`, { method: 'POST', body: 'key=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(res.status, 412);
  assert.match(await res.text(), /<Code>PreconditionFailed<\/Code>/);
});
