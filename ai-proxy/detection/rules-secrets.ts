// Credential detectors. Prefixes and lengths come from the issuers' published formats
// (AWS IAM identifiers, OpenAI / Anthropic key prefixes, GitHub's 2021 token format,
// Slack token types, Stripe API keys, RFC 7468 PEM labels, RFC 7519 JWTs); the shape of
// the context-keyword + entropy rule mirrors gitleaks' "generic-api-key" idea.
import { regexScanner, rule, wordStart, type Hit, type ScanContext, type Scanner } from './rule.ts';
import { charClasses, jwtHeaderValid, shannonEntropy } from './validators.ts';

/** Bound on a PEM private key finding: an 8192-bit RSA PKCS#1 key is about 6.4 K chars. */
export const PEM_MAX_LENGTH = 8192;

/** Bits per character below which a context-keyword value is taken as a word, not a key. */
const GENERIC_MIN_ENTROPY = 3.5;

const hasLetterAndDigit = (v: string): boolean => /[A-Za-z]/.test(v) && /\d/.test(v);

function awsAccessKeyScanner(): Scanner {
  return regexScanner({
    rule: rule('secret.aws-access-key', 'secret', 'AWS_KEY', 1),
    // IAM unique-id prefixes: AKIA (user key), ASIA (STS), ABIA / ACCA, A3T (legacy).
    regex: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    anchors: ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'A3T'],
    maxLength: 20,
  });
}

