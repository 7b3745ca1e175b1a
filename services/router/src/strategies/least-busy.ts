import { lowest, type RoutingStrategy } from "./strategy.js";

/**
 * The deployment with the fewest calls in flight from this router replica
 * (ties at random). Each replica balances its own traffic, which balances
 * the whole when the replicas share it evenly.
 */
export const leastBusy: RoutingStrategy = {
  pick: (_group, candidates, stats) => lowest(candidates, (d) => stats.inFlight(d.id)),
};
