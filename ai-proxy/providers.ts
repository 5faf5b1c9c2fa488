// What differs between the OpenAI and Anthropic wire formats: where the text lives in
// requests, answers and stream events, where usage is reported, and how errors look.
// Sources: OpenAI API reference (Chat Completions, Responses, Embeddings, streaming
// events, error object) and Anthropic API reference (Messages, streaming messages,
// errors).

export type Route = 'chat' | 'responses' | 'embeddings' | 'models' | 'messages' | 'count_tokens';
export type Family = 'openai' | 'anthropic';

export const ROUTES: Record<string, { route: Route; method: string }> = {
  '/v1/chat/completions': { route: 'chat', method: 'POST' },
  '/v1/responses': { route: 'responses', method: 'POST' },
  '/v1/embeddings': { route: 'embeddings', method: 'POST' },
  '/v1/models': { route: 'models', method: 'GET' },
  '/v1/messages': { route: 'messages', method: 'POST' },
  '/v1/messages/count_tokens': { route: 'count_tokens', method: 'POST' },
};

export function familyOf(route: Route): Family {
  return route === 'messages' || route === 'count_tokens' ? 'anthropic' : 'openai';
}

/** A piece of text inside a JSON body that can be read and replaced. */
export interface Slot {
  text: string;
  set(v: string): void;
  /** 'system' | 'user' | 'assistant' | 'tool' ... */
  role: string;
}

type J = Record<string, any>;
const isObj = (v: unknown): v is J => typeof v === 'object' && v !== null;

function strSlot(holder: J, prop: string | number, role: string, out: Slot[]): void {
  if (typeof holder[prop] === 'string') out.push({ text: holder[prop], role, set: (v) => (holder[prop] = v) });
}

/** Text parts of a content value: a string, or an array of parts with `text` (OpenAI, Anthropic) or nested `content` (tool results). */
function contentSlots(holder: J, prop: string | number, role: string, out: Slot[]): void {
  const c = holder[prop];
  if (typeof c === 'string') return strSlot(holder, prop, role, out);
  if (!Array.isArray(c)) return;
  c.forEach((part, i) => {
    if (typeof part === 'string') return strSlot(c, i, role, out);
    if (!isObj(part)) return;
    strSlot(part, 'text', role, out);
    // Anthropic tool_result blocks carry their own content (string or blocks);
    // OpenAI Responses function_call_output items carry `output`.
    if (part.type === 'tool_result') contentSlots(part, 'content', 'tool', out);
    if (typeof part.output === 'string') strSlot(part, 'output', 'tool', out);
  });
}

export function requestSlots(route: Route, body: J): Slot[] {
  const out: Slot[] = [];
  if (route === 'chat') {
    if (Array.isArray(body.messages)) for (const m of body.messages) if (isObj(m)) contentSlots(m, 'content', String(m.role ?? 'user'), out);
  } else if (route === 'responses') {
    strSlot(body, 'instructions', 'system', out);
    if (typeof body.input === 'string') strSlot(body, 'input', 'user', out);
    else if (Array.isArray(body.input)) {
      for (const item of body.input) {
        if (!isObj(item)) continue;
        contentSlots(item, 'content', String(item.role ?? 'user'), out);
        if (typeof item.output === 'string') strSlot(item, 'output', 'tool', out);
      }
    }
  } else if (route === 'embeddings') {
    if (typeof body.input === 'string') strSlot(body, 'input', 'user', out);
    else if (Array.isArray(body.input)) body.input.forEach((_: unknown, i: number) => strSlot(body.input, i, 'user', out));
  } else if (route === 'messages' || route === 'count_tokens') {
    contentSlots(body, 'system', 'system', out);
    if (Array.isArray(body.messages)) for (const m of body.messages) if (isObj(m)) contentSlots(m, 'content', String(m.role ?? 'user'), out);
  }
  return out;
}

