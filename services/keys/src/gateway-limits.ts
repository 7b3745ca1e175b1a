import type { GatewayConfig } from "@gateway/common";
import { holdsLimits, limitHolder, type LimitHolder } from "./limit-holder.js";

/**
 * The gateway's own limits over every model call, whatever the key (the
 * master key's too): litellm_settings.max_budget per budget_duration (periods
 * from the unix epoch: UTC days, calendar months) and
 * general_settings.global_max_parallel_requests. Null when the config sets
 * neither.
 */
export function gatewayLimits(config: GatewayConfig): LimitHolder | null {
  const limits = limitHolder("gateway", "gateway", "gateway", {
    maxBudget: config.litellm_settings.max_budget ?? null,
    budgetDuration: config.litellm_settings.budget_duration ?? "",
    rpmLimit: null,
    tpmLimit: null,
    maxParallelRequests: config.general_settings.global_max_parallel_requests ?? null,
    createdAt: new Date(0),
  });
  return holdsLimits(limits) ? limits : null;
}
