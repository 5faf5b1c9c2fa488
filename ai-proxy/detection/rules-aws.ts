// AWS resource identifiers. Formats: ARNs per the IAM User Guide "IAM identifiers" /
// "Amazon Resource Names" page (arn:partition:service:region:account-id:resource), EC2
// resource ids per the EC2 User Guide "Resource IDs" (prefix + 8 or 17 lowercase hex).
import { regexScanner, rule, wordStart, type Hit, type RuleInfo, type Scanner } from './rule.ts';

/** Words that make a bare 12-digit number an AWS account id (the issue: "in context"). */
const ACCOUNT_CONTEXT = /\b(?:account|acct|aws|arn|owner|principal|iam|caller)/;
const CONTEXT_BEFORE = 48;
const CONTEXT_AFTER = 24;

function accountIdScanner(): Scanner {
  return regexScanner({
    rule: rule('aws.account-id', 'aws', 'ACCOUNT', 5),
    // The console prints account ids as 1234-5678-9012.
    // Boundary checked in validate: a leading lookbehind would run at every position.
    regex: /\d{4}(?:\d{8}|-\d{4}-\d{4})(?![\w-])/g,
    maxLength: 14,
    validate: (value, text, start) => {
      if (!wordStart(text, start) || text[start - 1] === '-') return false;
      const around = text.slice(Math.max(0, start - CONTEXT_BEFORE), start + value.length + CONTEXT_AFTER);
      return ACCOUNT_CONTEXT.test(around.toLowerCase());
    },
  });
}

/** Characters that end an ARN in prose or code (quotes, brackets, separators). */
const ARN_MAX = 1100;

function arnScanner(): Scanner {
  const arn = rule('aws.arn', 'aws', 'ARN', 5);
  const bucket = rule('aws.s3-bucket-arn', 'aws', 'ARN', 4);
  const re = /(?<![\w:-])arn:aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?:([a-z0-9-]{2,64}):([a-z0-9-]{0,32}):(\d{12}|aws)?:[^\s"'`<>,;()[\]{}]{1,1000}/g;
  return {
    rules: [arn, bucket],
    maxLength: ARN_MAX,
    scan(text: string, hits: Hit[]) {
      if (!text.includes('arn:')) return;
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(text)) !== null) {
        const start = m.index;
        let end = start + m[0].length;
        while ('.:!?'.includes(text[end - 1])) end--;
        const isBucket = m[1] === 's3' && m[2] === '' && m[3] === undefined;
        hits.push({ rule: isBucket ? bucket : arn, start, end });
      }
    },
  };
}

const RESOURCE_PREFIXES = ['i', 'vpc', 'subnet', 'sg', 'ami', 'vol', 'snap'] as const;

/**
 * Anchored on the '-' before the hex part: a regex starting with the prefix alternation
 * would stop at every 'i' of the prose; '-' followed by 8 hex digits is rare.
 */
function resourceIdScanner(): Scanner {
  const byPrefix: Record<(typeof RESOURCE_PREFIXES)[number], RuleInfo> = {
    i: rule('aws.ec2-instance', 'aws', 'EC2', 5),
    vpc: rule('aws.vpc', 'aws', 'VPC', 5),
    subnet: rule('aws.subnet', 'aws', 'SUBNET', 5),
    sg: rule('aws.security-group', 'aws', 'SG', 5),
    ami: rule('aws.ami', 'aws', 'AMI', 5),
    vol: rule('aws.ebs-volume', 'aws', 'EBS', 5),
    snap: rule('aws.ebs-snapshot', 'aws', 'SNAPSHOT', 5),
  };
  const re = /-(?:[0-9a-f]{17}|[0-9a-f]{8})(?![\w-])/g;
  return {
    rules: Object.values(byPrefix),
    maxLength: 24,
    scan(text: string, hits: Hit[]) {
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(text)) !== null) {
        const dash = m.index;
        for (const prefix of RESOURCE_PREFIXES) {
          const start = dash - prefix.length;
          if (start >= 0 && text.startsWith(prefix, start) && wordStart(text, start) && text[start - 1] !== '-') {
            hits.push({ rule: byPrefix[prefix], start, end: dash + m[0].length });
            break;
          }
        }
      }
    },
  };
}

export function awsScanners(): Scanner[] {
  return [arnScanner(), accountIdScanner(), resourceIdScanner()];
}
