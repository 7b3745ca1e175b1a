import type { Deployment } from "../config/deployment.js";
import type { ModelGroup } from "../config/model-groups.js";
import { anyOf, type RoutingStrategy } from "./strategy.js";

function weightOf(d: Deployment, by: ModelGroup["weighting"]): number {
  if (by === "weight") return d.weight ?? 0;
  if (by === "rpm") return d.rpm ?? 0;
  if (by === "tpm") return d.tpm ?? 0;
  return 1;
}

/**
 * LiteLLM's default: a random deployment, weighted by `weight` when the group
 * sets any, else by `rpm`, else by `tpm` (a deployment without the field
 * weighs 0), else uniform.
 */
export const simpleShuffle: RoutingStrategy = {
  pick(group, candidates) {
    if (group.weighting === "uniform") return anyOf(candidates);
    let total = 0;
    for (const d of candidates) total += weightOf(d, group.weighting);
    if (total <= 0) return anyOf(candidates);
    let point = Math.random() * total;
    for (const d of candidates) {
      point -= weightOf(d, group.weighting);
      if (point < 0) return d;
    }
    return candidates.at(-1);
  },
};
