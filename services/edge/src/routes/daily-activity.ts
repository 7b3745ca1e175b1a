import { Code } from "@connectrpc/connect";
import { gatewayError, hashKey, readsAll } from "@gateway/common";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { DailyActivityRequestSchema, SpendTotal } from "@gateway/proto/accounting/v1/accounting_pb.js";
import type { RequestContext } from "../context.js";
import { asMasterKey, callerOf, intParam, queryOf, sendJson, spendReader } from "../http.js";
import { callOptions } from "./admin-request.js";

// LiteLLM's daily activity (/user/daily/activity, /team/daily/activity,
// /organization/daily/activity, /tag/daily/activity, /customer/daily/activity):
// spend, tokens and requests per UTC day, broken down by model, model group, provider, key and
// (but for users) team, organization, tag or end user, from the ledger's daily totals. Pages are of days; each route's /aggregated form
// answers every day in one page.

const MAX_PAGE_SIZE = 1000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

interface Metrics {
  spend: number;
  prompt_tokens: number;
  completion_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  total_tokens: number;
  successful_requests: number;
  failed_requests: number;
  api_requests: number;
}

interface Entry {
  metrics: Metrics;
  metadata: Record<string, unknown>;
}

interface Day {
  date: string;
  metrics: Metrics;
  breakdown: { models: Record<string, Entry>; model_groups: Record<string, Entry>; providers: Record<string, Entry>; api_keys: Record<string, Entry>; entities: Record<string, Entry> };
}

const noMetrics = (): Metrics => ({
  spend: 0,
  prompt_tokens: 0,
  completion_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
  total_tokens: 0,
  successful_requests: 0,
  failed_requests: 0,
  api_requests: 0,
});

function add(m: Metrics, row: SpendTotal): void {
  const requests = Number(row.requests);
  const failed = Number(row.failedRequests);
  m.spend += row.spend;
  m.prompt_tokens += Number(row.promptTokens);
  m.completion_tokens += Number(row.completionTokens);
  m.total_tokens += Number(row.totalTokens);
  m.cache_read_input_tokens += Number(row.cacheReadInputTokens);
  m.cache_creation_input_tokens += Number(row.cacheCreationInputTokens);
  m.api_requests += requests;
  m.failed_requests += failed;
  m.successful_requests += requests - failed;
}

// Names are model groups, key hashes and team ids: none may reach an object's prototype.
const byName = (): Record<string, Entry> => Object.create(null) as Record<string, Entry>;

function addTo(entries: Record<string, Entry>, name: string, row: SpendTotal, metadata: Record<string, unknown> = {}): void {
  const entry = (entries[name] ??= { metrics: noMetrics(), metadata });
  add(entry.metrics, row);
}

export function dayParam(ctx: RequestContext, name: string): string {
  const value = queryOf(ctx.req).get(name) ?? "";
  if (!DAY.test(value)) throw gatewayError(`${name} is required, as YYYY-MM-DD`, Code.InvalidArgument, { type: "invalid_request_error", param: name });
  return value;
}

export const listParam = (ctx: RequestContext, name: string): string[] => (queryOf(ctx.req).get(name) ?? "").split(",").filter((s) => s !== "");

/** LiteLLM's api_key filter: the key itself or its hash. */
function apiKeyParam(ctx: RequestContext): string {
  const value = queryOf(ctx.req).get("api_key") ?? "";
  return value === "" || /^[0-9a-f]{64}$/.test(value) ? value : hashKey(value);
}

function forbidden(message: string, param: string): Error {
  return gatewayError(message, Code.PermissionDenied, { type: "permission_error", param });
}

/** A breakdown's entity: the team, tag or end user a row is counted under. */
type EntityOf = (row: SpendTotal) => string;

