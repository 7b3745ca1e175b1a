import { lowest, type RoutingStrategy } from "./strategy.js";

/**
 * The deployment that answered fastest lately (average of its last few
 * times to first byte, as this replica measured them). Deployments not yet
 * measured count as fastest, so each gets tried. With
 * routing_strategy_args.lowest_latency_buffer, every deployment within that
 * fraction of the fastest shares the traffic, so a deployment slightly
 * slower is not starved of measurements.
 */
export function latencyBased(buffer: number): RoutingStrategy {
  return {
    pick: (_group, candidates, stats) => lowest(candidates, (d) => stats.averageLatency(d.id), buffer),
  };
}
