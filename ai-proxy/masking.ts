// Reversible masking (PRODUCT.md §7): a MASK finding becomes a placeholder such as
// `EC2_001`, stable for the whole conversation, stored both ways in the shared KV with a
// TTL so that any proxy instance can restore it in the answer.
//
// Conversation key: hex SHA-256 of `<token id>\n<first user message as the client sent
// it>`. Chat clients resend the whole history each turn, so every turn of one
// conversation has the same first user message and hence the same placeholders, while
// two conversations (or two tokens) never share a table.
import { createHash } from 'node:crypto';
import type { Kv } from './kv.ts';

export const PLACEHOLDER = /\b[A-Z][A-Z0-9]{1,15}_\d{3,6}\b/g;
/** Longest placeholder PLACEHOLDER matches (16 + 1 + 6): the stream guard holds back at least this. */
export const MAX_PLACEHOLDER_LENGTH = 23;

export function conversationKey(tokenId: string, firstUserMessage: string): string {
  // Two updates hash the same bytes without copying a long message into a new string.
  return createHash('sha256').update(`${tokenId}\n`, 'utf8').update(firstUserMessage, 'utf8').digest('hex');
}

/**
 * Who brought a value into the conversation. Only what the client sent is restored in
 * answers; a value the model produced that a MASK rule covers gets a placeholder that
 * is never turned back (the client did not know it).
 */
export type MaskOrigin = 'client' | 'answer';

export interface MaskSession {
  mask(value: string, type: string, origin?: MaskOrigin): Promise<string>;
  /** Replaces every placeholder of a client-sent value by its original (`encode`: e.g. JSON string escaping). */
  restore(text: string, encode?: (original: string) => string): string;
  /** True when the client itself sent `value` in this conversation (it was masked on the way in). */
  sentByClient(value: string): boolean;
  readonly size: number;
}

export async function openMaskSession(kv: Kv, conv: string, ttlMs: number): Promise<MaskSession> {
  const key = `fg:mask:${conv}`;
  const fwd = new Map<string, string>();
  const rev = new Map<string, string>();
  for (const [f, v] of Object.entries(await kv.hGetAll(key))) {
    if (f.startsWith('f:')) fwd.set(f.slice(2), v);
    else if (f.startsWith('r:')) rev.set(f.slice(2), v);
  }
  const family = (type: string) => type.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 16) || 'VALUE';
  return {
    get size() {
      return rev.size;
    },
    async mask(value, type, origin = 'client') {
      let ph = fwd.get(value);
      if (!ph) {
        const fam = family(type);
        const n = await kv.hIncr(key, `c:${fam}`, ttlMs);
        ph = `${fam}_${String(n).padStart(3, '0')}`;
        // Two instances masking the same new value at once: the first writer's placeholder wins.
        if (!(await kv.hSetNx(key, `f:${value}`, ph, ttlMs))) ph = (await kv.hGet(key, `f:${value}`)) ?? ph;
        fwd.set(value, ph);
      }
      // "r:" marks a client-sent value (restored in answers); a value first seen in an
      // answer becomes restorable once the client sends it itself.
      if (origin === 'client' && !rev.has(ph)) {
        await kv.hSet(key, `r:${ph}`, value, ttlMs);
        rev.set(ph, value);
      }
      return ph;
    },
    restore(text, encode) {
      if (rev.size === 0) return text;
      return text.replace(PLACEHOLDER, (m) => {
        const v = rev.get(m);
        return v === undefined ? m : encode ? encode(v) : v;
      });
    },
    sentByClient(value) {
      const ph = fwd.get(value);
      return ph !== undefined && rev.get(ph) === value;
    },
  };
}
