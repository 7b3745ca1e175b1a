import type { Deployment } from "../config/deployment.js";
import type { ModelGroup } from "../config/model-groups.js";
import type { DeploymentStats } from "../deployment-stats.js";

/**
 * Picks one deployment among the candidates the router left (not cooling
 * down, not yet failed in this request, lowest order). In memory and cheap:
 * it runs on every attempt.
 */
export interface RoutingStrategy {
  pick(group: ModelGroup, candidates: readonly Deployment[], stats: DeploymentStats): Deployment | undefined;
}

/** One of the candidates, uniformly at random. */
export function anyOf<T>(items: readonly T[]): T | undefined {
  return items[Math.floor(Math.random() * items.length)];
}

/** The candidates sharing the lowest score, one of them at random. */
export function lowest(candidates: readonly Deployment[], score: (d: Deployment) => number, within = 0): Deployment | undefined {
  let best = Number.POSITIVE_INFINITY;
  for (const d of candidates) best = Math.min(best, score(d));
  const limit = best + Math.abs(best) * within;
  return anyOf(candidates.filter((d) => score(d) <= limit));
}
