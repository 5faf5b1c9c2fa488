// Human approval (`pause`, issue #4 §4): the request waits while an administrator
// decides through POST /admin/ai/approvals/:id/approve|reject. A retry carrying the
// same Idempotency-Key waits on (or reuses) the same approval instead of creating a
// new one; no decision within the timeout marks the approval expired (a rejection).
import type { AiStore, VirtualToken } from './store.ts';
import type { Logger } from '../shared/observability/logger.ts';

export interface ApprovalDeps {
  store: AiStore;
  log: Logger;
  approvalPollMs?: number;
  approvalWebhookUrl?: string;
}

export async function waitForApproval(deps: ApprovalDeps, token: VirtualToken, idempotencyKey: string | undefined, summary: Record<string, unknown>): Promise<'approved' | 'rejected' | 'expired'> {
  const a = await deps.store.createApproval(token.id, idempotencyKey, { ...summary, tokenId: token.id, tokenName: token.name });
  if (a.status !== 'pending') return a.status;
  const hook = token.policy.webhookUrl ?? deps.approvalWebhookUrl;
  if (hook) {
    // The notification carries the approval id and what is asked, never the prompt.
    fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approvalId: a.id, tokenId: token.id, tokenName: token.name, summary }), signal: AbortSignal.timeout(5000) }).catch((e: Error) =>
      deps.log.warn({ err: e.message }, 'approval webhook failed'),
    );
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