/** The rows, as LiteLLM's SpendAnalyticsPaginatedResponse: days in order, a page of them at a time, entities by `entityOf`. */
function answer(ctx: RequestContext, rows: readonly SpendTotal[], entityOf?: EntityOf): void {
  const whole = ctx.path.endsWith("/aggregated");
  const pageSize = whole ? Number.MAX_SAFE_INTEGER : intParam(ctx, "page_size", 50, MAX_PAGE_SIZE, 1);
  const page = whole ? 1 : intParam(ctx, "page", 1, Number.MAX_SAFE_INTEGER, 1);
  const days = new Map<string, Day>();
  const totals = noMetrics();
  for (const row of rows) {
    let day = days.get(row.day);
    if (!day) {
      day = { date: row.day, metrics: noMetrics(), breakdown: { models: byName(), model_groups: byName(), providers: byName(), api_keys: byName(), entities: byName() } };
      days.set(row.day, day);
    }
    add(day.metrics, row);
    add(totals, row);
    // Totals booked before the daily totals kept the provider's model have none: their model group stands for it.
    addTo(day.breakdown.models, row.model || row.modelGroup, row);
    addTo(day.breakdown.model_groups, row.modelGroup, row);
    if (row.provider !== "") addTo(day.breakdown.providers, row.provider, row);
    addTo(day.breakdown.api_keys, row.keyHash, row, { key_alias: row.keyAlias || null, team_id: row.teamId || null });
    if (entityOf) addTo(day.breakdown.entities, entityOf(row), row);
  }
  const all = [...days.values()];
  const totalPages = Math.max(1, Math.ceil(all.length / pageSize));
  sendJson(ctx.res, 200, {
    results: all.slice((page - 1) * pageSize, page * pageSize),
    metadata: {
      total_spend: totals.spend,
      total_prompt_tokens: totals.prompt_tokens,
      total_completion_tokens: totals.completion_tokens,
      total_tokens: totals.total_tokens,
      total_api_requests: totals.api_requests,
      total_successful_requests: totals.successful_requests,
      total_failed_requests: totals.failed_requests,
      total_cache_read_input_tokens: totals.cache_read_input_tokens,
      total_cache_creation_input_tokens: totals.cache_creation_input_tokens,
      page,
      total_pages: totalPages,
      has_more: page < totalPages,
    },
  });
}

/** The daily totals' rows the request asks for, read with the edge's master key (the route has checked the caller). */
export async function dailyRows(ctx: RequestContext, request: MessageInitShape<typeof DailyActivityRequestSchema>): Promise<SpendTotal[]> {
  return (await ctx.options.peers.accounting.dailyActivity(request, asMasterKey(ctx))).rows;
}

/** The rows between the query's start_date and end_date (and of its `model`), narrowed by `filter`. */
function activity(ctx: RequestContext, filter: { keyHashes?: string[]; teamIds?: string[]; excludeTeamIds?: string[]; entityType?: string; entities?: string[] }): Promise<SpendTotal[]> {
  return dailyRows(ctx, { startDate: dayParam(ctx, "start_date"), endDate: dayParam(ctx, "end_date"), modelGroup: queryOf(ctx.req).get("model") ?? "", ...filter });
}

/**
 * GET /user/daily/activity: a user's keys' activity (`user_id`), or, by a
 * key that reads everything and without `user_id`, every key's; an internal
 * user's key reads its own user's only.
 */
export async function userDailyActivity(ctx: RequestContext): Promise<void> {
  await keysActivity(ctx, (await spendReader(ctx)) ?? queryOf(ctx.req).get("user_id") ?? "");
}

/** The activity of `userId`'s keys (none: every key), narrowed by `filter`, with entities by `entityOf`. */
async function keysActivity(ctx: RequestContext, userId: string, filter: { entityType?: string; entities?: string[] } = {}, entityOf?: EntityOf): Promise<void> {
  const keyHashes = await keyHashesOf(ctx, userId);
  if (keyHashes?.length === 0) return answer(ctx, [], entityOf);
  answer(ctx, await activity(ctx, { ...filter, keyHashes: keyHashes ?? [] }), entityOf);
}

/**
 * The keys whose rows are read: every hash each of the user's keys had (a
 * user's activity), narrowed to the `api_key` asked for; undefined for every
 * key (no user, no `api_key`).
 */
export async function keyHashesOf(ctx: RequestContext, userId: string): Promise<string[] | undefined> {
  const apiKey = apiKeyParam(ctx);
  if (userId === "") return apiKey === "" ? undefined : [apiKey];
  const { keys } = await ctx.options.peers.keys.getUser({ userId }, callOptions(ctx));
  const own = keys.flatMap((k) => [k.keyHash, ...k.previousKeyHashes]);
  return apiKey === "" ? own : own.filter((hash) => hash === apiKey);
}

/**
 * The daily totals' rows, for the days asked for, of the keys the caller may
 * read: every key's (or the `api_key` asked for) for a key that reads
 * everything, its own user's keys' for an internal user's.
 */
