import { Code } from "@connectrpc/connect";
import { administers, gatewayError, type Db } from "@gateway/common";
import type { AllowanceStore } from "../allowance-store.js";
import { toRecord, type KeyRow } from "../key-record.js";
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
 * then. `allowances` is the store in the change's own transaction
 * (AllowanceStore.in): the row and its spend move together, for a row moved
 * alone (its connection lost, its process dead, before the spend) would
 * start its new window from nothing, and the change made again would find
 * the row already there and nothing to move.
 */
export async function carrySpend(allowances: AllowanceStore, before: WithinBudgets, after: WithinBudgets, spendBefore: number | undefined, now = Date.now()): Promise<void> {
  if (after.maxBudget !== null && before.maxBudget !== null) await moveWindow(allowances, before, after, now);
  else if (after.maxBudget !== null && spendBefore !== undefined && spendBefore > 0) {
    await allowances.carrySpend({ keyId: after.allowanceId, kind: "budget", windowStart: budgetPeriod(after, now).start }, spendBefore);
  }
  const earlier = new Map(budgetsWithin(before).map((h) => [h.allowanceId, h]));
  for (const h of budgetsWithin(after)) {
    const was = earlier.get(h.allowanceId);
    if (was && was.maxBudget !== null && h.maxBudget !== null) await moveWindow(allowances, was, h, now);
  }
}

/** Moves a budget's spend, and all its window holds, to the window its new period puts it in, if that is another (its allowance id stays). */
async function moveWindow(allowances: AllowanceStore, before: LimitHolder, after: LimitHolder, now: number): Promise<void> {
  const [from, to] = [budgetPeriod(before, now).start, budgetPeriod(after, now).start];
  if (from !== to) await allowances.moveSpend({ keyId: after.allowanceId, kind: "budget", windowStart: from }, to);
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
 * becomes that, in the key's change's transaction (`allowances`, as for
 * carrySpend). This replica's settled spend not yet written goes first
 * (writeSpendBefore); another replica's (at most its last second's) is
 * written after, on top.
 */
async function setBudgetSpend(allowances: AllowanceStore, after: LimitHolder, spendTo: number | undefined, now = Date.now()): Promise<void> {
  if (spendTo === undefined || after.maxBudget === null) return;
  await allowances.setSpend({ keyId: after.allowanceId, kind: "budget", windowStart: budgetPeriod(after, now).start }, spendTo);
}

/**
 * Writes this replica's settled spend before a key's change that sets its
 * spend (setBudgetSpend), before the change's transaction: the writer
 * writes through its own connection, which would wait for the windows the
 * transaction has changed (on the embedded database, for its one
 * connection, which the transaction holds) while the transaction waits
 * for it.
 */
export async function writeSpendBefore(deps: AdminDeps, spendTo: number | undefined): Promise<void> {
  if (spendTo !== undefined) await deps.spend.write();
}

/**
 * What a key's change (`before`: the key before it; none for a new key)
 * does to its budget, given the key as written, in the change's
 * transaction (`tx`): its spend carried (carrySpend), then set to `spendTo`.
 */
export const keyBudgetChange =
  (deps: AdminDeps, before: KeyRow | undefined, spendBefore: number | undefined, spendTo: number | undefined) =>
  async (tx: Db, row: KeyRow): Promise<void> => {
    const allowances = deps.allowances.in(tx);
    if (before) await carrySpend(allowances, toRecord(before), toRecord(row), spendBefore);
    await setBudgetSpend(allowances, toRecord(row), spendTo);
  };
