// A local stand-in for an LLM provider: records exactly what it received (method,
// path, headers, raw body) and answers JSON or an SSE stream written in the
// fragments the test chooses (so events, and values inside them, can be split
// anywhere). Default answers follow the OpenAI / Anthropic formats closely enough
// for the official SDKs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

export type MockAnswer =
  | { status?: number; json: unknown; headers?: Record<string, string>; delayMs?: number }
  | { status?: number; sse: string[]; delayMs?: number };

export interface MockLlm {
  url: string;
  received: Received[];
  /** Answer the next requests with this function (default: a fixed text per API). */
  respond(fn: ((r: Received) => MockAnswer) | null): void;
  close(): Promise<void>;
}

export function chatJson(text: string, usage = { prompt_tokens: 10, completion_tokens: 5 }): unknown {
  return {
    id: 'chatcmpl-mock',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, finish_reason: 'stop', logprobs: null }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

export function anthropicJson(text: string, usage = { input_tokens: 10, output_tokens: 5 }): unknown {
  return { id: 'msg_mock', type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage };
}

/** OpenAI chat-completion chunks, one SSE event per text piece, then usage and [DONE]. */
export function chatSseEvents(pieces: string[], usage = { prompt_tokens: 10, completion_tokens: 5 }): string[] {
  const base = { id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini' };
  const ev = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  return [
    ev({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
    ...pieces.map((p) => ev({ ...base, choices: [{ index: 0, delta: { content: p }, finish_reason: null }] })),
    ev({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
    ev({ ...base, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }),
    'data: [DONE]\n\n',
  ];
}

/** Anthropic Messages stream events, one text_delta per piece. */
export function anthropicSseEvents(pieces: string[], usage = { input_tokens: 10, output_tokens: 5 }): string[] {
  const ev = (name: string, o: unknown) => `event: ${name}\ndata: ${JSON.stringify(o)}\n\n`;
  return [
    ev('message_start', { type: 'message_start', message: { id: 'msg_mock', type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input_tokens, output_tokens: 1 } } }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ...pieces.map((p) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } })),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } }),
    ev('message_stop', { type: 'message_stop' }),
  ];
}

/** Re-cut a list of SSE events into arbitrary fragments at the given character offsets of their concatenation. */
export function splitAt(events: string[], offsets: number[]): string[] {
  const all = events.join('');
  const out: string[] = [];
  let pos = 0;
  for (const o of [...offsets].sort((a, b) => a - b)) {
    out.push(all.slice(pos, o));
    pos = o;
  }
  out.push(all.slice(pos));
  return out.filter((s) => s.length > 0);
}

function defaultAnswer(r: Received): MockAnswer {
  const stream = r.json?.stream === true;
  if (r.path.endsWith('/messages/count_tokens')) return { json: { input_tokens: 42 } };
  if (r.path.endsWith('/messages')) return stream ? { sse: anthropicSseEvents(['Hello', ' from', ' mock']) } : { json: anthropicJson('Hello from mock') };
  if (r.path.endsWith('/embeddings')) return { json: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 3, total_tokens: 3 } } };
  if (r.path.endsWith('/models')) return { json: { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'mock' }] } };
  return stream ? { sse: chatSseEvents(['Hello', ' from', ' mock']) } : { json: chatJson('Hello from mock') };
}

export async function startMockLlm(): Promise<MockLlm> {
  const received: Received[] = [];
  let responder: ((r: Received) => MockAnswer) | null = null;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: any;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json };
    received.push(r);
    const a = (responder ?? defaultAnswer)(r);
    if ('json' in a) {
      if (a.delayMs) await new Promise((resolve) => setTimeout(resolve, a.delayMs));
      const s = JSON.stringify(a.json);
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...(a.headers ?? {}) });
      res.end(s);
      return;
    }
    res.writeHead(a.status ?? 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const frag of a.sse) {
      if (res.destroyed) return;
      res.write(frag);
      await new Promise((resolve) => setTimeout(resolve, a.delayMs ?? 2));
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    respond(fn) {
      responder = fn;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
