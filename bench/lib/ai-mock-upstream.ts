// A stand-in for the OpenAI Chat Completions API, run as its own process by
// bench/ai-proxy.ts so that neither the load generator nor the proxy pays for it. It
// answers as fast as it can: the body is not parsed (the `"stream":true` key is found
// by a byte search: inside a JSON string the quotes would be escaped), the answers are
// serialised once at start.
//
// It checks what the proxy must guarantee, cheaply: every request carries the
// provider key (BENCH_MOCK_KEY; the proxy adds it, the direct client sends it itself),
// and a request marked `x-stainless-bench-side: proxied` (a header the proxy passes on)
// must not contain any e-mail address of the prompts — the proxy masks them. A failed
// check answers 4xx (the proxy does not retry those), so the client's check fails.
//
// Prints `listening <port>` on stdout when ready. Exits on SIGTERM / SIGINT.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ANSWER, ANSWER_PIECES } from './ai-prompts.ts';

const key = process.env.BENCH_MOCK_KEY ?? '';
if (!key) {
  process.stderr.write('ai-mock-upstream: BENCH_MOCK_KEY is required\n');
  process.exit(2);
}
const wantAuth = `Bearer ${key}`;
const usage = { prompt_tokens: 1000, completion_tokens: 30, total_tokens: 1030 };
const base = { id: 'chatcmpl-bench', created: 1_700_000_000, model: 'gpt-4o-mini' };

const JSON_ANSWER = Buffer.from(
  JSON.stringify({
    ...base,
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: ANSWER, refusal: null }, finish_reason: 'stop', logprobs: null }],
    usage,
  }),
);
const chunk = (o: object) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...o })}\n\n`;
// One write per event, as a provider sends them (the proxy parses and re-emits each).
const SSE_EVENTS: Buffer[] = [
  chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
  ...ANSWER_PIECES.map((p) => chunk({ choices: [{ index: 0, delta: { content: p }, finish_reason: null }] })),
  chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
  chunk({ choices: [], usage }),
  'data: [DONE]\n\n',
].map((s) => Buffer.from(s));

const STREAM_KEY = Buffer.from('"stream":true');
const EMAIL_MARK = Buffer.from('@example.org');

function fail(res: http.ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: 'bench_check_failed' } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/chat/completions')) return fail(res, 404, `mock: no route ${req.method} ${req.url}`);
    if (req.headers.authorization !== wantAuth) return fail(res, 401, 'mock: wrong or missing provider key');
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (req.headers['x-stainless-bench-side'] === 'proxied' && body.includes(EMAIL_MARK)) return fail(res, 422, 'mock: an e-mail address of the prompt reached the upstream unmasked');
    if (body.includes(STREAM_KEY)) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const ev of SSE_EVENTS) res.write(ev);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(JSON_ANSWER.length) });
    res.end(JSON_ANSWER);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
