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
  return createHash('sha256').update(`${tokenId}\n${firstUserMessage}`, 'utf8').digest('hex');
}

export interface MaskSession {
  mask(value: string, type: string): Promise<string>;
  /** Replaces every placeholder of this conversation by its original. */
  restore(text: string): string;
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
    async mask(value, type) {
      const known = fwd.get(value);
      if (known) return known;
      const fam = family(type);
      const n = await kv.hIncr(key, `c:${fam}`, ttlMs);
      let ph = `${fam}_${String(n).padStart(3, '0')}`;
      // Two instances masking the same new value at once: the first writer's placeholder wins.
      if (await kv.hSetNx(key, `f:${value}`, ph, ttlMs)) await kv.hSet(key, `r:${ph}`, value, ttlMs);
      else ph = (await kv.hGet(key, `f:${value}`)) ?? ph;
      fwd.set(value, ph);
      rev.set(ph, value);
      return ph;
    },
    restore(text) {
      if (rev.size === 0) return text;
      return text.replace(PLACEHOLDER, (m) => rev.get(m) ?? m);
    },
  };
}
