// Prompts and the fixed answer for the AI-proxy benchmark. The text is realistic
// (prose, code, numbers, dates) and exercises every cheap anchor of the detector
// (digits, '@', ':', 'arn:', 'i-', 'vpc-') but holds no secret: with the default
// actions every finding is MASK (PII, AWS ids), never BLOCK, so every request passes.
// Each prompt names exactly one e-mail address; the answer mentions EMAIL_001, which
// the proxy must restore to that address (the direct side sees the literal placeholder).
import { createDetector } from '../../ai-proxy/detection/index.ts';
import type { Finding } from '../../ai-proxy/detection/types.ts';

/** Ordinary prompt text (also the filler of bench/detection.ts). */
export const PROSE = [
  'The migration moved every bucket to the new placement policy without downtime, and the team wrote up what they learned.',
  'Could you explain why the retry loop backs off exponentially instead of linearly when the upstream returns 503?',
  'Please summarise the following design document in three bullet points for the weekly status update.',
  'We measured latency at the 99th percentile over 24 hours; the median stayed under 12 ms throughout the test.',
  'In 2024 the service handled 3.2 billion requests, with peaks of 41,000 requests per second during the sale.',
  'Rewrite this function so that it streams the response instead of buffering the whole body in memory.',
  'The meeting is on Tuesday at 10:30; bring the draft of the architecture review and the cost estimate.',
  'Our multi-region setup uses read-after-write consistency for new objects and eventual consistency for listings.',
  'Invoice 2025-0413 lists 17 items at 4.99 EUR each, shipped on 2025-04-13 to the Hamburg warehouse.',
];
export const CODE = [
  'export async function handler(event: APIGatewayProxyEvent): Promise<Result> {\n  const body = JSON.parse(event.body ?? "{}");\n  return { statusCode: 200, body: JSON.stringify({ ok: true, id: body.id }) };\n}\n',
  'def fetch_all(session, url, page_size=100):\n    items = []\n    while url:\n        resp = session.get(url, params={"limit": page_size})\n        items.extend(resp.json()["items"])\n        url = resp.links.get("next", {}).get("url")\n    return items\n',
  'for (let i = 0; i < rows.length; i++) {\n  const [key, value] = rows[i].split("=");\n  if (key && value) config.set(key.trim(), value.trim());\n}\n',
  '{"name": "fedgate", "version": "0.1.0", "dependencies": {"pg": "^8.23.1", "pino": "^10.4.0"}, "retries": 3}\n',
  'SELECT id, bucket, key, size FROM objects WHERE bucket = $1 AND key > $2 ORDER BY key LIMIT 1000;\n',
  'std::vector<int> v{1, 2, 3}; auto it = std::find(v.begin(), v.end(), 2); // 2024-01-15T10:30:00Z\n',
];
/** Masked (not blocked) by default: IPs, EC2 / VPC ids, an ARN with its account id. */
const SPRINKLE = [
  'The instance i-0abc1234def567890 in vpc-1a2b3c4d talks to 10.0.12.7 on port 5432.',
  'Role arn:aws:iam::123456789012:role/deploy assumes the build role.',
  'The load balancer forwards to 192.168.40.21 and 192.168.40.22.',
];

/** The fixed answer of the mock upstream; EMAIL_001 is the placeholder the proxy restores. */
export const ANSWER = 'Done: the summary is ready. I will send it to EMAIL_001 before the 10:30 meeting, with the three bullet points and the latency figures.';

/** The answer split into the SSE text deltas the mock streams (word by word). */
export const ANSWER_PIECES: string[] = ANSWER.split(/(?= )/);

export interface Prompt {
  text: string;
  /** The one address in the prompt: what EMAIL_001 stands for in this conversation. */
  email: string;
  bytes: number;
}

/** A deterministic prompt of exactly `bytes` UTF-8 bytes (ASCII only). */
export function makePrompt(bytes: number, seed: number): Prompt {
  let s = seed >>> 0;
  const next = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
  const email = `maria.garcia.${seed}@example.org`;
  // The address comes first, so it is the first (and only) e-mail the proxy masks.
  const parts: string[] = [`Please send the summary to ${email} when done.\n`];
  let len = parts[0].length;
  while (len < bytes) {
    const r = next(100);
    const piece = r < 55 ? PROSE[next(PROSE.length)] + ' ' : r < 95 ? CODE[next(CODE.length)] : r < 98 ? SPRINKLE[next(SPRINKLE.length)] + '\n' : `Copy ${email} on the reply.\n`;
    parts.push(piece);
    len += piece.length;
  }
  // Cut at a space so no anchor (address, id) is cut in half at the end.
  let text = parts.join('').slice(0, bytes);
  const cut = text.lastIndexOf(' ');
  text = text.slice(0, cut) + ' '.repeat(bytes - cut);
  return { text, email, bytes };
}

/**
 * The prompts and what the detector finds in them, checked before anything runs: a
 * BLOCK finding would turn the benchmark into a benchmark of refusals.
 */
export function makePrompts(bytes: number, count: number, seedBase: number): { prompts: Prompt[]; findings: Record<string, number> } {
  const detector = createDetector();
  const findings: Record<string, number> = {};
  const prompts: Prompt[] = [];
  for (let i = 0; i < count; i++) {
    const p = makePrompt(bytes, seedBase + i);
    const found: Finding[] = detector.scan(p.text, 'request');
    for (const f of found) {
      if (f.action === 'BLOCK') throw new Error(`benchmark prompt ${bytes} B #${i} would be blocked by ${f.ruleId}`);
      findings[f.ruleId] = (findings[f.ruleId] ?? 0) + 1;
    }
    if (!found.some((f) => f.ruleId === 'pii.email' && f.value === p.email)) throw new Error(`benchmark prompt ${bytes} B #${i}: its e-mail address is not detected`);
    prompts.push(p);
  }
  return { prompts, findings };
}

/** What the client must receive: the direct side the literal answer, the proxy side the restored one. */
export function expectedAnswer(side: 'direct' | 'proxied', p: Prompt): string {
  return side === 'direct' ? ANSWER : ANSWER.replaceAll('EMAIL_001', p.email);
}
