import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { Budget, BudgetSettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "../context.js";
import { queryOf, sendJson } from "../http.js";
import { bad, body, callOptions, changesBudgetWindow, iso, isNumber, isString, isStrings, keysChanged, optional, required, sharedSettings, type Json } from "./admin-request.js";
import { spendOfCustomers } from "./customers.js";
import { carryRest, endUserSpendParts } from "./end-user-spend.js";
import { spendOfOrganizations } from "./organizations.js";

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
  const s = settings(b);
  // The default end-user budget has members before it exists: whoever spent.
  const [first = [], ...rest] = await endUserSpendParts(ctx, budgetId, s.maxBudget !== undefined);
  const { budget, endUserWindowStartMs } = await ctx.options.peers.keys.createBudget({ budgetId, settings: s, endUserSpendBefore: first }, callOptions(ctx));
  await carryRest(ctx, endUserWindowStartMs, rest);
  sendJson(ctx.res, 200, budgetInfo(budget!));
}

/**
 * What each customer and organization on the budget shows as spent before a
 * change that may move them to another budget window (by user_id and by
 * organization_id), as their own changes read it.
 */
async function spendBefore(ctx: RequestContext, b: Json, budgetId: string) {
  if (!changesBudgetWindow(b)) return {};
  const { keys } = ctx.options.peers;
  // The keys service lists only those on the budget, not every customer and organization.
  const onBudget = { budgetId };
  const [{ customers }, { organizations }] = await Promise.all([keys.listCustomers(onBudget, callOptions(ctx)), keys.listOrganizations(onBudget, callOptions(ctx))]);
  const [customerSpend, organizationSpend] = await Promise.all([spendOfCustomers(ctx, customers), spendOfOrganizations(ctx, organizations)]);
  return {
    customerSpendBefore: customers.map((c, i) => ({ key: c.userId, value: customerSpend[i] ?? 0 })),
    organizationSpendBefore: organizations.map((o, i) => ({ key: o.organizationId, value: organizationSpend[i] ?? 0 })),
  };
}

/** POST /budget/update: { budget_id, … }; its customers take the change at once. */
export async function updateBudget(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const budgetId = required(b["budget_id"], "budget_id");
  // The settings are read (and a bad one refused) before the spend.
  const s = settings(b);
  const [before, [first = [], ...rest]] = await Promise.all([spendBefore(ctx, b, budgetId), endUserSpendParts(ctx, budgetId, s.maxBudget !== undefined)]);
  const change = { budgetId, settings: s, ...before, endUserSpendBefore: first };
  const { budget, endUserWindowStartMs } = await ctx.options.peers.keys.updateBudget(change, callOptions(ctx));
  await carryRest(ctx, endUserWindowStartMs, rest);
  keysChanged(ctx);
  sendJson(ctx.res, 200, budgetInfo(budget!));
}

/** POST /budget/info: { budgets: [budget_id, …] }; the ones that exist. */
export async function budgetInfoRoute(ctx: RequestContext): Promise<void> {
  const ids = optional(await body(ctx), "budgets", isStrings, "a list of budget ids") ?? [];
  const { budgets } = await ctx.options.peers.keys.getBudgets({ budgetIds: ids }, callOptions(ctx));
  sendJson(ctx.res, 200, budgets.map(budgetInfo));
}

// LiteLLM's /budget/settings: a budget's fields as its UI lists them.
const SETTINGS: { field: keyof ReturnType<typeof budgetInfo> | "model_max_budget"; type: string; description: string }[] = [
  { field: "max_budget", type: "Float", description: "Most that the budget's holders may spend in a period, in dollars" },
  { field: "soft_budget", type: "Float", description: "Spend, in dollars, past which the budget counts as nearly used (not enforced)" },
  { field: "max_parallel_requests", type: "Integer", description: "Most requests in flight at once" },
  { field: "tpm_limit", type: "Integer", description: "Most tokens a minute" },
  { field: "rpm_limit", type: "Integer", description: "Most requests a minute" },
  { field: "budget_duration", type: "String", description: 'How often the spend starts again from 0, such as "30d"; none: never' },
  { field: "model_max_budget", type: "Object", description: "Budgets per model (not held on budgets here: a key's model_max_budget is)" },
];

/** GET /budget/settings?budget_id=: the budget's fields, each with its type and value. */
export async function budgetSettings(ctx: RequestContext): Promise<void> {
  const budgetId = required(queryOf(ctx.req).get("budget_id") ?? "", "budget_id");
  const [budget] = (await ctx.options.peers.keys.getBudgets({ budgetIds: [budgetId] }, callOptions(ctx))).budgets;
  if (!budget) throw gatewayError(`budget ${budgetId} does not exist`, Code.NotFound, { type: "not_found_error", param: "budget_id" });
  const info: Record<string, unknown> = budgetInfo(budget);
  sendJson(
    ctx.res,
    200,
    SETTINGS.map(({ field, type, description }) => ({
      field_name: field,
      field_type: type,
      field_description: description,
      field_value: info[field] ?? null,
      stored_in_db: true,
      field_default_value: null,
      premium_field: false,
      nested_fields: null,
    })),
  );
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
