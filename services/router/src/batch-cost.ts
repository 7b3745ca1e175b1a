import { costOf, type Usage } from "@gateway/common";
import type { Deployment } from "./config/deployment.js";
import type { Json } from "./providers/provider.js";
import { fromOpenAIUsage, fromResponsesUsage } from "./translate/usage.js";

// What a finished batch's requests used and cost, read from its output file:
// one JSON line per request, each with the provider's answer and its usage
// block. Batches are priced per token by the deployment's
// input_cost_per_token_batches / output_cost_per_token_batches; without
// them, at the deployment's own prices, halved at OpenAI and Azure OpenAI,
// whose Batch APIs charge half.

const HALF_PRICE_BATCHES: ReadonlySet<string> = new Set(["openai", "azure"]);

type BatchPrice = { input: number; output: number } | { factor: number };

function batchPrice(d: Deployment): BatchPrice {
  const { litellm_params: params, model_info: info } = d.entry;
  const input = info?.input_cost_per_token_batches ?? params.input_cost_per_token_batches;
  const output = info?.output_cost_per_token_batches ?? params.output_cost_per_token_batches;
  if (input !== undefined || output !== undefined) return { input: input ?? 0, output: output ?? 0 };
  return { factor: HALF_PRICE_BATCHES.has(d.provider) ? 0.5 : 1 };
}

/** The usage a line of an output file reports: that of a request the provider answered. */
function lineUsage(line: string): Usage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  const response = (parsed as { response?: Json } | null)?.response;
  if (!response || response["status_code"] !== 200) return undefined;
  const usage = (response["body"] as Json | undefined)?.["usage"];
  return fromOpenAIUsage(usage) ?? fromResponsesUsage(usage);
}

/** Sums a batch's requests' usage and cost as its output file's lines come. */
export class BatchUsage {
  private readonly price: BatchPrice;
  readonly usage: Usage & { unitCost: number } = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, unitCost: 0 };

  constructor(private readonly deployment: Deployment) {
    this.price = batchPrice(deployment);
  }

  add(line: string): void {
    const used = lineUsage(line);
    if (!used) return;
    const u = this.usage;
    u.promptTokens += used.promptTokens;
    u.completionTokens += used.completionTokens;
    u.cachedTokens += used.cachedTokens;
    const { price } = this;
    u.unitCost += "factor" in price ? costOf(this.deployment.price, used) * price.factor : used.promptTokens * price.input + used.completionTokens * price.output;
  }
}
