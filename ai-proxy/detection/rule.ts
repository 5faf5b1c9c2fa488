// Internal shape of the built-in detectors: a scanner finds raw hits for one or more
// rule ids in one pass; index.ts turns hits into Findings (actions, overlap resolution).
import type { Category } from './types.ts';

export interface RuleInfo {
  id: string;
  category: Category;
  type: string;
  /** Tie-break on equal action and length: lower wins (specific rules before generic ones). */
  priority: number;
}

export interface Hit {
  rule: RuleInfo;
  start: number;
  end: number;
}

/** Per-scan shared work: the ASCII-lowercased text, computed at most once per scan. */
export interface ScanContext {
  lower(): string;
}

export interface Scanner {
  rules: readonly RuleInfo[];
  /** Longest span this scanner can report (bounded patterns; see types.ts maxFindingLength). */
  maxLength: number;
  scan(text: string, hits: Hit[], ctx: ScanContext): void;
}

/**
 * Lowercases ASCII letters only, so offsets stay identical to the original text
 * (String#toLowerCase can change the length, e.g. U+0130 becomes two code units).
 */
export function scanContext(text: string): ScanContext {
  let lowered: string | undefined;
  return {
    lower() {
      if (lowered === undefined) {
        lowered = text.toLowerCase();
        if (lowered.length !== text.length) lowered = text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
      }
      return lowered;
    },
  };
}

/** True when the character before `index` is not an ASCII word character. */
export function wordStart(text: string, index: number): boolean {
  if (index === 0) return true;
  const c = text.charCodeAt(index - 1);
  return !((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95);
}

export function rule(id: string, category: Category, type: string, priority = 10): RuleInfo {
  return { id, category, type, priority };
}

/**
 * True when any of the literal anchors occurs in the text. A String#includes pass is a
 * memchr-speed scan, far cheaper than letting a regex with a leading alternation try
 * every position (the same "keywords" prefilter gitleaks applies before its regexes).
 */
export function hasAnyAnchor(text: string, anchors: readonly string[]): boolean {
  for (const a of anchors) if (includesAnchor(text, a)) return true;
  return false;
}

// V8 finds a short literal by looking for its first character: an anchor that starts
// with a frequent letter ("sk-", "eyJ") stops at every "s" / "e" of the text and costs
// ~10× more than one that starts with a rare character. Such anchors are searched by
// their tail (from the first less frequent character) and the head checked in place.
const FREQUENT = 'etaoinshr';
const split = new Map<string, { head: string; tail: string }>();

function includesAnchor(text: string, anchor: string): boolean {
  let parts = split.get(anchor);
  if (!parts) {
    let k = 0;
    while (k < anchor.length - 1 && FREQUENT.includes(anchor[k])) k++;
    parts = { head: anchor.slice(0, k), tail: anchor.slice(k) };
    split.set(anchor, parts);
  }
  const { head, tail } = parts;
  if (head === '') return text.includes(anchor);
  for (let at = text.indexOf(tail, head.length); at !== -1; at = text.indexOf(tail, at + 1)) {
    if (text.startsWith(head, at - head.length)) return true;
  }
  return false;
}

export interface RegexScannerSpec {
  rule: RuleInfo;
  /** Must carry the 'g' flag; add 'd' when `group` is used. */
  regex: RegExp;
  maxLength: number;
  anchors?: readonly string[];
  /**
   * Run the regex (written in lowercase, without /i) over the shared lowercased copy:
   * offsets are identical, and V8 runs a case-sensitive pattern several times faster.
   */
  onLowercase?: boolean;
  /** Like `anchors`, looked up in the shared lowercased copy (case-insensitive keywords). */
  lowerAnchors?: readonly string[];
  /** Capture group holding the sensitive value (the rest is context), default whole match. */
  group?: number;
  validate?: (value: string, text: string, start: number) => boolean;
}

export function regexScanner(spec: RegexScannerSpec): Scanner {
  const { rule: info, regex, anchors, lowerAnchors, onLowercase, group, validate } = spec;
  return {
    rules: [info],
    maxLength: spec.maxLength,
    scan(text, hits, ctx) {
      if (anchors && !hasAnyAnchor(text, anchors)) return;
      if (lowerAnchors && !hasAnyAnchor(ctx.lower(), lowerAnchors)) return;
      const subject = onLowercase ? ctx.lower() : text;
      regex.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = regex.exec(subject)) !== null) {
        if (m[0].length === 0) {
          regex.lastIndex++;
          continue;
        }
        let start = m.index;
        let end = start + m[0].length;
        if (group !== undefined) {
          const span = m.indices?.[group];
          if (!span) continue;
          [start, end] = span;
        }
        if (end - start > spec.maxLength) end = start + spec.maxLength;
        const value = text.slice(start, end);
        if (validate && !validate(value, text, start)) continue;
        hits.push({ rule: info, start, end });
      }
    },
  };
}
