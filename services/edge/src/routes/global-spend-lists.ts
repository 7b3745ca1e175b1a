import { hashKey } from "@gateway/common";
import type { SpendTotal } from "@gateway/proto/accounting/v1/accounting_pb.js";
import type { RequestContext } from "../context.js";
import { DAY_MS, isoDay } from "../days.js";
import { asMasterKey, asViewer, sendJson, spendReader } from "../http.js";
import { bad, body, callOptions, isString, optional } from "./admin-request.js";
import { dailyRows, dayParam, keyHashesOf, listParam } from "./daily-activity.js";
import { groupBy } from "./global-spend.js";

// LiteLLM's spend lists for its admin UI's charts (/global/spend/logs,
// /global/spend/teams, /global/spend/tags, /global/spend/all_tag_names,
// /global/spend/end_users, /global/all_end_users), in LiteLLM's shapes, from
// the ledger's daily totals (kept for good, so days past the spend logs'
// retention still count).


/** As LiteLLM's views: the UTC days from 30 days ago to today. */
function lastThirtyDays(): { startDate: string; endDate: string } {
  const now = Date.now();
  return { startDate: isoDay(now - 30 * DAY_MS), endDate: isoDay(now) };
}

const spendOf = (rows: readonly SpendTotal[]) => rows.reduce((total, row) => total + row.spend, 0);
const requestsOf = (rows: readonly SpendTotal[]) => rows.reduce((total, row) => total + Number(row.requests), 0);

/**
 * GET /global/spend/logs?api_key=: spend per day over the last 30 days, of
 * every key or the `api_key` given (the key or its hash), each day as
 * `{ date, spend }` (with `api_key` when one was given). An internal user's
 * key reads its own user's keys only, per day and key, with `user`.
 */
export async function globalSpendLogs(ctx: RequestContext): Promise<void> {
  const userId = await spendReader(ctx);
  const keyHashes = await keyHashesOf(ctx, userId ?? "");
  const rows = keyHashes?.length === 0 ? [] : await dailyRows(ctx, { ...lastThirtyDays(), keyHashes: keyHashes ?? [] });
  const perKey = userId !== undefined || keyHashes !== undefined;
  const cells = groupBy(rows, (r) => (perKey ? `${r.day} ${r.keyHash}` : r.day));
  sendJson(
    ctx.res,
    200,
    [...cells.values()].map((cell) => {
      const { day, keyHash } = cell[0]!;
      const spend = spendOf(cell);
      if (!perKey) return { date: day, spend };
      return userId === undefined ? { date: day, spend, api_key: keyHash } : { date: day, spend, api_key: keyHash, user: userId };
    }),
  );
}

/**
 * GET /global/spend/teams: spend per day and team over the last 30 days,
 * teams named by alias (by id when they have none; "Unassigned" for keys
 * outside a team): `daily_spend` (one object a day, the day's spend per
 * team under its name), `teams` (every name) and `total_spend_per_team`
 * (the ten highest, as `{ team_id: name, total_spend }`).
 */
export async function globalSpendTeams(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const [rows, { teams }] = await Promise.all([dailyRows(ctx, lastThirtyDays()), ctx.options.peers.keys.listTeams({}, callOptions(ctx))]);
  const names = new Map(teams.map((t) => [t.teamId, t.teamAlias || t.teamId]));
  const nameOf = (row: SpendTotal) => (row.teamId === "" ? "Unassigned" : (names.get(row.teamId) ?? row.teamId));
  // Made with fromEntries, so a team named "__proto__" is a key of its day like any other: assigned, it was lost.
  const dailySpend = [...groupBy(rows, (r) => r.day)].map(([date, dayRows]) => ({
    date,
    ...Object.fromEntries([...groupBy(dayRows, nameOf)].map(([name, teamRows]) => [name, spendOf(teamRows)])),
  }));
  const totals = [...groupBy(rows, nameOf)].map(([name, teamRows]) => ({ team_id: name, total_spend: spendOf(teamRows) }));
  sendJson(ctx.res, 200, {
    daily_spend: dailySpend,
    teams: totals.map((t) => t.team_id),
    total_spend_per_team: totals.sort((a, b) => b.total_spend - a.total_spend).slice(0, 10),
  });
}

/**
 * GET /global/spend/tags?start_date=&end_date=&tags=: spend and requests per
 * request tag over those UTC days (both given, end included), highest spend
 * first; `tags` (comma-separated; absent or naming "all-tags": every tag)
 * narrows them.
 */
export async function globalSpendTags(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const [startDate, endDate] = [dayParam(ctx, "start_date"), dayParam(ctx, "end_date")];
  const tags = listParam(ctx, "tags");
  const entities = tags.includes("all-tags") ? [] : tags;
  const rows = await dailyRows(ctx, { startDate, endDate, entityType: "tag", entities });
  sendJson(ctx.res, 200, {
    spend_per_tag: [...groupBy(rows, (r) => r.entity)]
      .map(([name, tagRows]) => ({ name, spend: spendOf(tagRows), log_count: requestsOf(tagRows) }))
      .sort((a, b) => b.spend - a.spend),
  });
}

/** GET /global/spend/all_tag_names: every request tag the ledger has booked a request under. */
export async function allTagNames(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const { tags } = await ctx.options.peers.accounting.tagSpend({}, asMasterKey(ctx));
  sendJson(ctx.res, 200, { tag_names: tags.map((t) => t.tag) });
}

/** A body time (ISO), as its UTC day; `fallback` when absent. */
function dayOfTime(value: unknown, param: string, fallback: number): string {
  if (value === undefined || value === null) return isoDay(fallback);
  const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms) || ms < 0) throw bad(`${param} must be an ISO date or time`, param);
  return isoDay(ms);
}

/**
 * POST /global/spend/end_users { api_key?, startTime?, endTime? }: the 100
 * end users with the highest spend from startTime to endTime (by whole UTC
 * days, both included; the last 30 days by default), of every key or of
 * `api_key` (the key or its hash), as `{ end_user, total_count, total_spend }`.
 */
export async function globalSpendEndUsers(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const b = await body(ctx);
  const apiKey = optional(b, "api_key", isString, "a string") ?? "";
  const now = Date.now();
  const rows = await dailyRows(ctx, {
    startDate: dayOfTime(b["startTime"], "startTime", now - 30 * DAY_MS),
    endDate: dayOfTime(b["endTime"], "endTime", now),
    keyHashes: apiKey === "" ? [] : [/^[0-9a-f]{64}$/.test(apiKey) ? apiKey : hashKey(apiKey)],
    entityType: "end_user",
  });
  sendJson(
    ctx.res,
    200,
    [...groupBy(rows, (r) => r.entity)]
      .map(([endUser, userRows]) => ({ end_user: endUser, total_count: requestsOf(userRows), total_spend: spendOf(userRows) }))
      .sort((a, b) => b.total_spend - a.total_spend)
      .slice(0, 100),
  );
}

/** GET /global/all_end_users: every end user the ledger has booked a request for. */
export async function allEndUsers(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const { endUsers } = await ctx.options.peers.accounting.endUserSpend({}, asMasterKey(ctx));
  sendJson(ctx.res, 200, { end_users: endUsers.map((u) => u.endUser) });
}
