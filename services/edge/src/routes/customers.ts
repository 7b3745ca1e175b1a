import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EndUserSpend } from "@gateway/proto/accounting/v1/accounting_pb.js";
import type { Customer, CustomerSettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "../context.js";
import { asMasterKey, queryOf, sendJson } from "../http.js";
import {
  bad,
  body,
  callOptions,
  changesBudgetWindow,
  iso,
  isBoolean,
  isString,
  isStrings,
  keysChanged,
  ledgerSpend,
  optional,
  required,
  sharedSettings,
  unlessMissing,
  type Json,
} from "./admin-request.js";

// LiteLLM's customer (end user) management routes (/customer/*).

const CLEARABLE = ["alias", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "max_parallel_requests", "allowed_model_region", "default_model", "budget_id"];

/** LiteLLM's customer fields from a request body. */
function settings(b: Json): MessageInitShape<typeof CustomerSettingsSchema> {
  const { maxBudget, budgetDuration, rpmLimit, tpmLimit, maxParallelRequests } = sharedSettings(b);
  const s: MessageInitShape<typeof CustomerSettingsSchema> = { maxBudget, budgetDuration, rpmLimit, tpmLimit, maxParallelRequests };
  const alias = optional(b, "alias", isString, "a string");
  if (alias !== undefined) s.alias = alias;
  const blocked = optional(b, "blocked", isBoolean, "true or false");
  if (blocked !== undefined) s.blocked = blocked;
  const region = optional(b, "allowed_model_region", isString, '"eu" or "us"');
  if (region !== undefined) s.allowedModelRegion = region;
  const defaultModel = optional(b, "default_model", isString, "a model name");
  if (defaultModel !== undefined) s.defaultModel = defaultModel;
  const budgetId = optional(b, "budget_id", isString, "a budget's id (/budget/new)");
  if (budgetId !== undefined) s.budgetId = budgetId;
  // null takes a setting away.
  s.clear = CLEARABLE.filter((field) => b[field] === null);
  return s;
}

const userId = (value: unknown, param = "user_id") => required(value, param);

/** A customer in LiteLLM's response shape: the limits in force in its budget table (its budget's, where it names one). */
function customerInfo(c: Customer, spend: number) {
  const limited =
    c.budgetId !== "" || c.maxBudget !== undefined || c.rpmLimit !== undefined || c.tpmLimit !== undefined || c.maxParallelRequests !== undefined || c.budgetDuration !== "";
  return {
    user_id: c.userId,
    budget_id: c.budgetId || null,
    alias: c.alias || null,
    blocked: c.blocked,
    spend,
    allowed_model_region: c.allowedModelRegion || null,
    default_model: c.defaultModel || null,
    litellm_budget_table: limited
      ? {
          budget_id: c.budgetId || null,
          max_budget: c.maxBudget ?? null,
          budget_duration: c.budgetDuration || null,
          budget_reset_at: iso(c.budgetResetAtMs),
          rpm_limit: c.rpmLimit ?? null,
          tpm_limit: c.tpmLimit ?? null,
          max_parallel_requests: c.maxParallelRequests ?? null,
        }
      : null,
    created_at: iso(c.createdAtMs),
    updated_at: iso(c.updatedAtMs),
  };
}

/** What each customer has spent: its budget period's with a budget, otherwise the ledger's over requests made for it. */
export async function spendOfCustomers(ctx: RequestContext, customers: Customer[]): Promise<number[]> {
  const ledger = await ledgerSpend(ctx, "endUsers", customers.filter((c) => c.spend === undefined).map((c) => c.userId));
  return customers.map((c) => c.spend ?? ledger.get(c.userId) ?? 0);
}

async function shown(ctx: RequestContext, customers: Customer[]) {
  const spend = await spendOfCustomers(ctx, customers);
  return customers.map((c, i) => customerInfo(c, spend[i] ?? 0));
}

export async function newCustomer(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  // As LiteLLM's: a customer's budget is its own or a shared one, not both.
  if (b["max_budget"] != null && b["budget_id"] != null) throw bad("Set either 'max_budget' or 'budget_id', not both.", "budget_id");
  const { customer } = await ctx.options.peers.keys.createCustomer({ userId: userId(b["user_id"]), settings: settings(b) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, (await shown(ctx, [customer!]))[0]);
}

/** What a customer shows as spent before a change that may move it to another budget window. */
async function spendBefore(ctx: RequestContext, b: Json, id: string): Promise<number | undefined> {
  if (!changesBudgetWindow(b)) return undefined;
  const found = await unlessMissing(ctx.options.peers.keys.getCustomer({ userId: id }, callOptions(ctx)));
  return found && (await spendOfCustomers(ctx, [found.customer!]))[0];
}

export async function updateCustomer(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = userId(b["user_id"]);
  const { customer } = await ctx.options.peers.keys.updateCustomer({ userId: id, settings: settings(b), spendBefore: await spendBefore(ctx, b, id) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, (await shown(ctx, [customer!]))[0]);
}

/**
 * An end user the ledger has requests of but no customer row, as LiteLLM
 * shows the end users it records on their first request: no limits, and its
 * spend over every request made for it.
 */
function recorded(e: EndUserSpend) {
  return {
    user_id: e.endUser,
    budget_id: null,
    alias: null,
    blocked: false,
    spend: e.spend,
    allowed_model_region: null,
    default_model: null,
    litellm_budget_table: null,
    created_at: null,
    updated_at: null,
  };
}

const endUsersRecorded = async (ctx: RequestContext, endUsers: string[]) =>
  (await ctx.options.peers.accounting.endUserSpend({ endUsers }, asMasterKey(ctx))).endUsers;

/** A customer, or an end user only the ledger knows (a 404 for neither). */
export async function customerInfoRoute(ctx: RequestContext): Promise<void> {
  const id = userId(queryOf(ctx.req).get("end_user_id"), "end_user_id");
  let customer: Customer | undefined;
  try {
    ({ customer } = await ctx.options.peers.keys.getCustomer({ userId: id }, callOptions(ctx)));
  } catch (err) {
    if (ConnectError.from(err).code !== Code.NotFound) throw err;
    const [seen] = await endUsersRecorded(ctx, [id]);
    if (!seen) throw err;
    return sendJson(ctx.res, 200, recorded(seen));
  }
  sendJson(ctx.res, 200, (await shown(ctx, [customer!]))[0]);
}

/** The customers, then every end user the ledger has requests of without a customer row. */
export async function listCustomers(ctx: RequestContext): Promise<void> {
  // The keys service decides first whether the caller may list them at all.
  const { customers } = await ctx.options.peers.keys.listCustomers({}, callOptions(ctx));
  const seen = await endUsersRecorded(ctx, []);
  const known = new Set(customers.map((c) => c.userId));
  sendJson(ctx.res, 200, [...(await shown(ctx, customers)), ...seen.filter((e) => !known.has(e.endUser)).map(recorded)]);
}

async function userIds(ctx: RequestContext): Promise<string[]> {
  const ids = optional(await body(ctx), "user_ids", isStrings, "a list of end user ids") ?? [];
  if (ids.length === 0) throw bad("user_ids is required", "user_ids");
  return ids;
}

export async function deleteCustomers(ctx: RequestContext): Promise<void> {
  const { deletedUserIds } = await ctx.options.peers.keys.deleteCustomers({ userIds: await userIds(ctx) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, {
    deleted_customers: deletedUserIds.length,
    message: `Successfully deleted customers with ids: ${JSON.stringify(deletedUserIds)}`,
    deleted_user_ids: deletedUserIds,
  });
}

export async function blockCustomers(ctx: RequestContext): Promise<void> {
  const { customers } = await ctx.options.peers.keys.blockCustomers({ userIds: await userIds(ctx) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, { blocked_users: await shown(ctx, customers) });
}

export async function unblockCustomers(ctx: RequestContext): Promise<void> {
  const { customers } = await ctx.options.peers.keys.unblockCustomers({ userIds: await userIds(ctx) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, { unblocked_users: await shown(ctx, customers) });
}