function awsSecretKeyScanner(): Scanner {
  return regexScanner({
    rule: rule('secret.aws-secret-key', 'secret', 'AWS_SECRET', 1),
    // aws_secret_access_key / AWS_SECRET_KEY / SecretAccessKey (CLI config, SDK env, CloudFormation)
    regex: /secret_?(?:access_?)?key["'`]?\s{0,3}(?::=|=>|[:=])\s{0,3}["'`]?([a-z0-9/+]{40})(?![a-z0-9/+=])/dg,
    onLowercase: true,
    lowerAnchors: ['secret'],
    group: 1,
    maxLength: 40,
  });
}

function providerKeyScanners(): Scanner[] {
  return [
    regexScanner({
      rule: rule('secret.anthropic-key', 'secret', 'API_KEY', 1),
      regex: /(?<![\w-])sk-ant-[A-Za-z0-9_-]{32,200}(?![\w-])/g,
      anchors: ['sk-ant-'],
      maxLength: 207,
    }),
    regexScanner({
      rule: rule('secret.openai-key', 'secret', 'API_KEY', 2),
      regex: /(?<![\w-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}(?![\w-])/g,
      anchors: ['sk-'],
      maxLength: 211,
      validate: (v) => hasLetterAndDigit(v) && !isWordSlug(v.slice(3)),
    }),
    regexScanner({
      rule: rule('secret.github-token', 'secret', 'API_KEY', 1),
      // No anchors and no leading lookbehind: this literal-prefixed regex alone is faster
      // than six indexOf passes; the word-start check runs on the rare matches only.
      regex: /(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![\w-])/g,
      maxLength: 93,
      validate: (_v, text, start) => wordStart(text, start) && text[start - 1] !== '-',
    }),
    regexScanner({
      rule: rule('secret.slack-token', 'secret', 'API_KEY', 1),
      regex: /(?<![\w-])xox[abposr]-[A-Za-z0-9]{1,40}(?:-[A-Za-z0-9]{1,64}){1,5}(?![\w-])/g,
      anchors: ['xox'],
      maxLength: 375,
      validate: (v) => v.length >= 20 && /\d/.test(v),
    }),
    regexScanner({
      rule: rule('secret.stripe-key', 'secret', 'API_KEY', 1),
      // Secret (sk_) and restricted (rk_) keys; publishable pk_ keys are public by design.
      regex: /(?<![\w-])[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}(?![\w-])/g,
      anchors: ['_live_', '_test_'],
      maxLength: 255,
    }),
    regexScanner({
      rule: rule('secret.jwt', 'secret', 'JWT', 1),
      regex: /(?<![\w-])eyJ[A-Za-z0-9_-]{8,1000}\.eyJ[A-Za-z0-9_-]{8,4000}\.[A-Za-z0-9_-]{8,1000}(?![\w-])/g,
      anchors: ['eyJ'],
      maxLength: 6005,
      validate: (v) => jwtHeaderValid(v.slice(0, v.indexOf('.'))),
    }),
  ];
}

/**
 * RFC 7468 private-key labels. The finding runs from the BEGIN line to the end of the
 * END line, capped at PEM_MAX_LENGTH so streaming hold-back stays bounded: a key cut off
 * by the cap (or by the end of the text) still yields a finding from its header.
 */
function privateKeyScanner(): Scanner {
  const info = rule('secret.private-key', 'secret', 'PRIVATE_KEY', 1);
  const header = /-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----/y;
  return {
    rules: [info],
    maxLength: PEM_MAX_LENGTH,
    scan(text: string, hits: Hit[]) {
      let at = text.indexOf('-----BEGIN ');
      while (at !== -1) {
        header.lastIndex = at;
        if (!header.test(text)) {
          at = text.indexOf('-----BEGIN ', at + 1);
          continue;
        }
        const limit = Math.min(text.length, at + PEM_MAX_LENGTH);
        let end = limit;
        const endLabel = text.indexOf('-----END ', header.lastIndex);
        if (endLabel !== -1 && endLabel < limit) {
          const close = text.indexOf('-----', endLabel + 9);
          if (close !== -1 && close + 5 <= limit) end = close + 5;
        }
        hits.push({ rule: info, start: at, end });
        at = text.indexOf('-----BEGIN ', end);
      }
    },
  };
}

const PLACEHOLDER = /^(?:x{4,}|\*{3,}|<[^>]*>|\$\{|\{\{|%\(|your[_-]|example|changeme|placeholder|redacted|dummy)|xxxx|\.\.\./i;
const DOTTED_IDENTIFIER = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/;
/** One word of a slug or header name ("user", "Profile", "API", "v2", "2024"). */
const WORD_SEGMENT = /^(?:[A-Za-z][a-z]*\d*|[A-Z]+\d*|\d+)$/;

/** "user-profile-image-2024", "X-Api-Key-Header-Name": names and slugs, not random keys. */
function isWordSlug(value: string): boolean {
  const segments = value.split(/[-_./]/);
  return segments.length >= 2 && segments.every((s) => s.length === 0 || WORD_SEGMENT.test(s));
}

/**
 * A value assigned to a credential-looking name (key/secret/token/password …), kept
 * only when it looks random: ≥ 16 chars, entropy ≥ 3.5 bits/char, letters with digits
 * or three character classes, not a placeholder, a dotted code identifier or a slug of
 * words. The name is matched on the shared lowercased copy (a case-sensitive regex is
 * about three times faster than /i here); the value is then read from the original
 * text at the same offsets.
 */
function genericSecretScanner(): Scanner {
  const info = rule('secret.generic', 'secret', 'SECRET', 50);
  const re = /(?:key|secret|token|passw(?:or)?d|pwd|auth(?:orization)?|credentials?)[\w.-]{0,20}["'`]?\s{0,3}(?::=|=>|[:=])\s{0,3}["'`]?(?:(?:bearer|basic|token)\s{1,3})?([a-z0-9+/_.=~!@#$%^&*-]{16,128})/dg;
  return {
    rules: [info],
    maxLength: 128,
    scan(text: string, hits: Hit[], ctx: ScanContext) {
      const lower = ctx.lower();
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(lower)) !== null) {
        const span = m.indices?.[1];
        if (!span) continue;
        const start = span[0];
        let end = span[1];
        while (end > start && '.,;:!'.includes(text[end - 1])) end--;
        if (text[end] === '(') continue;
        const value = text.slice(start, end);
        if (value.length < 16 || PLACEHOLDER.test(value) || DOTTED_IDENTIFIER.test(value) || isWordSlug(value)) continue;
        if (!hasLetterAndDigit(value) && charClasses(value) < 3) continue;
        if (shannonEntropy(value) < GENERIC_MIN_ENTROPY) continue;
        hits.push({ rule: info, start, end });
      }
    },
  };
}

export function secretScanners(): Scanner[] {
  return [awsAccessKeyScanner(), awsSecretKeyScanner(), ...providerKeyScanners(), privateKeyScanner(), genericSecretScanner()];
}
