import { Code } from "@connectrpc/connect";
import { administers, gatewayError } from "@gateway/common";
import type { KeyRow } from "../key-record.js";
import type { KeyPatch } from "../key-store.js";
import { budgetPeriod, type LimitHolder } from "../limit-holder.js";
import { forbidden, type Caller } from "./access.js";
import type { AdminDeps } from "./context.js";

/** A holder, with the budgets that come with it: its members' within a team, its per-model ones. */
type WithinBudgets = LimitHolder & { members?: ReadonlyMap<string, LimitHolder>; modelLimits?: ReadonlyMap<string, LimitHolder> | null };

const budgetsWithin = (holder: WithinBudgets): LimitHolder[] => [...(holder.members?.values() ?? []), ...(holder.modelLimits?.values() ?? [])];

/**
 * A change that moves a key (or team, user, …) to another budget window (a
 * budget where it had none, another budget_duration) starts the new window
 * from what it had spent, so a budget set or changed later counts it, as in
 * LiteLLM: the old window's spend, and what still settles there (requests
 * admitted before the change, other replicas' spend not yet written), or,
 * without a budget before, `spendBefore` (the ledger's, read just before).
 * Changing only max_budget keeps the window and its spend as they are. The
 * budgets that come with it (team members', per-model) move the same way
 * when their periods change (team_member_budget_duration, a
 * model_max_budget's time_period); one set where there was none counts from
 * then.
 */
export async function carrySpend(deps: AdminDeps, before: WithinBudgets, after: WithinBudgets, spendBefore: number | undefined, now = Date.now()): Promise<void> {
  if (after.maxBudget !== null && before.maxBudget !== null) await moveWindow(deps, before, after, now);
  else if (after.maxBudget !== null && spendBefore !== undefined && spendBefore > 0) {
    await deps.allowances.carrySpend({ keyId: after.allowanceId, kind: "budget", windowStart: budgetPeriod(after, now).start }, spendBefore);
  }
  const earlier = new Map(budgetsWithin(before).map((h) => [h.allowanceId, h]));
  for (const h of budgetsWithin(after)) {
    const was = earlier.get(h.allowanceId);
    if (was && was.maxBudget !== null && h.maxBudget !== null) await moveWindow(deps, was, h, now);
  }
}

/** Moves a budget's spend, and all its window holds, to the window its new period puts it in, if that is another (its allowance id stays). */
async function moveWindow(deps: AdminDeps, before: LimitHolder, after: LimitHolder, now: number): Promise<void> {
  const [from, to] = [budgetPeriod(before, now).start, budgetPeriod(after, now).start];
  if (from !== to) await deps.allowances.moveSpend({ keyId: after.allowanceId, kind: "budget", windowStart: from }, to);
}

/**
 * LiteLLM's `spend` set on a key (only by an admin: a key's user could
 * otherwise undo its budget), for a key that will have no budget: the patch
 * keeps the difference from what it showed before (its ledger sum and
 * earlier difference; none for a new key), which /key/info adds to the ledger.
 */
export function spendOffsetPatch(caller: Caller, patch: KeyPatch, current: KeyRow | undefined, spendTo: number | undefined, spendBefore: number | undefined): void {
  if (spendTo === undefined) return;
  if (!administers(caller.userRole)) throw forbidden("Only an admin may set a key's spend");
  if (!(spendTo >= 0)) throw gatewayError("spend must be a number of dollars, 0 or more", Code.InvalidArgument, { type: "invalid_request_error", param: "spend" });
  const maxBudget = patch.maxBudget === undefined ? (current?.maxBudget ?? null) : patch.maxBudget;
  if (maxBudget !== null) return;
  if (current === undefined) patch.spendOffset = spendTo;
  else if (spendBefore === undefined) throw gatewayError("spend needs what the key showed as spent before", Code.InvalidArgument, { type: "invalid_request_error", param: "spend" });
  else patch.spendOffset = current.spendOffset + spendTo - spendBefore;
}

/**
 * LiteLLM's `spend` set on a key with a budget: its budget period's spend
 * becomes that. This replica's settled spend not yet written goes first;
 * another replica's (at most its last second's) is written after, on top.
 */
export async function setBudgetSpend(deps: AdminDeps, after: LimitHolder, spendTo: number | undefined, now = Date.now()): Promise<void> {
  if (spendTo === undefined || after.maxBudget === null) return;
  await deps.spend.write();
  await deps.allowances.setSpend({ keyId: after.allowanceId, kind: "budget", windowStart: budgetPeriod(after, now).start }, spendTo);
}
