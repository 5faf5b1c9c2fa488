// The AI proxy's policy chain on the shared engine (issue #4 §4): validity / expiry →
// IP allowlist → time window → model allowlist → rate limits → spend cap → human
// approval → pass. Token validity is never shadowed (an unknown or revoked token is
// refused whatever the policy says); every later rule follows the token's `shadow` flag.
import { isIP } from 'node:net';
import type { Policy } from '../shared/policy/index.ts';
import type { VirtualToken } from './store.ts';

export interface AiRequestContext {
  token: VirtualToken;
  ip: string;
  model: string | undefined;
  now: Date;
  /** Requests in the sliding window (one minute) ending now, this one included. */
  requestsThisMinute: number;
  /** Tokens (in + out) used in the sliding window ending now. */
  tokensThisMinute: number;
  /** Spend before this request (reservations of requests in flight included). */
  spentUsd: number;
  /** This request's worst-case cost, reserved against the cap. */
  estimateUsd: number;
  /** False when the reservation did not fit under the cap. */
  spendFits: boolean;
}

/** Exact address or IPv4 CIDR (a.b.c.d/n); IPv4-mapped IPv6 peers match their IPv4 form. */
export function ipAllowed(ip: string, allow: string[]): boolean {
  const v4 = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  for (const entry of allow) {
    if (entry === ip || entry === v4) return true;
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(entry);
    if (m && isIP(v4) === 4) {
      const bits = Number(m[2]);
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      if (((toInt(v4) & mask) >>> 0) === ((toInt(m[1]) & mask) >>> 0)) return true;
    }
  }
  return false;
}

const round = (usd: number) => Number(usd.toFixed(6));

function toInt(ip: string): number {
  return ip.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0);
}

export function aiPolicy(token: VirtualToken): Policy<AiRequestContext> {
  const p = token.policy;
  const shadow = p.shadow === true;
  return {
    rules: [
      { id: 'ai.token.revoked', effect: 'deny', data: { status: 401 }, when: (c) => (c.token.revokedAt ? 'the token has been revoked' : false) },
      { id: 'ai.token.expired', effect: 'deny', data: { status: 401 }, when: (c) => (c.token.expiresAt && c.token.expiresAt.getTime() <= c.now.getTime() ? 'the token has expired' : false) },
      { id: 'ai.ip-allowlist', effect: 'deny', shadow, data: { status: 403 }, when: (c) => (p.ipAllow && p.ipAllow.length > 0 && !ipAllowed(c.ip, p.ipAllow) ? `client address ${c.ip} is not allowed for this token` : false) },
      {
        id: 'ai.time-window',
        effect: 'deny',
        shadow,
        data: { status: 403 },
        when: (c) => {
          if (!p.hours) return false;
          const h = c.now.getUTCHours();
          const [from, to] = p.hours;
          const inside = from <= to ? h >= from && h < to : h >= from || h < to;
          return inside ? false : `the token may only be used between ${from}:00 and ${to}:00 UTC`;
        },
      },
      {
        id: 'ai.model-allowlist',
        effect: 'deny',
        shadow,
        data: { status: 403 },
        when: (c) => (c.model !== undefined && c.token.models && c.token.models.length > 0 && !c.token.models.includes(c.model) ? `model "${c.model}" is not allowed for this token` : false),
      },
      { id: 'ai.rate-limit.requests', effect: 'deny', shadow, data: { status: 429 }, when: (c) => (p.rpm !== undefined && c.requestsThisMinute > p.rpm ? `more than ${p.rpm} requests per minute` : false) },
      { id: 'ai.rate-limit.tokens', effect: 'deny', shadow, data: { status: 429 }, when: (c) => (p.tpm !== undefined && c.tokensThisMinute >= p.tpm ? `more than ${p.tpm} tokens per minute` : false) },
      {
        id: 'ai.spend-cap',
        effect: 'deny',
        shadow,
        data: { status: 403 },
        when: (c) => {
          if (p.spendCapUsd === undefined || c.spendFits) return false;
          if (c.spentUsd >= p.spendCapUsd) return `the spend cap of ${p.spendCapUsd} USD is reached`;
          return `the request's worst-case cost (${round(c.estimateUsd)} USD) does not fit in what is left of the spend cap of ${p.spendCapUsd} USD (${round(c.spentUsd)} USD spent or reserved)`;
        },
      },
      { id: 'ai.approval', effect: 'pause', shadow, when: () => (p.requireApproval ? 'requests with this token need an administrator\'s approval' : false) },
    ],
  };
}
