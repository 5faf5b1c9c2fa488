// The policy engine shared by both planes (PRODUCT.md §5.1): ordered rules, each a
// condition over a request context and an effect. The first enforced `deny` ends
// the evaluation; other effects accumulate and the strongest one is the decision.
// A rule (or the whole policy) in `shadow` mode is evaluated and reported but never
// enforced, so operators can see what a new rule would do before switching it on.

export type Effect = 'allow' | 'deny' | 'require' | 'pause' | 'redact' | 'mask' | 'warn';

/** A condition returns false/undefined when the rule does not apply, else true or a reason. */
export type Condition<C> = (ctx: C) => boolean | string | undefined;

export interface PolicyRule<C> {
  /** Stable id, reported in decisions and audit entries (e.g. 'ai.rate-limit.rpm'). */
  id: string;
  effect: Effect;
  when: Condition<C>;
  /** Extra data for the caller when the rule matches (e.g. the HTTP status to answer). */
  data?: Record<string, unknown>;
  shadow?: boolean;
}

export interface Policy<C> {
  rules: Array<PolicyRule<C>>;
  /** The whole policy in shadow mode: every match is recorded, none enforced. */
  shadow?: boolean;
}

export interface Match {
  rule: string;
  effect: Effect;
  reason: string;
  shadow: boolean;
  data?: Record<string, unknown>;
}

export interface Decision {
  /** The enforced effect: 'allow' when nothing enforced matched. */
  effect: Effect;
  /** Id of the rule that decided the effect (absent for a plain allow). */
  rule?: string;
  reasons: string[];
  /** True when a shadowed rule would have produced a stronger effect than the enforced one. */
  shadow: boolean;
  /** Every rule that matched, enforced or shadowed, in evaluation order. */
  matches: Match[];
  /** The matched rule that decided the effect. */
  decisive?: Match;
}

// deny > pause > require > redact > mask > warn > allow
const STRENGTH: Record<Effect, number> = { allow: 0, warn: 1, mask: 2, redact: 3, require: 4, pause: 5, deny: 6 };

export function strongerEffect(a: Effect, b: Effect): Effect {
  return STRENGTH[b] > STRENGTH[a] ? b : a;
}

export function evaluate<C>(policy: Policy<C>, ctx: C): Decision {
  const matches: Match[] = [];
  let decisive: Match | undefined;
  let shadowStrongest: Effect = 'allow';
  for (const rule of policy.rules) {
    const r = rule.when(ctx);
    if (r === false || r === undefined || r === '') continue;
    const shadow = policy.shadow === true || rule.shadow === true;
    const m: Match = { rule: rule.id, effect: rule.effect, reason: typeof r === 'string' ? r : rule.id, shadow, data: rule.data };
    matches.push(m);
    if (shadow) {
      shadowStrongest = strongerEffect(shadowStrongest, rule.effect);
      continue;
    }
    if (!decisive || STRENGTH[rule.effect] > STRENGTH[decisive.effect]) decisive = m;
    if (rule.effect === 'deny') break;
  }
  const effect = decisive?.effect ?? 'allow';
  return {
    effect,
    rule: decisive?.rule,
    reasons: matches.filter((m) => !m.shadow).map((m) => m.reason),
    shadow: STRENGTH[shadowStrongest] > STRENGTH[effect],
    matches,
    decisive,
  };
}
