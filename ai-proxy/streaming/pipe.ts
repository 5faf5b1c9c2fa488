// An upstream SSE answer to the client, event by event. Text deltas go through one
// hold-back guard per content block; a block's held text is released (as a synthetic
// delta event) before the event that ends the block. A BLOCK finding ends the stream
// with the provider's error event: the forbidden text is never written.
import type http from 'node:http';
import type { Finding } from '../detection/types.ts';
import { responseSlots, streamBlockEnds, streamDeltas, streamErrorEvent, synthDelta, usageOf, type Family, type Route, type Slot, type Usage } from '../providers.ts';
import type { UpstreamResponse } from '../upstream.ts';
import { createSseParser, formatSse, type SseEvent } from './sse.ts';
import type { TextGuard } from './guard.ts';

export interface PipeOptions {
  route: Route;
  family: Family;
  up: UpstreamResponse;
  res: http.ServerResponse;
  /** A guard for one block; `json`: the block is tool-call arguments (JSON source). */
  guardFor(json: boolean): TextGuard;
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
    if (data.type === 'response.function_call_arguments.done' && typeof data.arguments === 'string') out.push({ text: data.arguments, role: 'assistant', json: true, set: (v) => (data.arguments = v) });
    if (data.part && typeof data.part.text === 'string') out.push({ text: data.part.text, role: 'assistant', set: (v) => (data.part.text = v) });
    if (data.item) out.push(...responseSlots('responses', { output: [data.item] }));
  } else if (route === 'messages' && data.message) out.push(...responseSlots('messages', data.message));
  return out;
}

const endsKey = (end: string, key: string) => key === end || key.startsWith(`${end}.`);

