// Human approval (`pause`, issue #4 §4): the request waits while an administrator
// decides through POST /admin/ai/approvals/:id/approve|reject. A retry carrying the
// same Idempotency-Key waits on (or reuses) the same approval instead of creating a
// new one; no decision within the timeout marks the approval expired (a rejection).
//
// The notification webhook is delivered in the background (the request is waiting for
// a human anyway): up to 3 attempts with exponential backoff, signed with HMAC-SHA256
// over the exact body when a secret is configured, and one audit entry per delivery
// (outcome, attempts, statuses — never the secret nor the URL's path or query).
import { createHmac, randomUUID } from 'node:crypto';
import type { AiStore, VirtualToken } from './store.ts';
import type { Logger } from '../shared/observability/logger.ts';
import type { AuditEvent } from '../shared/audit/index.ts';

export interface ApprovalDeps {
  store: AiStore;
  log: Logger;
  audit?: { record(e: AuditEvent): void };
  approvalPollMs?: number;
  approvalWebhookUrl?: string;
  /** Signs webhooks of tokens whose policy names no `webhookSecret`. */
  approvalWebhookSecret?: string;
  /** First retry delay of a failed webhook delivery (doubles per attempt); default 1 s. */
  webhookBackoffMs?: number;
}

export const WEBHOOK_ATTEMPTS = 3;
export const SIGNATURE_HEADER = 'x-fedgate-signature-256';

/** `sha256=<hex HMAC-SHA256 of the body>`: what a receiver recomputes with the shared secret. */
export function signWebhook(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

export interface WebhookDelivery {
  delivered: boolean;
  attempts: number;
  /** HTTP status per attempt, or the error name when no answer came. */
  outcomes: string[];
}

export async function deliverWebhook(deps: ApprovalDeps, url: string, secret: string | undefined, payload: Record<string, unknown>, audit: { actor: string; resource: string }): Promise<WebhookDelivery> {
  const deliveryId = randomUUID();
  // The same body (and so the same signature) on every attempt: a receiver can dedupe on deliveryId.
  const body = JSON.stringify({ ...payload, deliveryId, sentAt: new Date().toISOString() });
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-fedgate-event': String(payload.event ?? 'approval.requested'), 'x-fedgate-delivery': deliveryId };
  if (secret) headers[SIGNATURE_HEADER] = signWebhook(secret, body);
  const outcomes: string[] = [];
  let delivered = false;
  const backoff = deps.webhookBackoffMs ?? 1000;
  for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
    let again = true;
    try {
      const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer().catch(() => undefined);
      outcomes.push(String(res.status));
      delivered = res.ok;
      again = !res.ok && retryable(res.status);
    } catch (e) {
      outcomes.push((e as Error).name || 'Error');
    }
    if (delivered || !again || attempt === WEBHOOK_ATTEMPTS) break;
    await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)));
  }
  const target = URL.canParse(url) ? new URL(url).origin : 'invalid-url';
  if (!delivered) deps.log.warn({ target, attempts: outcomes.length, outcomes }, 'approval webhook not delivered');
  deps.audit?.record({
    plane: 'ai',
    actor: audit.actor,
    action: 'approval.webhook',
    resource: audit.resource,
    result: delivered ? 'delivered' : 'failed',
    details: { deliveryId, target, attempts: outcomes.length, outcomes, signed: secret !== undefined },
  });
  return { delivered, attempts: outcomes.length, outcomes };
}

export async function waitForApproval(deps: ApprovalDeps, token: VirtualToken, idempotencyKey: string | undefined, summary: Record<string, unknown>): Promise<'approved' | 'rejected' | 'expired'> {
  const a = await deps.store.createApproval(token.id, idempotencyKey, { ...summary, tokenId: token.id, tokenName: token.name });
  if (a.status !== 'pending') return a.status;
  const hook = token.policy.webhookUrl ?? deps.approvalWebhookUrl;
  if (hook) {
    // The notification carries the approval id and what is asked, never the prompt.
    const secret = token.policy.webhookSecret ?? deps.approvalWebhookSecret;
    const payload = { event: 'approval.requested', approvalId: a.id, tokenId: token.id, tokenName: token.name, summary };
    deliverWebhook(deps, hook, secret, payload, { actor: token.id, resource: `approval/${a.id}` }).catch((e: Error) => deps.log.warn({ err: e.message }, 'approval webhook failed'));
  }
  const deadline = Date.now() + (token.policy.approvalTimeoutMs ?? 300_000);
  const poll = deps.approvalPollMs ?? 250;
  for (;;) {
    await new Promise((r) => setTimeout(r, poll));
    const cur = await deps.store.getApproval(a.id);
    if (cur && cur.status !== 'pending') return cur.status;
    if (Date.now() >= deadline) {
      const decided = await deps.store.decideApproval(a.id, 'expired');
      // An admin may have decided in the last instant: the stored decision wins.
      if (decided) return 'expired';
      const again = await deps.store.getApproval(a.id);
      return again && again.status !== 'pending' ? again.status : 'expired';
    }
  }
}
