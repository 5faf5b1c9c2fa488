// A real browser (headless Chromium through playwright-core) uploads with an HTML form
// served from another origin: once as a plain form submission that follows
// success_action_redirect, once with fetch(FormData), which needs the bucket's CORS
// rule to read the answer. Skipped where Chromium is not installed (apt: chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, createHmac } from 'node:crypto';
import { chromium, type Browser } from 'playwright-core';
import { CreateBucketCommand, GetObjectCommand, PutBucketCorsCommand } from '@aws-sdk/client-s3';
import { startTestFedgate, type TestFedgate } from '../helpers/fedgate.ts';

const CHROMIUM = '/usr/bin/chromium';
// Under CI (where .ci/run installs chromium) a missing browser is a failure, not a skip.
if (!fs.existsSync(CHROMIUM) && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs the chromium package`);
const skip = fs.existsSync(CHROMIUM) ? false : 'chromium is not installed';

let fg: TestFedgate;
let page: http.Server;
let pageOrigin: string;
let browser: Browser;

const hmac = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The upload page a web app would serve: a signed policy in hidden fields, then the file input. */
function uploadPage(mode: 'form' | 'fetch'): string {
  const date = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  const credential = `${fg.accessKeyId}/${date}/us-east-1/s3/aws4_request`;
  const amzDate = `${date}T000000Z`;
  const policy = Buffer.from(
    JSON.stringify({
      expiration: new Date(Date.now() + 600_000).toISOString(),
      conditions: [
        { bucket: 'browser' },
        ['starts-with', '$key', 'web/'],
        mode === 'form' ? ['starts-with', '$success_action_redirect', pageOrigin] : { success_action_status: '201' },
        ['starts-with', '$Content-Type', 'text/'],
        ['content-length-range', 1, 1024 * 1024],
        { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
        { 'x-amz-credential': credential },
        { 'x-amz-date': amzDate },
      ],
    }),
  ).toString('base64');
  const signingKey = hmac(hmac(hmac(hmac('AWS4' + fg.secretAccessKey, date), 'us-east-1'), 's3'), 'aws4_request');
  const fields: [string, string][] = [
    ['key', 'web/${filename}'],
    mode === 'form' ? ['success_action_redirect', `${pageOrigin}/done`] : ['success_action_status', '201'],
    ['Content-Type', 'text/plain'],
    ['x-amz-algorithm', 'AWS4-HMAC-SHA256'],
    ['x-amz-credential', credential],
    ['x-amz-date', amzDate],
    ['policy', policy],
    ['x-amz-signature', createHmac('sha256', signingKey).update(policy).digest('hex')],
  ];
  return `<!doctype html><html><body>
<form id="up" action="${fg.endpoint}/browser" method="post" enctype="multipart/form-data">
${fields.map(([n, v]) => `<input type="hidden" name="${esc(n)}" value="${esc(v)}">`).join('\n')}
<input type="file" name="file"><button type="submit">Upload</button>
</form></body></html>`;
}

before(async () => {
  if (skip) return;
  fg = await startTestFedgate();
  const s3 = fg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'browser' }));
  page = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(req.url?.startsWith('/done') ? '<html><body>done</body></html>' : uploadPage(req.url?.includes('fetch') ? 'fetch' : 'form'));
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  // `localhost` and 127.0.0.1 are different origins: the page is cross-origin to the gateway.
  pageOrigin = `http://localhost:${(page.address() as AddressInfo).port}`;
  await s3.send(new PutBucketCorsCommand({ Bucket: 'browser', CORSConfiguration: { CORSRules: [{ AllowedOrigins: [pageOrigin], AllowedMethods: ['POST'], ExposeHeaders: ['ETag', 'Location'] }] } }));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  if (page) await new Promise((r) => page.close(r));
  await fg?.stop();
});

test('Chromium submits the HTML form: the file is stored and the browser lands on success_action_redirect', { skip }, async () => {
  const tab = await browser.newPage();
  await tab.goto(pageOrigin + '/');
  const text = 'hello from a real browser form\n';
  await tab.setInputFiles('input[type=file]', { name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
  await Promise.all([tab.waitForURL(/\/done\?/), tab.click('button[type=submit]')]);
  const landed = new URL(tab.url());
  const etag = `"${createHash('md5').update(text).digest('hex')}"`;
  assert.deepEqual([...landed.searchParams], [['bucket', 'browser'], ['key', 'web/note.txt'], ['etag', etag]]);
  const got = await fg.client().send(new GetObjectCommand({ Bucket: 'browser', Key: 'web/note.txt' }));
  assert.equal(got.ContentType, 'text/plain');
  assert.equal(await got.Body!.transformToString(), text);
  await tab.close();
});

test('Chromium uploads with fetch(FormData) cross-origin and reads the 201 answer thanks to the CORS rule', { skip }, async () => {
  const tab = await browser.newPage();
  await tab.goto(pageOrigin + '/?fetch');
  // Runs in the page (a string: the test's TypeScript has no DOM types).
  const out = (await tab.evaluate(`(async () => {
    const form = document.getElementById('up');
    const fd = new FormData(form);
    fd.set('file', new File(['via fetch'], 'fetched.txt', { type: 'text/plain' }));
    const r = await fetch(form.action, { method: 'POST', body: fd });
    return { status: r.status, etag: r.headers.get('etag'), body: await r.text() };
  })()`)) as { status: number; etag: string | null; body: string };
  const etag = `"${createHash('md5').update('via fetch').digest('hex')}"`;
  assert.equal(out.status, 201);
  assert.equal(out.etag, etag, 'ETag is readable: the rule exposes it');
  assert.match(out.body, /<Bucket>browser<\/Bucket><Key>web\/fetched.txt<\/Key>/);
  const got = await fg.client().send(new GetObjectCommand({ Bucket: 'browser', Key: 'web/fetched.txt' }));
  assert.equal(await got.Body!.transformToString(), 'via fetch');
  await tab.close();
});
