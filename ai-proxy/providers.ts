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
  /** The text is JSON source (tool-call arguments): originals put back into it must be JSON-escaped. */
  json?: boolean;
}

type J = Record<string, any>;
const isObj = (v: unknown): v is J => typeof v === 'object' && v !== null;

function strSlot(holder: J, prop: string | number, role: string, out: Slot[]): void {
  if (typeof holder[prop] === 'string') out.push({ text: holder[prop], role, set: (v) => (holder[prop] = v) });
}

/** Every string inside a JSON value (Anthropic tool_use `input`), keys excepted. */
function walkStrings(holder: J, prop: string | number, role: string, out: Slot[], depth = 0): void {
  const v = holder[prop];
  if (typeof v === 'string') return strSlot(holder, prop, role, out);
  if (depth > 32 || !isObj(v)) return;
  if (Array.isArray(v)) v.forEach((_, i) => walkStrings(v, i, role, out, depth + 1));
  else for (const k of Object.keys(v)) walkStrings(v, k, role, out, depth + 1);
}

/** OpenAI chat `tool_calls[].function.arguments` (JSON source) of a message or a stream delta. */
function toolCallSlots(message: J, role: string, out: Slot[]): void {
  if (!Array.isArray(message.tool_calls)) return;
  for (const tc of message.tool_calls) {
    if (isObj(tc) && isObj(tc.function) && typeof tc.function.arguments === 'string') out.push({ text: tc.function.arguments, role, json: true, set: (v) => (tc.function.arguments = v) });
  }
}

/** Responses API `function_call` items carry their arguments as JSON source. */
function functionCallSlot(item: J, role: string, out: Slot[]): void {
  if (item.type === 'function_call' && typeof item.arguments === 'string') out.push({ text: item.arguments, role, json: true, set: (v) => (item.arguments = v) });
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
    // Anthropic tool calls: the arguments are a JSON object.
    if (part.type === 'tool_use' && isObj(part.input)) walkStrings(part, 'input', role, out);
  });
}

