// The detection engine's contract (issue #4): pure functions over text, used by the
// request scanner, the response scanner and the streaming guard alike.

export type Action = 'BLOCK' | 'REDACT' | 'MASK' | 'WARN' | 'ALLOW';
export type Category = 'pii' | 'secret' | 'aws' | 'injection' | 'custom';
export type Direction = 'request' | 'response';

export interface Finding {
  /** Stable rule id, e.g. 'pii.email', 'secret.aws-access-key', 'aws.ec2-instance', 'custom.<name>'. */
  ruleId: string;
  category: Category;
  /** Placeholder family for MASK, e.g. 'EMAIL', 'EC2', 'ARN', 'ACCOUNT', 'IP'. */
  type: string;
  /** UTF-16 offsets into the scanned text, end exclusive. */
  start: number;
  end: number;
  /** The matched text (callers must never log or audit it). */
  value: string;
  action: Action;
}

export interface CustomRule {
  name: string;
  /** JavaScript regular expression source (flags 'g' added by the engine). */
  pattern: string;
  action: Action;
  appliesTo: 'request' | 'response' | 'both';
}

export interface DetectorOptions {
  customRules?: CustomRule[];
  /** Per-rule-id action overrides, e.g. { 'pii.email': 'REDACT' }. */
  actions?: Partial<Record<string, Action>>;
}

export interface Detector {
  /** Non-overlapping findings sorted by start (on overlap the stronger action, then the longer match, wins). */
  scan(text: string, direction: Direction): Finding[];
  /**
   * Longest span a single finding can have for streaming (bounded patterns), so a
   * hold-back buffer of this many characters catches values split across SSE events.
   */
  readonly maxFindingLength: number;
}
