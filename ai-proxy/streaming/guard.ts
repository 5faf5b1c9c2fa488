// The hold-back buffer of the streaming guard (PRODUCT.md §7, "Output guarding on
// streams"). Text deltas of one content block go in; what comes out is safe to send:
// it was scanned with at least `holdBack` characters of look-ahead, so a secret or a
// placeholder split across SSE events is seen whole before any of it leaves. The same
// guard, pushed once and flushed, treats a whole (non-streamed) answer.
import type { Finding } from '../detection/types.ts';

export interface GuardOutput {
  /** Text to send now (redactions applied, placeholders restored). */
  text: string;
  /** A BLOCK finding: the caller must end the answer; `text` is what may still be sent before it. */
  block?: Finding;
  /** Findings inside the text released by this call. */
  findings: Finding[];
}

export interface GuardOptions {
  scan(text: string): Finding[];
  restore(text: string): string;
  /**
   * Characters always held back (at least the longest placeholder and the longest
   * finding that can contain whitespace, e.g. a spaced IBAN or phone number).
   */
  window: number;
  /** The detector's maxFindingLength: the longest run ever held. */
  maxFindingLength: number;
  /** Shadow mode: findings are reported, nothing is rewritten or blocked. */
  shadow?: boolean;
  /**
   * What a MASK finding becomes (a placeholder, or the value itself when the client
   * sent it). Without it MASK findings pass unchanged.
   */
  mask?(f: Finding): string | Promise<string>;
}

export interface TextGuard {
  push(delta: string): Promise<GuardOutput>;
  /** End of the block: release everything still held. */
  flush(): Promise<GuardOutput>;
}

const WORD = /[A-Za-z0-9_]/;

export const redactionMark = (f: Finding) => `[REDACTED:${f.ruleId}]`;

export function createTextGuard(opts: GuardOptions): TextGuard {
  let pending = '';
  // The tail of what was already released, rescanned as context for patterns that need
  // the words before a value (e.g. "account 123456789012").
  let context = '';
  const hold = Math.max(1, opts.window);
  const maxRun = Math.max(hold, opts.maxFindingLength);

  async function release(final: boolean): Promise<GuardOutput> {
    // Nothing released yet and no more than the window held: the cut below is 0 and,
    // with no released context, no finding can start before it, so the scan could not
    // change the outcome. Skipping it spares the first events of every stream a scan.
    if (!final && context === '' && pending.length <= hold) return { text: opts.restore(''), findings: [] };
    const full = context + pending;
    const off = context.length;
    const findings = full.length > 0 ? opts.scan(full).filter((f) => f.end > off) : [];
    const len = pending.length;
    let cut = final ? len : Math.max(0, len - hold);
    if (!final) {
      // Holding a fixed maxFindingLength (8 KiB for PEM keys) would delay every answer
      // by that much. Instead: a value without whitespace (keys, tokens, JWTs) is held
      // while it is still growing at the end of the buffer; values with whitespace are
      // short and covered by the window; a PEM block is held from its BEGIN line.
      let run = len;
      while (run > 0 && !/\s/.test(pending[run - 1])) run--;
      if (run < cut) cut = Math.max(run, len - maxRun);
      const pem = pending.lastIndexOf('-----BEGIN');
      if (pem >= 0 && pending.indexOf('-----END', pem) < 0 && pem < cut) cut = Math.max(pem, len - maxRun);
      // Never cut through a finding, nor through a word (a placeholder such as EC2_001).
      for (const f of findings) if (f.start - off < cut && f.end - off > cut) cut = Math.max(0, f.start - off);
      const floor = Math.max(0, cut - hold);
      while (cut > floor && WORD.test(pending[cut - 1]) && WORD.test(pending[cut] ?? '')) cut--;
    }
    const out = pending.slice(0, cut);
    const released = findings.filter((f) => f.start - off < cut);
    let text = '';
    let pos = 0;
    let block: Finding | undefined;
    for (const f of released) {
      const s = Math.max(0, f.start - off);
      const e = Math.min(cut, f.end - off);
      if (opts.shadow) continue;
      if (f.action === 'BLOCK') {
        text += out.slice(pos, s);
        pos = s;
        block = f;
        break;
      }
      if (f.action === 'REDACT') text += out.slice(pos, s) + redactionMark(f);
      else if (f.action === 'MASK' && opts.mask) text += out.slice(pos, s) + (await opts.mask(f));
      else continue;
      pos = e;
    }
    if (!block) text += out.slice(pos);
    context = (context + out).slice(-hold);
    pending = pending.slice(cut);
    return { text: opts.restore(text), block, findings: released };
  }

  // Callers await each push before the next (the SSE pipe handles events in order).
  return {
    push(delta) {
      pending += delta;
      return release(false);
    },
    flush() {
      return release(true);
    },
  };
}
