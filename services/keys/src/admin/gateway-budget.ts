import { gatewayLimits } from "../gateway-limits.js";
import { budgetPeriod } from "../limit-holder.js";
import type { AdminDeps } from "./context.js";

/** The gateway's own budget (litellm_settings.max_budget) and its current period's spend; nothing when the config sets none. */
export async function gatewayBudget(deps: AdminDeps): Promise<{ maxBudget?: number; budgetDuration: string; spend?: number; budgetResetAtMs?: bigint }> {
  const limits = gatewayLimits(deps.config);
  if (limits === null || limits.maxBudget === null) return { budgetDuration: "" };
  const period = budgetPeriod(limits, Date.now());
  const [spend = 0] = await deps.spend.of([{ keyId: limits.allowanceId, kind: "budget", windowStart: period.start }]);
  return {
    maxBudget: limits.maxBudget,
    budgetDuration: deps.config.litellm_settings.budget_duration ?? "",
    spend,
    ...(Number.isFinite(period.end) && { budgetResetAtMs: BigInt(period.end) }),
  };
}
