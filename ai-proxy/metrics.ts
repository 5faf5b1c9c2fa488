// Prometheus metrics of the AI proxy. Labels carry routes, statuses, rule ids and
// model names only: never a key, a token or a scanned value.
import { Counter, Histogram, type Registry } from 'prom-client';

export interface AiMetrics {
  observe(route: string, status: number, decision: string, findings?: Record<string, number>): void;
  usage(model: string, inputTokens: number, outputTokens: number, costUsd: number): void;
  overhead(seconds: number): void;
}

export function createAiMetrics(registry: Registry): AiMetrics {
  const requests = new Counter({ name: 'fedgate_ai_requests_total', help: 'AI proxy requests by route, status and policy decision', labelNames: ['route', 'status', 'decision'], registers: [registry] });
  const findings = new Counter({ name: 'fedgate_ai_findings_total', help: 'Detection findings by rule id', labelNames: ['rule'], registers: [registry] });
  const tokens = new Counter({ name: 'fedgate_ai_tokens_total', help: 'LLM tokens by model and direction', labelNames: ['model', 'direction'], registers: [registry] });
  const cost = new Counter({ name: 'fedgate_ai_cost_usd_total', help: 'Estimated LLM spend in USD by model', labelNames: ['model'], registers: [registry] });
  const overhead = new Histogram({ name: 'fedgate_ai_overhead_seconds', help: 'Time the proxy adds before the upstream call', registers: [registry], buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25] });
  return {
    observe(route, status, decision, f) {
      requests.inc({ route, status: String(status), decision });
      for (const [rule, n] of Object.entries(f ?? {})) findings.inc({ rule }, n);
    },
    usage(model, i, o, c) {
      tokens.inc({ model, direction: 'in' }, i);
      tokens.inc({ model, direction: 'out' }, o);
      cost.inc({ model }, c);
    },
    overhead(s) {
      overhead.observe(s);
    },
  };
}
