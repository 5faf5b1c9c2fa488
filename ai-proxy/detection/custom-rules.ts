// Administrator-supplied regex rules (issue #4: "custom regex rules via the admin API").
// They are compiled once per detector; anything that cannot be compiled safely is
// refused with an Error naming the rule, so the admin API can answer 400 instead of
// the proxy failing at scan time.
import type { Action, CustomRule, Direction } from './types.ts';
import type { Hit, RuleInfo, Scanner } from './rule.ts';

/** A custom match longer than this is cut here, keeping maxFindingLength honest for streaming. */
export const CUSTOM_MAX_LENGTH = 1024;
const MAX_PATTERN_LENGTH = 2000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const ACTIONS: readonly Action[] = ['BLOCK', 'REDACT', 'MASK', 'WARN', 'ALLOW'];
const APPLIES_TO = ['request', 'response', 'both'];

/**
 * A quantified group that itself contains a quantifier ((a+)+, (\w*x)*, (a|b+){2,}) is
 * the classic shape of exponential backtracking in a backtracking engine such as V8's
 * (OWASP "ReDoS"). JavaScript has no linear-time engine built in, so such patterns are
 * refused rather than risked. A heuristic: it looks at group nesting, not semantics.
 */
function hasNestedQuantifier(pattern: string): boolean {
  const stack: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++; // an escaped character is an atom; a quantifier after it is seen next round
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push(false);
    else if (c === ')') {
      const innerQuantified = stack.pop() ?? false;
      const next = pattern[i + 1];
      const quantified = next === '*' || next === '+' || next === '{' || next === '?';
      // '?' and an exact {n} repeat a group a bounded number of ways; *, + and {n,m} do not.
      const exact = next === '{' && /^\{\d+\}/.test(pattern.slice(i + 1));
      if (innerQuantified && quantified && next !== '?' && !exact) return true;
      if (stack.length > 0 && (innerQuantified || quantified)) stack[stack.length - 1] = true;
    } else if ((c === '*' || c === '+' || c === '{') && stack.length > 0) {
      stack[stack.length - 1] = true;
    }
  }
  return false;
}

export interface CompiledCustomRule {
  appliesTo: CustomRule['appliesTo'];
  action: Action;
  scanner: Scanner;
}

function compileOne(r: CustomRule): CompiledCustomRule {
  const label = `custom rule ${JSON.stringify(String(r?.name))}`;
  if (typeof r?.name !== 'string' || !NAME.test(r.name)) {
    throw new Error(`${label}: name must be 1-64 characters of letters, digits, '_', '.', '-'`);
  }
  if (!ACTIONS.includes(r.action)) throw new Error(`${label}: action must be one of ${ACTIONS.join(', ')}`);
  if (!APPLIES_TO.includes(r.appliesTo)) throw new Error(`${label}: appliesTo must be request, response or both`);
  if (typeof r.pattern !== 'string' || r.pattern.length === 0 || r.pattern.length > MAX_PATTERN_LENGTH) {
    throw new Error(`${label}: pattern must be a non-empty string of at most ${MAX_PATTERN_LENGTH} characters`);
  }
  let regex: RegExp;
  try {
    regex = new RegExp(r.pattern, 'g');
  } catch (err) {
    throw new Error(`${label}: invalid regular expression: ${(err as Error).message}`, { cause: err });
  }
  if (hasNestedQuantifier(r.pattern)) {
    throw new Error(`${label}: nested quantifiers such as (a+)+ can backtrack exponentially; rewrite the pattern`);
  }
  const info: RuleInfo = { id: `custom.${r.name}`, category: 'custom', type: r.name.toUpperCase(), priority: 0 };
  const scanner: Scanner = {
    rules: [info],
    maxLength: CUSTOM_MAX_LENGTH,
    scan(text: string, hits: Hit[]) {
      regex.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = regex.exec(text)) !== null) {
        // An empty match would leave lastIndex in place and loop forever.
        if (m[0].length === 0) {
          regex.lastIndex++;
          continue;
        }
        hits.push({ rule: info, start: m.index, end: m.index + Math.min(m[0].length, CUSTOM_MAX_LENGTH) });
      }
    },
  };
  return { appliesTo: r.appliesTo, action: r.action, scanner };
}

export function compileCustomRules(rules: readonly CustomRule[]): CompiledCustomRule[] {
  const seen = new Set<string>();
  return rules.map((r) => {
    const compiled = compileOne(r);
    if (seen.has(r.name)) throw new Error(`custom rule ${JSON.stringify(r.name)}: duplicate name`);
    seen.add(r.name);
    return compiled;
  });
}

export function customAppliesTo(rule: CompiledCustomRule, direction: Direction): boolean {
  return rule.appliesTo === 'both' || rule.appliesTo === direction;
}
