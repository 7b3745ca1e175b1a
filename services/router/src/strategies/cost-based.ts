import { setsOwnPrice } from "@gateway/common";
import type { Deployment } from "../config/deployment.js";
import { lowest, type RoutingStrategy } from "./strategy.js";

// A deployment the price list does not know, with no price of its own, comes
// after every priced one (as in LiteLLM): unknown is not free.
const UNPRICED = Number.MAX_VALUE;

/** The ranking cost-based routing uses, as LiteLLM's: a token's input price plus its output price. */
export function tokenCost(d: Deployment): number {
  const { price, entry } = d;
  if (price.input > 0 || price.output > 0 || setsOwnPrice([entry.model_info, entry.litellm_params])) return price.input + price.output;
  return UNPRICED;
}

/**
 * The cheapest deployment per token (ties at random). Deployments with an
 * rpm or tpm are held to it across the router replicas, as under
 * usage-based routing: one at its limit is passed over for the next
 * cheapest.
 */
export const costBased: RoutingStrategy = {
  pick: (_group, candidates) => lowest(candidates, tokenCost),
};
