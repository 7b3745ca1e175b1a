import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { entryMap, gatewayError, pgErrorCode, type Db } from "@gateway/common";
import { BudgetSchema, type Budget, type CarryEndUserSpendRequest, type CreateBudgetRequest, type DeleteBudgetRequest, type GetBudgetsRequest, type UpdateBudgetRequest } from "@gateway/proto/keys/v1/keys_pb.js";
import type { BudgetChange, BudgetRow } from "../budget-store.js";
import { customerLimits } from "../customer-record.js";
import { carryDefaultCustomerSpend, carryEndUserSpend } from "../default-customer-budget.js";
import { toOrganizationRecord } from "../organization-record.js";
import { carrySpend } from "./carry-spend.js";
import type { AdminDeps } from "./context.js";
import { budgetSettingsPatch } from "./settings.js";

// LiteLLM's budget table: limits customers and organizations share by
// naming a budget_id (its pricing tiers). A change reloads the customers and
// organizations, whose limits in force it changes, on every keys replica.

const MAX_BUDGET_ID_CHARS = 256;

function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

function notFound(budgetId: string): Error {
  return gatewayError(`Budget id=${budgetId} not found`, Code.NotFound, { type: "not_found_error", param: "budget_id" });
}

/** A write naming a budget that must exist (a customer's or organization's budget_id), its foreign-key failure as a 400. */
export async function withKnownBudget<T>(budgetId: string | null | undefined, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (pgErrorCode(err) === "23503") throw invalid(`budget_id=${budgetId} does not exist; make it with /budget/new first`, "budget_id");
    throw err;
  }
}

export function toBudgetProto(row: BudgetRow): Budget {
  return create(BudgetSchema, {
    budgetId: row.budgetId,
    ...(row.maxBudget !== null && { maxBudget: row.maxBudget }),
    ...(row.softBudget !== null && { softBudget: row.softBudget }),
    budgetDuration: row.budgetDuration,
    ...(row.rpmLimit !== null && { rpmLimit: row.rpmLimit }),
    ...(row.tpmLimit !== null && { tpmLimit: row.tpmLimit }),
    ...(row.maxParallelRequests !== null && { maxParallelRequests: row.maxParallelRequests }),
    createdAtMs: BigInt(row.createdAt.getTime()),
    updatedAtMs: BigInt(row.updatedAt.getTime()),
  });
}

/** The end users' window a change of the default end-user budget started from their spend, for its response. */
const endUserWindow = (windowStart: number | undefined) => (windowStart === undefined ? {} : { endUserWindowStartMs: BigInt(windowStart) });

export async function createBudget(deps: AdminDeps, req: CreateBudgetRequest): Promise<{ budget: Budget; endUserWindowStartMs?: bigint }> {
  const budgetId = req.budgetId === "" ? randomUUID() : req.budgetId;
  if (budgetId.length > MAX_BUDGET_ID_CHARS) throw invalid(`budget_id must be at most ${MAX_BUDGET_ID_CHARS} characters`, "budget_id");
  // No customer or organization can name it yet, but max_end_user_budget_id
  // may: its end users spent before it existed, which a max_budget counts,
  // as when one is added later (updateBudget).
  let windowStart: number | undefined;
  const carry = async (tx: Db, row: BudgetRow) => {
    if (deps.config.litellm_settings.max_end_user_budget_id === budgetId) windowStart = await carryDefaultCustomerSpend(deps.allowances.in(tx), undefined, row, req.endUserSpendBefore);
  };
  const row = await deps.budgetStore.insert({ budgetId, ...budgetSettingsPatch(req.settings) }, carry).catch((err: unknown) => {
    if (pgErrorCode(err) === "23505") throw invalid(`Budget id=${budgetId} already exists`, "budget_id");
    throw err;
  });
  // It may be max_end_user_budget_id's, read with the whole customer table.
  await deps.customers.allChanged();
  return { budget: toBudgetProto(row), ...endUserWindow(windowStart) };
}

