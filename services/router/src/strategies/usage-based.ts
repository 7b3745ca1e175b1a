import type { DeploymentLimits } from "../deployment-limits.js";
import { lowest, type RoutingStrategy } from "./strategy.js";

/**
 * The deployment that has used the fewest tokens this minute, across the
 * router replicas. Deployments whose rpm or tpm is used up are passed over
 * by the router when their limits refuse the call.
 */
export function usageBased(limits: DeploymentLimits): RoutingStrategy {
  return {
    pick: (_group, candidates) => lowest(candidates, (d) => limits.tokensUsed(d)),
  };
}
