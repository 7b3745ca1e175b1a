import { Code } from "@connectrpc/connect";
import { gatewayError, hashKey } from "@gateway/common";
import { SpendGroupBy, type SpendTotal } from "@gateway/proto/accounting/v1/accounting_pb.js";
import type { RequestContext } from "../context.js";
import { asViewer, asMasterKey, intParam, queryOf, sendJson } from "../http.js";
import { readableActivity } from "./daily-activity.js";

// LiteLLM's spend report and top lists, in LiteLLM's response shapes, all
// served from the accounting service's daily totals.

// A Map, so that a group_by naming a plain object's own property ("__proto__") is no group.
const GROUP_BY = new Map<string, SpendGroupBy>([
  ["team", SpendGroupBy.TEAM],
  ["api_key", SpendGroupBy.API_KEY],
  ["model", SpendGroupBy.MODEL],
]);

const MAX_TOP = 1000;

function param(ctx: RequestContext, name: string): string {
  return queryOf(ctx.req).get(name) ?? "";
}

/** Groups rows by a key, keeping first-seen order. */
export function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

function sum(rows: SpendTotal[], field: (row: SpendTotal) => number | bigint): number {
  return rows.reduce((total, row) => total + Number(field(row)), 0);
}

function costs(rows: SpendTotal[]) {
  return {
    total_cost: sum(rows, (r) => r.spend),
    total_input_tokens: sum(rows, (r) => r.promptTokens),
    total_output_tokens: sum(rows, (r) => r.completionTokens),
  };
}

/** Per day, per team: total spend, and the spend of each key and model in it. */
function byTeam(rows: SpendTotal[]) {
  return [...groupBy(rows, (r) => r.day)].map(([day, dayRows]) => ({
    group_by_day: day,
    teams: [...groupBy(dayRows, (r) => r.teamId)].map(([teamId, teamRows]) => ({
      team_name: teamId || "Unassigned Team",
      total_spend: sum(teamRows, (r) => r.spend),
      metadata: teamRows.map((r) => ({ model: r.modelGroup, api_key: r.keyHash, spend: r.spend, total_tokens: Number(r.totalTokens) })),
    })),
  }));
}

/**
 * Per day, per end user (LiteLLM's customer; requests that named none are
 * left out): its spend, and each key's and model's in it.
 */
function byCustomer(rows: SpendTotal[]) {
  return [...groupBy(rows, (r) => r.day)].map(([day, dayRows]) => ({
    group_by_day: day,
    customers: [...groupBy(dayRows, (r) => r.entity)].map(([customer, customerRows]) => ({
      customer,
      total_spend: sum(customerRows, (r) => r.spend),
      // The end users' daily totals split a key's spend on a model further (team, provider): joined again.
      metadata: [...groupBy(customerRows, (r) => `${r.keyHash} ${r.modelGroup}`).values()].map((cell) => ({
        model: cell[0]!.modelGroup,
        api_key: cell[0]!.keyHash,
        spend: sum(cell, (r) => r.spend),
        total_tokens: sum(cell, (r) => r.totalTokens),
      })),
    })),
  }));
}

/** Per key (highest spend first), with its spend on each model. */
function byApiKey(rows: SpendTotal[]) {
  return [...groupBy(rows, (r) => r.keyHash)]
    .map(([keyHash, keyRows]) => ({
      api_key: keyHash,
      ...costs(keyRows),
      model_details: keyRows.map((r) => ({ model: r.modelGroup, ...costs([r]) })),
    }))
    .sort((a, b) => b.total_cost - a.total_cost);
}

/** Per model group (highest spend first), with each key's spend on it. */
function byModel(rows: SpendTotal[]) {
  return [...groupBy(rows, (r) => r.modelGroup)]
    .map(([model, modelRows]) => ({
      model,
      ...costs(modelRows),
      api_key_details: modelRows.map((r) => ({ api_key: r.keyHash, ...costs([r]) })),
    }))
    .sort((a, b) => b.total_cost - a.total_cost);
}

/**
 * GET /global/spend/report?start_date=&end_date=&group_by=team|customer|api_key|model (master key).
 * With api_key (the key or its hash), as in LiteLLM: that key alone, per model, whatever group_by says.
 */