export async function updateBudget(deps: AdminDeps, req: UpdateBudgetRequest): Promise<{ budget: Budget; endUserWindowStartMs?: bigint }> {
  if (req.budgetId === "") throw invalid("budget_id is required", "budget_id");
  // A new budget_duration moves each customer and organization on the budget
  // (and each end user, for the default budget) to another window: what it
  // spent, and what its requests in flight will, go with it, as when its own
  // budget_duration changes (left behind, the new window started from
  // nothing and the budget could be spent again). A max_budget where one had
  // none starts from what the edge read it had spent, as its own change of
  // max_budget does; one that came onto the budget after that read, from
  // nothing.
  const customerSpendBefore = entryMap(req.customerSpendBefore);
  const organizationSpendBefore = entryMap(req.organizationSpendBefore);
  let windowStart: number | undefined;
  const carry = async (tx: Db, change: BudgetChange) => {
    const allowances = deps.allowances.in(tx);
    for (const { before, after } of change.customers) await carrySpend(allowances, customerLimits(before), customerLimits(after), customerSpendBefore.get(after.userId));
    for (const { before, after } of change.organizations) await carrySpend(allowances, toOrganizationRecord(before), toOrganizationRecord(after), organizationSpendBefore.get(after.organizationId));
    // The end users held to it as the default (max_end_user_budget_id) are named by no row.
    if (deps.config.litellm_settings.max_end_user_budget_id === req.budgetId) windowStart = await carryDefaultCustomerSpend(allowances, change.budget.before, change.budget.after, req.endUserSpendBefore);
  };
  const row = await deps.budgetStore.update(req.budgetId, budgetSettingsPatch(req.settings), carry);
  if (!row) throw notFound(req.budgetId);
  // Every customer and organization naming it, and max_end_user_budget_id's budget (read with the whole customer table), may have changed.
  await deps.customers.allChanged();
  await deps.organizations.allChanged();
  return { budget: toBudgetProto(row), ...endUserWindow(windowStart) };
}

/**
 * The spend of the end users the default end-user budget's create or update
 * request had no room for, into the window that change started
 * (`windowStartMs`, from its response). It lands after the change's
 * transaction, so each of them may have been let through from nothing until
 * then; as in the change, a window keeps the larger of what it shows and
 * what the edge read.
 */
export async function carryEndUserSpendRest(deps: AdminDeps, req: CarryEndUserSpendRequest): Promise<Record<string, never>> {
  if (deps.config.litellm_settings.max_end_user_budget_id === undefined) throw invalid("litellm_settings.max_end_user_budget_id names no budget whose end users' spend to carry", "window_start_ms");
  await carryEndUserSpend(deps.allowances, Number(req.windowStartMs), req.endUserSpend);
  return {};
}

export async function getBudgets(deps: AdminDeps, req: GetBudgetsRequest): Promise<{ budgets: Budget[] }> {
  if (req.budgetIds.length === 0) throw invalid("budgets must name at least one budget_id", "budgets");
  return { budgets: (await deps.budgetStore.byIds(req.budgetIds)).map(toBudgetProto) };
}

export async function listBudgets(deps: AdminDeps): Promise<{ budgets: Budget[] }> {
  return { budgets: (await deps.budgetStore.all()).map(toBudgetProto) };
}

/** Deletes a budget no customer or organization names. */
export async function deleteBudget(deps: AdminDeps, req: DeleteBudgetRequest): Promise<{ budget: Budget }> {
  if (req.budgetId === "") throw invalid("id is required", "id");
  const row = await deps.budgetStore.delete(req.budgetId).catch((err: unknown) => {
    // restrict_violation (the foreign key's ON DELETE RESTRICT), or foreign_key_violation.
    if (["23001", "23503"].includes(pgErrorCode(err) ?? "")) throw invalid(`Budget id=${req.budgetId} is the budget_id of customers or organizations; give them another (or none) first`, "id");
    throw err;
  });
  if (!row) throw notFound(req.budgetId);
  // It may have been max_end_user_budget_id's, read with the whole customer table.
  await deps.customers.allChanged();
  return { budget: toBudgetProto(row) };
}
