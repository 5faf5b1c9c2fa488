// Server-sent events framing (WHATWG HTML, "Server-sent events", §9.2.6): events are
// separated by a blank line; `event:` names the event, `data:` lines are joined with
// "\n". Upstream chunks split events (and UTF-8 characters) anywhere.

export interface SseEvent {
  event?: string;
  data: string;
  /** Other lines (id:, retry:, comments), kept as they came. */
  other: string[];
}

export function createSseParser(onEvent: (e: SseEvent) => void): { push(chunk: Buffer): void; end(): void } {
  const decoder = new TextDecoder('utf-8');
  let buf = '';
  const drain = (final: boolean) => {
    if (buf.includes('\r')) buf = buf.replace(/\r\n/g, '\n');
    let start = 0;
    let i: number;
    while ((i = buf.indexOf('\n\n', start)) >= 0) {
      emit(buf.slice(start, i));
      start = i + 2;
    }
    if (start > 0) buf = buf.slice(start);
    if (final && buf.trim() !== '') {
      emit(buf);
      buf = '';
    }
  };
  const emit = (raw: string) => {
    const ev: SseEvent = { data: '', other: [] };
    const data: string[] = [];
    for (const line of raw.split('\n')) {
      if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
      else if (line.startsWith('event:')) ev.event = line.slice(line[6] === ' ' ? 7 : 6);
      else if (line !== '') ev.other.push(line);
    }
    ev.data = data.join('\n');
    if (data.length > 0 || ev.event !== undefined || ev.other.length > 0) onEvent(ev);
  };
  return {
    push(chunk) {
      buf += decoder.decode(chunk, { stream: true });
      // A chunk may end between "\r" and "\n": keep the "\r" until the next one.
      if (buf.endsWith('\r')) {
        const keep = buf.slice(0, -1);
        const tail = '\r';
        buf = keep;
        drain(false);
        buf += tail;
        return;
      }
      drain(false);
    },
    end() {
      buf += decoder.decode();
      drain(true);
    },
  };
}

export function formatSse(e: { event?: string; data: string; other?: string[] }): string {
  let s = '';
  for (const o of e.other ?? []) s += `${o}\n`;
  if (e.event !== undefined) s += `event: ${e.event}\n`;
  if (!e.data.includes('\n')) s += `data: ${e.data}\n`;
  else for (const line of e.data.split('\n')) s += `data: ${line}\n`;
  return `${s}\n`;
}
