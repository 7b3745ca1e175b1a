import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Budget, BudgetSettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "../context.js";
import { sendJson } from "../http.js";
import { bad, body, callOptions, iso, isNumber, isString, isStrings, keysChanged, optional, required, sharedSettings, type Json } from "./admin-request.js";

// LiteLLM's budget routes (/budget/*): budgets customers share by naming one
// as their budget_id (pricing tiers). The keys service checks who may call.

const CLEARABLE = ["max_budget", "soft_budget", "budget_duration", "rpm_limit", "tpm_limit", "max_parallel_requests"];

/** LiteLLM's budget fields from a request body. */
function settings(b: Json): MessageInitShape<typeof BudgetSettingsSchema> {
  // A limit this gateway would not hold is refused rather than ignored.
  if (b["model_max_budget"] != null && Object.keys(b["model_max_budget"] as object).length > 0) {
    throw bad("model_max_budget is not supported on budgets (a key's model_max_budget is)", "model_max_budget");
  }
  const { maxBudget, budgetDuration, rpmLimit, tpmLimit, maxParallelRequests } = sharedSettings(b);
  const s: MessageInitShape<typeof BudgetSettingsSchema> = { maxBudget, budgetDuration, rpmLimit, tpmLimit, maxParallelRequests };
  const soft = optional(b, "soft_budget", isNumber, "a number of dollars");
  if (soft !== undefined) s.softBudget = soft;
  // null takes a setting away.
  s.clear = CLEARABLE.filter((field) => b[field] === null);
  return s;
}

/** A budget in LiteLLM's response shape (its budget table row). */
function budgetInfo(budget: Budget) {
  return {
    budget_id: budget.budgetId,
    max_budget: budget.maxBudget ?? null,
    soft_budget: budget.softBudget ?? null,
    max_parallel_requests: budget.maxParallelRequests ?? null,
    tpm_limit: budget.tpmLimit ?? null,
    rpm_limit: budget.rpmLimit ?? null,
    budget_duration: budget.budgetDuration || null,
    created_at: iso(budget.createdAtMs),
    updated_at: iso(budget.updatedAtMs),
  };
}

/** POST /budget/new: { budget_id?, max_budget, soft_budget, budget_duration, rpm_limit, tpm_limit, max_parallel_requests }. */
export async function newBudget(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const budgetId = optional(b, "budget_id", isString, "a string") ?? "";
  const { budget } = await ctx.options.peers.keys.createBudget({ budgetId, settings: settings(b) }, callOptions(ctx));
  sendJson(ctx.res, 200, budgetInfo(budget!));
}

/** POST /budget/update: { budget_id, … }; its customers take the change at once. */
export async function updateBudget(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const { budget } = await ctx.options.peers.keys.updateBudget({ budgetId: required(b["budget_id"], "budget_id"), settings: settings(b) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, budgetInfo(budget!));
}

/** POST /budget/info: { budgets: [budget_id, …] }; the ones that exist. */
export async function budgetInfoRoute(ctx: RequestContext): Promise<void> {
  const ids = optional(await body(ctx), "budgets", isStrings, "a list of budget ids") ?? [];
  const { budgets } = await ctx.options.peers.keys.getBudgets({ budgetIds: ids }, callOptions(ctx));
  sendJson(ctx.res, 200, budgets.map(budgetInfo));
}

/** GET /budget/list. */
export async function listBudgets(ctx: RequestContext): Promise<void> {
  const { budgets } = await ctx.options.peers.keys.listBudgets({}, callOptions(ctx));
  sendJson(ctx.res, 200, budgets.map(budgetInfo));
}

/** POST /budget/delete: { id }; refused while a customer names the budget. */
export async function deleteBudget(ctx: RequestContext): Promise<void> {
  const { budget } = await ctx.options.peers.keys.deleteBudget({ budgetId: required((await body(ctx))["id"], "id") }, callOptions(ctx));
  sendJson(ctx.res, 200, budgetInfo(budget!));
}
