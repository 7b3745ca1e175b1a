import { budgetPeriod, type LimitHolder } from "../limit-holder.js";
import type { AdminDeps } from "./context.js";

/**
 * A change that moves a key (or team) to another budget window (a budget
 * where it had none, another budget_duration) starts the new window from
 * what it had spent, so a budget set or changed later counts it, as in
 * LiteLLM. Changing only max_budget keeps the window and its spend as they are.
 */
export async function carrySpend(deps: AdminDeps, before: LimitHolder, after: LimitHolder, spendBefore: number | undefined, now = Date.now()): Promise<void> {
  if (after.maxBudget === null || spendBefore === undefined || !(spendBefore > 0)) return;
  const windowStart = budgetPeriod(after, now).start;
  if (before.maxBudget !== null && budgetPeriod(before, now).start === windowStart) return;
  await deps.allowances.carrySpend({ keyId: after.allowanceId, kind: "budget", windowStart }, spendBefore);
}
