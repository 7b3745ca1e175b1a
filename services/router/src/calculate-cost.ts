import { Code } from "@connectrpc/connect";
import { costOf, gatewayError, providerPrice, type Price } from "@gateway/common";
import type { CalculateCostRequest } from "@gateway/proto/router/v1/router_pb.js";
import type { ModelGroups } from "./config/model-groups.js";

/**
 * POST /spend/calculate: a call's tokens at the price of the deployment a
 * request to the group (or alias) would try first; for a name no group
 * answers, at the list price of the provider's model it names
 * ("anthropic/claude-…" or a bare "gpt-4o-mini").
 */
export function calculateCost(groups: ModelGroups, req: CalculateCostRequest): { cost: number } {
  if (req.cachedTokens + req.cacheWriteTokens > req.promptTokens) {
    throw gatewayError("cached and cache-written tokens are part of the prompt tokens, so they cannot be more", Code.InvalidArgument, { type: "invalid_request_error", param: "usage" });
  }
  const group = groups.resolve(req.model);
  const price = (group?.firstChoice[0] ?? group?.deployments[0])?.price ?? namedPrice(req.model);
  const usage = { promptTokens: req.promptTokens, completionTokens: req.completionTokens, cachedTokens: req.cachedTokens, cacheWriteTokens: req.cacheWriteTokens, cacheWrite1hTokens: 0 };
  return { cost: costOf(price, usage) };
}

function namedPrice(model: string): Price {
  const slash = model.indexOf("/");
  return slash < 0 ? providerPrice("", model) : providerPrice(model.slice(0, slash), model.slice(slash + 1));
}
