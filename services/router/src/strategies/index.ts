import type { RouterSettings } from "../config/router-settings.js";
import type { DeploymentLimits } from "../deployment-limits.js";
import { costBased } from "./cost-based.js";
import { latencyBased } from "./latency-based.js";
import { leastBusy } from "./least-busy.js";
import { simpleShuffle } from "./simple-shuffle.js";
import type { RoutingStrategy } from "./strategy.js";
import { usageBased } from "./usage-based.js";

/** The strategy router_settings.routing_strategy names, and the limits it enforces (usage- and cost-based routing). */
export function strategyFor(settings: RouterSettings, limits: DeploymentLimits): { strategy: RoutingStrategy; limits: DeploymentLimits | undefined } {
  switch (settings.strategy) {
    case "least-busy":
      return { strategy: leastBusy, limits: undefined };
    case "latency-based-routing":
      return { strategy: latencyBased(settings.lowestLatencyBuffer), limits: undefined };
    case "usage-based-routing":
    case "usage-based-routing-v2":
      return { strategy: usageBased(limits), limits };
    case "cost-based-routing":
      return { strategy: costBased, limits };
    case "simple-shuffle":
      return { strategy: simpleShuffle, limits: undefined };
  }
}