export function responseSlots(route: Route, body: J): Slot[] {
  const out: Slot[] = [];
  if (!isObj(body)) return out;
  if (route === 'chat' && Array.isArray(body.choices)) {
    for (const c of body.choices) if (isObj(c?.message)) contentSlots(c.message, 'content', 'assistant', out);
  } else if (route === 'responses') {
    strSlot(body, 'output_text', 'assistant', out);
    if (Array.isArray(body.output)) for (const item of body.output) if (isObj(item)) contentSlots(item, 'content', 'assistant', out);
  } else if (route === 'messages') {
    contentSlots(body, 'content', 'assistant', out);
  }
  return out;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** Usage from a whole answer or from one stream event's data; zeros where absent. */
export function usageOf(data: J): Usage | null {
  if (!isObj(data)) return null;
  const u = data.usage ?? data.response?.usage ?? data.message?.usage;
  if (!isObj(u)) return null;
  return {
    inputTokens: Number(u.prompt_tokens ?? u.input_tokens ?? 0) || 0,
    outputTokens: Number(u.completion_tokens ?? u.output_tokens ?? 0) || 0,
  };
}

/** The text delta carried by a stream event, keyed by the content block it belongs to. */
export interface StreamDelta {
  key: string;
  text: string;
  set(v: string): void;
}

export function streamDelta(route: Route, event: string | undefined, data: J): StreamDelta | null {
  if (route === 'chat') {
    const c = data.choices?.[0];
    if (isObj(c) && isObj(c.delta) && typeof c.delta.content === 'string') {
      return { key: `c${c.index ?? 0}`, text: c.delta.content, set: (v) => (c.delta.content = v) };
    }
  } else if (route === 'responses') {
    if (data.type === 'response.output_text.delta' && typeof data.delta === 'string') {
      return { key: `o${data.output_index ?? 0}.${data.content_index ?? 0}`, text: data.delta, set: (v) => (data.delta = v) };
    }
  } else if (route === 'messages') {
    if (data.type === 'content_block_delta' && data.delta?.type === 'text_delta' && typeof data.delta.text === 'string') {
      return { key: `b${data.index ?? 0}`, text: data.delta.text, set: (v) => (data.delta.text = v) };
    }
  }
  return null;
}

/** Keys whose held-back text must be sent before this event (the block or choice ends here). */
export function streamBlockEnds(route: Route, data: J): string[] {
  if (route === 'chat') {
    const keys: string[] = [];
    for (const c of Array.isArray(data.choices) ? data.choices : []) if (c?.finish_reason) keys.push(`c${c.index ?? 0}`);
    return keys;
  }
  if (route === 'responses' && data.type === 'response.output_text.done') return [`o${data.output_index ?? 0}.${data.content_index ?? 0}`];
  if (route === 'messages' && data.type === 'content_block_stop') return [`b${data.index ?? 0}`];
  return [];
}

/** An event carrying `text` as the delta of block `key`, shaped after `template` (an event of the same stream). */
export function synthDelta(route: Route, key: string, text: string, template: J): { event?: string; data: J } {
  if (route === 'chat') {
    return {
      data: { id: template.id, object: 'chat.completion.chunk', created: template.created, model: template.model, choices: [{ index: Number(key.slice(1)), delta: { content: text }, finish_reason: null }] },
    };
  }
  if (route === 'responses') {
    const [o, c] = key.slice(1).split('.').map(Number);
    return { event: 'response.output_text.delta', data: { type: 'response.output_text.delta', item_id: template.item_id, output_index: o, content_index: c, delta: text } };
  }
  return { event: 'content_block_delta', data: { type: 'content_block_delta', index: Number(key.slice(1)), delta: { type: 'text_delta', text } } };
}

/** Provider-format JSON error body. */
export function errorBody(family: Family, status: number, code: string, message: string): J {
  if (family === 'anthropic') return { type: 'error', error: { type: anthropicType(status), message } };
  return { error: { message, type: openaiType(status), param: null, code } };
}

function anthropicType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 413) return 'request_too_large';
  if (status >= 500) return status === 529 ? 'overloaded_error' : 'api_error';
  return 'invalid_request_error';
}

function openaiType(status: number): string {
  if (status === 401) return 'invalid_request_error';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The SSE error event that ends a stream, in the format each SDK turns into an exception. */
export function streamErrorEvent(family: Family, code: string, message: string): string {
  if (family === 'anthropic') return `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message } })}\n\n`;
  return `data: ${JSON.stringify({ error: { message, type: 'fedgate_policy', param: null, code } })}\n\n`;
}