export async function readableActivity(ctx: RequestContext): Promise<SpendTotal[]> {
  const keyHashes = await keyHashesOf(ctx, (await spendReader(ctx)) ?? "");
  return keyHashes?.length === 0 ? [] : activity(ctx, { keyHashes: keyHashes ?? [] });
}

const byEntity: EntityOf = (row) => row.entity;
const byTeam: EntityOf = (row) => row.teamId;

/**
 * The activity of the tags or end users (`entityType`) the comma-separated
 * `param` names (none: every one), each request under each of its tags or
 * its end user; a key that does not read everything reads its own user's
 * keys' only.
 */
async function entityActivity(ctx: RequestContext, entityType: "tag" | "end_user", param: string): Promise<void> {
  await keysActivity(ctx, (await spendReader(ctx)) ?? "", { entityType, entities: listParam(ctx, param) }, byEntity);
}

/** GET /tag/daily/activity: per request tag (`tags`). */
export const tagDailyActivity = (ctx: RequestContext) => entityActivity(ctx, "tag", "tags");

/** GET /customer/daily/activity: per end user (`end_user_ids`). */
export const customerDailyActivity = (ctx: RequestContext) => entityActivity(ctx, "end_user", "end_user_ids");

/**
 * GET /team/daily/activity: the activity of the teams `team_ids` names
 * (comma-separated; none: every team, for a key that reads everything, or
 * else the teams the caller's user is a member of), less
 * `exclude_team_ids`.
 */
export async function teamDailyActivity(ctx: RequestContext): Promise<void> {
  const caller = await callerOf(ctx);
  let teamIds = listParam(ctx, "team_ids");
  if (!readsAll(caller.userRole)) {
    const { teams } = await ctx.options.peers.keys.listTeams({}, callOptions(ctx));
    const mine = teams.map((t) => t.teamId);
    const outside = teamIds.filter((id) => !mine.includes(id));
    if (outside.length > 0) throw forbidden(`You may not read the activity of team ${outside.join(", ")}`, "team_ids");
    if (teamIds.length === 0) teamIds = mine;
    if (teamIds.length === 0) return answer(ctx, [], byTeam);
  }
  // Every team: the rows of keys outside any team are not a team's.
  const excludeTeamIds = [...listParam(ctx, "exclude_team_ids"), ...(teamIds.length === 0 ? [""] : [])];
  answer(ctx, await activity(ctx, { teamIds, excludeTeamIds, keyHashes: (await keyHashesOf(ctx, "")) ?? [] }), byTeam);
}

/**
 * GET /organization/daily/activity: the activity of the organizations
 * `organization_ids` names (comma-separated; none: every one the caller may
 * read, which for a key that does not read everything are those its user is
 * a member of): their teams' rows, and those of the keys that name them
 * outside their teams, each under its organization.
 */
export async function organizationDailyActivity(ctx: RequestContext): Promise<void> {
  const { organizations, teams } = await ctx.options.peers.keys.listOrganizations({}, callOptions(ctx));
  const asked = listParam(ctx, "organization_ids");
  const readable = new Set(organizations.map((o) => o.organizationId));
  const outside = asked.filter((id) => !readable.has(id));
  if (outside.length > 0) throw forbidden(`You may not read the activity of organization ${outside.join(", ")}`, "organization_ids");
  const chosen = organizations.filter((o) => (asked.length > 0 ? asked.includes(o.organizationId) : true));
  const byTeam = new Map(teams.filter((t) => chosen.some((o) => o.organizationId === t.organizationId)).map((t) => [t.teamId, t.organizationId]));
  const byKey = new Map(chosen.flatMap((o) => o.keyHashes.map((hash) => [hash, o.organizationId] as const)));
  const byOrganization: EntityOf = (row) => byTeam.get(row.teamId) ?? byKey.get(row.keyHash) ?? "";
  const only = apiKeyParam(ctx);
  const keyHashes = [...byKey.keys()].filter((hash) => only === "" || hash === only);
  const [teamRows, keyRows] = await Promise.all([
    byTeam.size === 0 ? [] : activity(ctx, { teamIds: [...byTeam.keys()], keyHashes: only === "" ? [] : [only] }),
    keyHashes.length === 0 ? [] : activity(ctx, { keyHashes }),
  ]);
  // A key's rows booked while it was in one of the teams are counted with the team's already.
  answer(ctx, [...teamRows, ...keyRows.filter((row) => !byTeam.has(row.teamId))].sort((a, b) => a.day.localeCompare(b.day)), byOrganization);
}