export function pipeStream(o: PipeOptions): Promise<PipeResult> {
  const { route, family, up, res } = o;
  res.writeHead(up.res.statusCode ?? 200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-fedgate-overhead-ms': o.overheadMs.toFixed(2),
  });
  res.flushHeaders();
  const guards = new Map<string, { g: TextGuard; json: boolean; template: Record<string, any> }>();
  const findings: Finding[] = [];
  let usage: Usage | null = null;
  let block: Finding | undefined;

  return new Promise((resolve) => {
    let settled = false;
    // True while res is corked by us. end() on a corked chunked response sends the
    // final chunk before the corked data (Node 24), so the cork is always released first.
    let corked = false;
    const uncork = () => {
      if (!corked) return;
      corked = false;
      res.uncork();
    };
    // Set once the upstream answer has ended: its last events then stay corked until
    // finish(), which sends them and the end of the chunked body in one socket write.
    let upstreamEnded = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      if (!res.writableEnded) {
        // end() fully uncorks the socket again.
        res.socket?.cork();
        uncork();
        res.end();
      } else uncork();
      resolve({ usage, findings, block });
    };
    const stop = (f: Finding) => {
      block = f;
      res.write(streamErrorEvent(family, 'response_blocked', `the answer was stopped by Fedgate detection rule ${f.ruleId}`));
      up.abort();
      finish();
    };
    /** Sends what block `key` still holds as a synthetic delta; false when that ended the stream. */
    const releaseKey = async (key: string): Promise<boolean> => {
      const e = guards.get(key);
      if (!e) return true;
      guards.delete(key);
      const out = await e.g.flush();
      if (settled) return false;
      findings.push(...out.findings);
      const ev = synthDelta(route, key, out.text, e.template, e.json);
      if (out.text) res.write(formatSse({ event: ev.event, data: JSON.stringify(ev.data) }));
      if (out.block) {
        stop(out.block);
        return false;
      }
      return true;
    };
    const releaseEnded = async (ends: string[]): Promise<boolean> => {
      for (const key of [...guards.keys()]) if (ends.some((end) => endsKey(end, key)) && !(await releaseKey(key))) return false;
      return true;
    };
    const onEvent = async (ev: SseEvent): Promise<void> => {
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
        if (ev.data === '[DONE]' && !(await releaseEnded([...guards.keys()]))) return;
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
      const deltas = streamDeltas(route, data);
      if (deltas.length > 0) {
        let blocked: Finding | undefined;
        for (const d of deltas) {
          let e = guards.get(d.key);
          if (!e) guards.set(d.key, (e = { g: o.guardFor(d.json), json: d.json, template: data }));
          e.template = data;
          const out = await e.g.push(d.text);
          if (settled) return;
          findings.push(...out.findings);
          d.set(out.text);
          if (out.block) {
            blocked = out.block;
            // Deltas after the blocked one in this event must not leave.
            for (const later of deltas.slice(deltas.indexOf(d) + 1)) later.set('');
            break;
          }
        }
        if (blocked) {
          if (deltas.some((d) => d.text !== '')) res.write(formatSse({ event: ev.event, data: JSON.stringify(data) }));
          stop(blocked);
          return;
        }
        // An event that both carries a delta and ends its block (rare) keeps the order:
        // the delta first, then what the guards still held, then the end.
        const ends = streamBlockEnds(route, data);
        if (ends.length === 0) {
          res.write(formatSse({ event: ev.event, data: JSON.stringify(data), other: ev.other }));
          return;
        }
        const finishes = JSON.parse(JSON.stringify(data));
        res.write(formatSse({ event: ev.event, data: JSON.stringify(stripEnds(route, data)), other: ev.other }));
        if (!(await releaseEnded(ends))) return;
        res.write(formatSse({ event: ev.event, data: JSON.stringify(onlyEnds(route, finishes)) }));
        return;
      }
      if (!(await releaseEnded(streamBlockEnds(route, data)))) return;
      const slots = summarySlots(route, data);
      for (const s of slots) {
        const g = o.guardFor(s.json === true);
        const a = await g.push(s.text);
        const b = a.block ? a : await g.flush();
        if (settled) return;
        // Findings were counted on the deltas already; summaries are only rewritten.
        if (a.block || b.block) return stop((a.block ?? b.block)!);
        s.set(a.text + b.text);
      }
      res.write(formatSse({ event: ev.event, data: slots.length > 0 ? JSON.stringify(data) : ev.data, other: ev.other }));
    };
    // Events are handled one after the other (a guard may wait for the mask table).
    let chain: Promise<void> = Promise.resolve();
    const enqueue = (fn: () => Promise<void> | void) => {
      chain = chain.then(fn).catch(() => {
        up.abort();
        finish();
      });
    };
    const parser = createSseParser((ev) => enqueue(() => onEvent(ev)));
    // The events of one upstream chunk leave in one socket write (one TCP segment for
    // the client instead of one per event): corked here, uncorked once they are handled.
    up.res.on('data', (c: Buffer) => {
      // One cork at a time: a chunk that arrives while the last one is still being
      // handled must not hold that one's events back.
      if (!settled && !corked) {
        res.cork();
        corked = true;
      }
      parser.push(c);
      enqueue(() => {
        if (!upstreamEnded) uncork();
      });
    });
    up.res.on('end', () => {
      upstreamEnded = true;
      parser.end();
      enqueue(async () => {
        if (await releaseEnded([...guards.keys()])) finish();
      });
    });
    up.res.on('error', () => enqueue(finish));
    up.res.on('close', () => enqueue(finish));
    res.on('close', () => {
      if (!settled) up.abort();
      finish();
    });
  });
}

/** The event minus its finish markers (chat: finish_reason), for the rare event that has both. */
function stripEnds(route: Route, data: Record<string, any>): Record<string, any> {
  if (route === 'chat') for (const c of data.choices ?? []) if (c && c.finish_reason) c.finish_reason = null;
  return data;
}

/** The finish markers of an event without its deltas. */
function onlyEnds(route: Route, data: Record<string, any>): Record<string, any> {
  if (route === 'chat') for (const c of data.choices ?? []) if (c && c.delta) c.delta = {};
  return data;
}
