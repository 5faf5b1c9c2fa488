// Cost per model in USD per million tokens (input, output), from the providers'
// published price lists (openai.com/api/pricing, anthropic.com/pricing) at the time of
// writing. Matching is by longest prefix so dated model versions (gpt-4o-2024-08-06)
// find their family; unknown models use DEFAULT_COST so a spend cap still counts them.
export interface ModelCost {
  input: number;
  output: number;
}

export type CostTable = Record<string, ModelCost>;

export const DEFAULT_COST: ModelCost = { input: 5, output: 15 };

export const DEFAULT_COSTS: CostTable = {
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'o3': { input: 2, output: 8 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
  'claude-haiku-4': { input: 1, output: 5 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-opus-4': { input: 15, output: 75 },
};

export function costUsd(table: CostTable, model: string, inputTokens: number, outputTokens: number): number {
  let best: ModelCost | undefined;
  let bestLen = -1;
  for (const [prefix, c] of Object.entries(table)) {
    if (model.startsWith(prefix) && prefix.length > bestLen) {
      best = c;
      bestLen = prefix.length;
    }
  }
  const c = best ?? DEFAULT_COST;
  return (inputTokens * c.input + outputTokens * c.output) / 1_000_000;
}