export function requestSlots(route: Route, body: J): Slot[] {
  const out: Slot[] = [];
  if (route === 'chat') {
    if (Array.isArray(body.messages)) {
      for (const m of body.messages) {
        if (!isObj(m)) continue;
        contentSlots(m, 'content', String(m.role ?? 'user'), out);
        // Earlier tool calls come back in the history with the originals restored.
        toolCallSlots(m, String(m.role ?? 'assistant'), out);
      }
    }
  } else if (route === 'responses') {
    strSlot(body, 'instructions', 'system', out);
    if (typeof body.input === 'string') strSlot(body, 'input', 'user', out);
    else if (Array.isArray(body.input)) {
      for (const item of body.input) {
        if (!isObj(item)) continue;
        contentSlots(item, 'content', String(item.role ?? 'user'), out);
        if (typeof item.output === 'string') strSlot(item, 'output', 'tool', out);
        functionCallSlot(item, 'assistant', out);
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
    for (const c of body.choices) {
      if (!isObj(c?.message)) continue;
      contentSlots(c.message, 'content', 'assistant', out);
      toolCallSlots(c.message, 'assistant', out);
    }
  } else if (route === 'responses') {
    strSlot(body, 'output_text', 'assistant', out);
    if (Array.isArray(body.output)) {
      for (const item of body.output) {
        if (!isObj(item)) continue;
        contentSlots(item, 'content', 'assistant', out);
        functionCallSlot(item, 'assistant', out);
      }
    }
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

/** A text or tool-argument delta carried by a stream event, keyed by the content block it belongs to. */
export interface StreamDelta {
  key: string;
  text: string;
  /** Tool-call arguments (JSON source) rather than answer text. */
  json: boolean;
  set(v: string): void;
}

export function streamDeltas(route: Route, data: J): StreamDelta[] {
  const out: StreamDelta[] = [];
  if (route === 'chat') {
    for (const c of Array.isArray(data.choices) ? data.choices : []) {
      if (!isObj(c) || !isObj(c.delta)) continue;
      const ci = c.index ?? 0;
      const d = c.delta;
      if (typeof d.content === 'string') out.push({ key: `c${ci}`, text: d.content, json: false, set: (v) => (d.content = v) });
      for (const tc of Array.isArray(d.tool_calls) ? d.tool_calls : []) {
        if (isObj(tc) && isObj(tc.function) && typeof tc.function.arguments === 'string') {
          out.push({ key: `c${ci}.t${tc.index ?? 0}`, text: tc.function.arguments, json: true, set: (v) => (tc.function.arguments = v) });
        }
      }
    }
  } else if (route === 'responses') {
    if (data.type === 'response.output_text.delta' && typeof data.delta === 'string') {
      out.push({ key: `o${data.output_index ?? 0}.${data.content_index ?? 0}`, text: data.delta, json: false, set: (v) => (data.delta = v) });
    } else if (data.type === 'response.function_call_arguments.delta' && typeof data.delta === 'string') {
      out.push({ key: `f${data.output_index ?? 0}`, text: data.delta, json: true, set: (v) => (data.delta = v) });
    }
  } else if (route === 'messages' && data.type === 'content_block_delta' && isObj(data.delta)) {
    const d = data.delta;
    if (d.type === 'text_delta' && typeof d.text === 'string') out.push({ key: `b${data.index ?? 0}`, text: d.text, json: false, set: (v) => (d.text = v) });
    else if (d.type === 'input_json_delta' && typeof d.partial_json === 'string') out.push({ key: `b${data.index ?? 0}`, text: d.partial_json, json: true, set: (v) => (d.partial_json = v) });
  }
  return out;
}

/**
 * Keys whose held-back text must be sent before this event (the block or choice ends
 * here); a key also ends every key below it (`c0` ends the tool calls `c0.t<n>`).
 */
export function streamBlockEnds(route: Route, data: J): string[] {
  if (route === 'chat') {
    const keys: string[] = [];
    for (const c of Array.isArray(data.choices) ? data.choices : []) if (c?.finish_reason) keys.push(`c${c.index ?? 0}`);
    return keys;
  }
  if (route === 'responses' && data.type === 'response.output_text.done') return [`o${data.output_index ?? 0}.${data.content_index ?? 0}`];
  if (route === 'responses' && (data.type === 'response.function_call_arguments.done' || data.type === 'response.output_item.done')) return [`f${data.output_index ?? 0}`];
  if (route === 'messages' && data.type === 'content_block_stop') return [`b${data.index ?? 0}`];
  return [];
}

/** An event carrying `text` as the delta of block `key`, shaped after `template` (the block's last delta event). */
export function synthDelta(route: Route, key: string, text: string, template: J, json: boolean): { event?: string; data: J } {
  if (route === 'chat') {
    const [c, t] = key.slice(1).split('.t').map(Number);
    const delta = json ? { tool_calls: [{ index: t, function: { arguments: text } }] } : { content: text };
    return { data: { id: template.id, object: 'chat.completion.chunk', created: template.created, model: template.model, choices: [{ index: c, delta, finish_reason: null }] } };
  }
  if (route === 'responses') {
    if (json) return { event: 'response.function_call_arguments.delta', data: { type: 'response.function_call_arguments.delta', item_id: template.item_id, output_index: Number(key.slice(1)), delta: text } };
    const [o, c] = key.slice(1).split('.').map(Number);
    return { event: 'response.output_text.delta', data: { type: 'response.output_text.delta', item_id: template.item_id, output_index: o, content_index: c, delta: text } };
  }
  const delta = json ? { type: 'input_json_delta', partial_json: text } : { type: 'text_delta', text };
  return { event: 'content_block_delta', data: { type: 'content_block_delta', index: Number(key.slice(1)), delta } };
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