export async function globalSpendReport(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const apiKey = param(ctx, "api_key");
  const keyHash = /^[0-9a-f]{64}$/.test(apiKey) ? apiKey : apiKey ? hashKey(apiKey) : "";
  const groupName = keyHash ? "api_key" : param(ctx, "group_by") || "team";
  if (groupName === "customer") {
    const { rows } = await ctx.options.peers.accounting.dailyActivity(
      { startDate: param(ctx, "start_date"), endDate: param(ctx, "end_date"), entityType: "end_user" },
      asMasterKey(ctx),
    );
    return sendJson(ctx.res, 200, byCustomer(rows));
  }
  const groupBy = GROUP_BY.get(groupName);
  if (groupBy === undefined) {
    throw gatewayError(`group_by must be one of ${[...GROUP_BY.keys(), "customer"].join(", ")}: ${groupName}`, Code.InvalidArgument, {
      type: "invalid_request_error",
      param: "group_by",
    });
  }
  const report = await ctx.options.peers.accounting.spendReport(
    { startDate: param(ctx, "start_date"), endDate: param(ctx, "end_date"), groupBy },
    asMasterKey(ctx),
  );
  const rows = keyHash ? report.rows.filter((r) => r.keyHash === keyHash) : report.rows;
  const shaped = groupBy === SpendGroupBy.TEAM ? byTeam(rows) : groupBy === SpendGroupBy.API_KEY ? byApiKey(rows) : byModel(rows);
  sendJson(ctx.res, 200, shaped);
}

/** GET /global/spend/keys?limit= (master key): keys by spend over the last 30 days, or start_date..end_date. */
export async function globalSpendKeys(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const { keys } = await ctx.options.peers.accounting.topKeys(
    { startDate: param(ctx, "start_date"), endDate: param(ctx, "end_date"), limit: intParam(ctx, "limit", 0, MAX_TOP) },
    asMasterKey(ctx),
  );
  // key_name is LiteLLM's abbreviated key ("sk-...abcd"); only hashes are kept here.
  sendJson(ctx.res, 200, keys.map((k) => ({ api_key: k.keyHash, key_alias: k.keyAlias || null, key_name: null, total_spend: k.spend })));
}

/** GET /global/spend/models?limit= (master key): model groups by spend over the last 30 days, or start_date..end_date. */
export async function globalSpendModels(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const { models } = await ctx.options.peers.accounting.topModels(
    { startDate: param(ctx, "start_date"), endDate: param(ctx, "end_date"), limit: intParam(ctx, "limit", 0, MAX_TOP) },
    asMasterKey(ctx),
  );
  sendJson(ctx.res, 200, models.map((m) => ({ model: m.modelGroup, total_spend: m.spend, total_tokens: Number(m.totalTokens) })));
}

/**
 * GET /global/spend (master key): with a gateway budget
 * (litellm_settings.max_budget), its current period's spend, as the budget
 * is held to it; otherwise everything the ledger has booked.
 */
export async function globalSpend(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const budget = await ctx.options.peers.keys.getGatewayBudget({}, asMasterKey(ctx));
  const spend = budget.spend ?? (await ctx.options.peers.accounting.totalSpend({}, asMasterKey(ctx))).spend;
  sendJson(ctx.res, 200, {
    spend,
    max_budget: budget.maxBudget ?? null,
    budget_duration: budget.budgetDuration || null,
    budget_reset_at: budget.budgetResetAtMs === undefined ? null : new Date(Number(budget.budgetResetAtMs)).toISOString(),
  });
}

/**
 * GET /global/spend/provider?start_date=&end_date=: spend per provider
 * ("openai", "anthropic", …) over those days, highest first; an internal
 * user's key reads its own user's keys' only. Requests booked before the
 * daily totals kept the provider are left out.
 */
export async function globalSpendProvider(ctx: RequestContext): Promise<void> {
  const spend = new Map<string, number>();
  for (const row of await readableActivity(ctx)) if (row.provider !== "") spend.set(row.provider, (spend.get(row.provider) ?? 0) + row.spend);
  sendJson(
    ctx.res,
    200,
    [...spend].map(([provider, total]) => ({ provider, spend: total })).sort((a, b) => b.spend - a.spend),
  );
}
