// The detection engine (issue #4): createDetector() compiles the built-in scanners and
// the custom rules once; scan() is a pure function of (text, direction).
import { ACTIONS, compileCustomRules, customAppliesTo } from './custom-rules.ts';
import { scanContext, type Hit, type Scanner } from './rule.ts';
import { awsScanners } from './rules-aws.ts';
import { injectionScanners } from './rules-injection.ts';
import { piiScanners } from './rules-pii.ts';
import { secretScanners } from './rules-secrets.ts';
import { resolveOverlaps, type Candidate } from './resolve.ts';
import type { Action, Category, Detector, DetectorOptions, Direction, Finding } from './types.ts';

export type { Action, Category, CustomRule, Detector, DetectorOptions, Direction, Finding } from './types.ts';

/**
 * The defaults: in requests secrets → BLOCK, AWS identifiers and PII → MASK; in
 * answers secrets → REDACT; prompt injection → WARN. PII and AWS identifiers in answers
 * are masked as in requests. Custom rules carry their own action; 'custom' here is only
 * the fallback the table needs to be total.
 */
export const DEFAULT_ACTIONS: Readonly<Record<Direction, Readonly<Record<Category, Action>>>> = Object.freeze({
  request: Object.freeze({ secret: 'BLOCK', aws: 'MASK', pii: 'MASK', injection: 'WARN', custom: 'WARN' }),
  response: Object.freeze({ secret: 'REDACT', aws: 'MASK', pii: 'MASK', injection: 'WARN', custom: 'WARN' }),
});

export interface BuiltinRuleDescription {
  id: string;
  category: Category;
  type: string;
}

function builtinScanners(): Scanner[] {
  return [...secretScanners(), ...awsScanners(), ...piiScanners(), ...injectionScanners()];
}

/** Ids, categories and placeholder types of the built-in rules (for admin listings and overrides). */
export function builtinRules(): BuiltinRuleDescription[] {
  const byId = new Map<string, BuiltinRuleDescription>();
  for (const s of builtinScanners()) for (const { id, category, type } of s.rules) byId.set(id, { id, category, type });
  return [...byId.values()];
}

export function createDetector(opts: DetectorOptions = {}): Detector {
  const scanners = builtinScanners();
  const custom = compileCustomRules(opts.customRules ?? []);
  const known = new Set([...scanners.flatMap((s) => s.rules.map((r) => r.id)), ...custom.map((c) => c.scanner.rules[0].id)]);
  const overrides = new Map<string, Action>();
  for (const [id, action] of Object.entries(opts.actions ?? {})) {
    if (action === undefined) continue;
    if (!known.has(id)) throw new Error(`action override for unknown rule id ${JSON.stringify(id)}`);
    if (!ACTIONS.includes(action)) throw new Error(`action override for ${id}: must be one of ${ACTIONS.join(', ')}`);
    overrides.set(id, action);
  }
  const customAction = new Map(custom.map((c) => [c.scanner.rules[0].id, c.action]));
  const maxFindingLength = Math.max(...scanners.map((s) => s.maxLength), ...custom.map((c) => c.scanner.maxLength));

  function actionFor(hit: Hit, direction: Direction): Action {
    return overrides.get(hit.rule.id) ?? customAction.get(hit.rule.id) ?? DEFAULT_ACTIONS[direction][hit.rule.category];
  }

  return {
    maxFindingLength,
    scan(text: string, direction: Direction): Finding[] {
      const hits: Hit[] = [];
      const ctx = scanContext(text);
      for (const s of scanners) s.scan(text, hits, ctx);
      for (const c of custom) if (customAppliesTo(c, direction)) c.scanner.scan(text, hits, ctx);
      if (hits.length === 0) return [];
      const candidates: Candidate[] = hits.map((h) => ({ hit: h, action: actionFor(h, direction) }));
      return resolveOverlaps(candidates).map(({ hit, action }) => ({
        ruleId: hit.rule.id,
        category: hit.rule.category,
        type: hit.rule.type,
        start: hit.start,
        end: hit.end,
        value: text.slice(hit.start, hit.end),
        action,
      }));
    },
  };
}
