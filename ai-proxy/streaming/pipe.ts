// An upstream SSE answer to the client, event by event. Text deltas go through one
// hold-back guard per content block; a block's held text is released (as a synthetic
// delta event) before the event that ends the block. A BLOCK finding ends the stream
// with the provider's error event: the forbidden text is never written.
import type http from 'node:http';
import type { Finding } from '../detection/types.ts';
import { responseSlots, streamBlockEnds, streamDelta, streamErrorEvent, synthDelta, usageOf, type Family, type Route, type Slot, type Usage } from '../providers.ts';
import type { UpstreamResponse } from '../upstream.ts';
import { createSseParser, formatSse, type SseEvent } from './sse.ts';
import type { TextGuard } from './guard.ts';

export interface PipeOptions {
  route: Route;
  family: Family;
  up: UpstreamResponse;
  res: http.ServerResponse;
  guardFor(): TextGuard;
  overheadMs: number;
}

export interface PipeResult {
  usage: Usage | null;
  findings: Finding[];
  block?: Finding;
}

/** Whole texts repeated in summary events (Responses API `.done` / `response.completed`, Anthropic `message_start`). */
function summarySlots(route: Route, data: Record<string, any>): Slot[] {
  const out: Slot[] = [];
  if (route === 'responses') {
    if (data.response) out.push(...responseSlots('responses', data.response));
    if (typeof data.text === 'string') out.push({ text: data.text, role: 'assistant', set: (v) => (data.text = v) });
    if (data.part && typeof data.part.text === 'string') out.push({ text: data.part.text, role: 'assistant', set: (v) => (data.part.text = v) });
    if (data.item) out.push(...responseSlots('responses', { output: [data.item] }));
  } else if (route === 'messages' && data.message) out.push(...responseSlots('messages', data.message));
  return out;
}

export function pipeStream(o: PipeOptions): Promise<PipeResult> {
  const { route, family, up, res } = o;
  res.writeHead(up.res.statusCode ?? 200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-fedgate-overhead-ms': o.overheadMs.toFixed(2),
  });
  res.flushHeaders();
  const guards = new Map<string, TextGuard>();
  const findings: Finding[] = [];
  let usage: Usage | null = null;
  let template: Record<string, any> = {};
  let block: Finding | undefined;

  return new Promise((resolve) => {
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      if (!res.writableEnded) res.end();
      resolve({ usage, findings, block });
    };
    const stop = (f: Finding) => {
      block = f;
      res.write(streamErrorEvent(family, 'response_blocked', `the answer was stopped by Fedgate detection rule ${f.ruleId}`));
      up.abort();
      finish();
    };
    const releaseKey = (key: string): boolean => {
      const g = guards.get(key);
      if (!g) return true;
      guards.delete(key);
      const out = g.flush();
      findings.push(...out.findings);
      const ev = synthDelta(route, key, out.text, template);
      if (out.text) res.write(formatSse({ event: ev.event, data: JSON.stringify(ev.data) }));
      if (out.block) {
        stop(out.block);
        return false;
      }
      return true;
    };
    const onEvent = (ev: SseEvent) => {
      if (settled) return;
      let data: Record<string, any> | undefined;
      if (ev.data && ev.data !== '[DONE]') {
        try {
          data = JSON.parse(ev.data);
        } catch {
          data = undefined;
        }
      }
      if (!data || typeof data !== 'object') {
        if (ev.data === '[DONE]') for (const key of [...guards.keys()]) if (!releaseKey(key)) return;
        res.write(formatSse(ev));
        return;
      }
      const u = usageOf(data);
      if (u) {
        usage = {
          inputTokens: u.inputTokens || usage?.inputTokens || 0,
          outputTokens: u.outputTokens || usage?.outputTokens || 0,
        };
      }
      const d = streamDelta(route, ev.event, data);
      if (d) {
        template = data;
        let g = guards.get(d.key);
        if (!g) guards.set(d.key, (g = o.guardFor()));
        const out = g.push(d.text);
        findings.push(...out.findings);
        d.set(out.text);
        if (out.block) {
          if (out.text) res.write(formatSse({ event: ev.event, data: JSON.stringify(data) }));
          stop(out.block);
          return;
        }
        res.write(formatSse({ event: ev.event, data: JSON.stringify(data), other: ev.other }));
        return;
      }
      for (const key of streamBlockEnds(route, data)) if (!releaseKey(key)) return;
      const slots = summarySlots(route, data);
      for (const s of slots) {
        const g = o.guardFor();
        const a = g.push(s.text);
        const b = a.block ? a : g.flush();
        // Findings were counted on the deltas already; summaries are only rewritten.
        if (a.block || b.block) return stop((a.block ?? b.block)!);
        s.set(a.text + b.text);
      }
      res.write(formatSse({ event: ev.event, data: slots.length > 0 ? JSON.stringify(data) : ev.data, other: ev.other }));
    };
    const parser = createSseParser(onEvent);
    up.res.on('data', (c: Buffer) => parser.push(c));
    up.res.on('end', () => {
      parser.end();
      for (const key of [...guards.keys()]) if (!releaseKey(key)) return;
      finish();
    });
    up.res.on('error', () => finish());
    up.res.on('close', () => finish());
    res.on('close', () => {
      if (!settled) up.abort();
      finish();
    });
  });
}
