import type { MessageInitShape } from "@bufbuild/protobuf";
import { entryMap, entryObject, objectEntries } from "@gateway/common";
import type { SpendEntry } from "@gateway/proto/entries/v1/entries_pb.js";
import type { Team, TeamSettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "../context.js";
import { intParam, queryOf, sendJson } from "../http.js";
import {
  ALIAS_MAP,
  bad,
  body,
  callOptions,
  changesBudgetWindow,
  findMember,
  iso,
  isAliasMap,
  isBoolean,
  COUNT,
  isCount,
  isNumber,
  isObject,
  isString,
  isStrings,
  keysChanged,
  ledgerSpend,
  memberList,
  memberNamed,
  modelBudgets,
  modelBudgetsJson,
  modelCounts,
  optional,
  organizationField,
  required,
  sharedSettings,
  unlessMissing,
  type Json,
} from "./admin-request.js";
import { keyInfo, spendOf } from "./keys.js";
import { listedUserInfos } from "./user-info.js";

// LiteLLM's team management routes (/team/*).

const CLEARABLE = [
  "team_alias",
  "max_budget",
  "budget_duration",
  "rpm_limit",
  "tpm_limit",
  "max_parallel_requests",
  "model_rpm_limit",
  "model_tpm_limit",
  "model_max_budget",
  "team_member_budget",
  "team_member_budget_duration",
  "team_member_rpm_limit",
  "team_member_tpm_limit",
  "team_member_key_duration",
];

const isMembers = (v: unknown): v is unknown[] => Array.isArray(v);

/**
 * Team members as sent (`param`: members_with_roles, member), each one's
 * tpm_limit and rpm_limit held to the bound /team/member_update and the
 * team's own limits take; the keys service checks the rest of each member.
 * A member's limits come back in the x-ratelimit-* headers' uint32 fields,
 * whose wire (split) keeps only a bigger number's low 32 bits: an rpm_limit
 * of 2^32 + 5 was told to clients as 5.
 */
function checkedMembers(members: unknown[], param: string): unknown[] {
  for (const m of members) {
    if (!isObject(m)) continue;
    for (const field of ["tpm_limit", "rpm_limit"]) {
      if (m[field] !== undefined && m[field] !== null && !isCount(m[field])) throw bad(`${param}: a member's ${field} must be ${COUNT}`, param);
    }
  }
  return members;
}

/** LiteLLM's team fields from a request body. */
function settings(b: Json): MessageInitShape<typeof TeamSettingsSchema> {
  const s: MessageInitShape<typeof TeamSettingsSchema> = sharedSettings(b);
  const alias = optional(b, "team_alias", isString, "a string");
  if (alias !== undefined) s.teamAlias = alias;
  const members = optional(b, "members_with_roles", isMembers, "a list of members");
  if (members !== undefined) s.membersWithRolesJson = JSON.stringify(checkedMembers(members, "members_with_roles"));
  const blocked = optional(b, "blocked", isBoolean, "true or false");
  if (blocked !== undefined) s.blocked = blocked;
  const aliases = optional(b, "model_aliases", isAliasMap, ALIAS_MAP);
  if (aliases !== undefined) s.modelAliases = { aliases: objectEntries(aliases) };
  const organization = organizationField(b);
  if (organization !== undefined) s.organizationId = organization;
  const rpm = modelCounts(b, "model_rpm_limit");
  if (rpm !== undefined) s.modelRpmLimit = { counts: objectEntries(rpm) };
  const tpm = modelCounts(b, "model_tpm_limit");
  if (tpm !== undefined) s.modelTpmLimit = { counts: objectEntries(tpm) };
  const budgets = modelBudgets(b);
  if (budgets !== undefined) s.modelMaxBudget = budgets;
  const memberBudget = optional(b, "team_member_budget", isNumber, "a number of dollars");
  if (memberBudget !== undefined) s.teamMemberBudget = memberBudget;
  const memberBudgetDuration = optional(b, "team_member_budget_duration", isString, 'a duration such as "30d"');
  if (memberBudgetDuration !== undefined) s.teamMemberBudgetDuration = memberBudgetDuration;
  const memberRpm = optional(b, "team_member_rpm_limit", isCount, COUNT);
  if (memberRpm !== undefined) s.teamMemberRpmLimit = memberRpm;
  const memberTpm = optional(b, "team_member_tpm_limit", isCount, COUNT);
  if (memberTpm !== undefined) s.teamMemberTpmLimit = memberTpm;
  const memberKeyDuration = optional(b, "team_member_key_duration", isString, 'a duration such as "30d"');
  if (memberKeyDuration !== undefined) s.teamMemberKeyDuration = memberKeyDuration;
  // LiteLLM takes null as "remove this limit".
  s.clear = CLEARABLE.filter((field) => b[field] === null);
  return s;
}

const teamId = (value: unknown, param = "team_id") => required(value, param);

/** A team in LiteLLM's response shape. */
export function teamInfo(t: Team, spend: number) {
  return {
    team_id: t.teamId,
    team_alias: t.teamAlias || null,
    organization_id: t.organizationId || null,
    models: t.models,
    max_budget: t.maxBudget ?? null,
    budget_duration: t.budgetDuration || null,
    budget_reset_at: iso(t.budgetResetAtMs),
    rpm_limit: t.rpmLimit ?? null,
    tpm_limit: t.tpmLimit ?? null,
    max_parallel_requests: t.maxParallelRequests ?? null,
    model_rpm_limit: entryObject(t.modelRpmLimit),
    model_tpm_limit: entryObject(t.modelTpmLimit),
    model_max_budget: modelBudgetsJson(t.modelMaxBudget),
    team_member_budget: t.teamMemberBudget ?? null,
    team_member_budget_duration: t.teamMemberBudgetDuration || null,
    team_member_rpm_limit: t.teamMemberRpmLimit ?? null,
    team_member_tpm_limit: t.teamMemberTpmLimit ?? null,
    team_member_key_duration: t.teamMemberKeyDuration || null,
    metadata: JSON.parse(t.metadataJson || "{}") as unknown,
    members_with_roles: JSON.parse(t.membersWithRolesJson || "[]") as unknown,
    // LiteLLM keeps a team's model_aliases in a model table of its own.
    litellm_model_table: t.modelAliases.length > 0 ? { model_aliases: entryObject(t.modelAliases) } : null,
    blocked: t.blocked,
    spend,
    created_at: iso(t.createdAtMs),
    updated_at: iso(t.updatedAtMs),
  };
}

/**
 * What each team has spent: for a team with a budget, its budget period's,
 * as the keys service holds the budget to it; otherwise the ledger's, over
 * every request booked with the team's id.
 */
export async function spendOfTeams(ctx: RequestContext, teams: Team[]): Promise<number[]> {
  const ledger = await ledgerSpend(ctx, "teamIds", teams.filter((t) => t.spend === undefined).map((t) => t.teamId));
  return teams.map((t) => t.spend ?? ledger.get(t.teamId) ?? 0);
}

async function withSpend(ctx: RequestContext, team: Team) {
  const [spend] = await spendOfTeams(ctx, [team]);
  return teamInfo(team, spend ?? 0);
}

export async function newTeam(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = optional(b, "team_id", isString, "a string") ?? "";
  const { team } = await ctx.options.peers.keys.createTeam({ teamId: id, settings: settings(b) }, callOptions(ctx));
  keysChanged(ctx);
  // A new team has spent nothing, unless its id was in use in the ledger before.
  sendJson(ctx.res, 200, await withSpend(ctx, team!));
}

/** What a team shows as spent before a change that may move it to another budget window. */
async function spendBefore(ctx: RequestContext, b: Json, id: string): Promise<number | undefined> {
  if (!changesBudgetWindow(b)) return undefined;
  const found = await unlessMissing(ctx.options.peers.keys.getTeam({ teamId: id }, callOptions(ctx)));
  return found && (await spendOfTeams(ctx, [found.team!]))[0];
}

export async function updateTeam(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = teamId(b["team_id"]);
  const { team } = await ctx.options.peers.keys.updateTeam({ teamId: id, settings: settings(b), spendBefore: await spendBefore(ctx, b, id) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, { team_id: id, data: await withSpend(ctx, team!) });
}

/** A member's limits within the team, as members_with_roles holds them. */
interface MemberLimits {
  user_id?: string;
  max_budget_in_team?: number;
  tpm_limit?: number;
  rpm_limit?: number;
}

/**
 * LiteLLM's team_memberships: each member held to limits in the team (its
 * own, else the team's team_member_* defaults), and what it has spent
 * against its budget there.
 */
function memberships(t: Team, memberSpend: readonly SpendEntry[]) {
  const spend = entryMap(memberSpend);
  const members = JSON.parse(t.membersWithRolesJson || "[]") as MemberLimits[];
  return members.flatMap((m) => {
    const budget = {
      max_budget: m.max_budget_in_team ?? t.teamMemberBudget ?? null,
      budget_duration: t.teamMemberBudgetDuration || null,
      tpm_limit: m.tpm_limit ?? t.teamMemberTpmLimit ?? null,
      rpm_limit: m.rpm_limit ?? t.teamMemberRpmLimit ?? null,
    };
    if (m.user_id === undefined || (budget.max_budget === null && budget.tpm_limit === null && budget.rpm_limit === null)) return [];
    return [{ team_id: t.teamId, user_id: m.user_id, spend: spend.get(m.user_id) ?? 0, litellm_budget_table: budget }];
  });
}

/** The master key reads any team; a virtual key its own. */
export async function teamInfoRoute(ctx: RequestContext): Promise<void> {
  const id = teamId(queryOf(ctx.req).get("team_id"));
  const { team, keys, memberSpend } = await ctx.options.peers.keys.getTeam({ teamId: id }, callOptions(ctx));
  const [info, keySpend] = await Promise.all([withSpend(ctx, team!), spendOf(ctx, keys)]);
  sendJson(ctx.res, 200, {
    team_id: id,
    team_info: info,
    keys: keys.map((k, i) => keyInfo(k, keySpend[i] ?? 0)),
    team_memberships: memberships(team!, memberSpend),
  });
}

/** GET /team/list; LiteLLM's `organization_id` lists that organization's teams only. */
export async function listTeams(ctx: RequestContext): Promise<void> {
  const organizationId = queryOf(ctx.req).get("organization_id");
  const all = (await ctx.options.peers.keys.listTeams({}, callOptions(ctx))).teams;
  const teams = organizationId === null ? all : all.filter((t) => t.organizationId === organizationId);
  const spend = await spendOfTeams(ctx, teams);
  sendJson(ctx.res, 200, teams.map((t, i) => teamInfo(t, spend[i] ?? 0)));
}

// /v2/team/list's pages, as LiteLLM bounds them.
const MAX_TEAM_PAGE_SIZE = 100;
const MAX_TEAM_PAGE = 2 ** 32 - 1;

/** What /v2/team/list sorts by, each a team's field as teamInfo shows it. */
const TEAM_SORTS: Readonly<Record<string, (t: Team, spend: number) => string | number>> = {
  team_id: (t) => t.teamId,
  team_alias: (t) => t.teamAlias,
  created_at: (t) => Number(t.createdAtMs ?? 0),
  spend: (_t, spend) => spend,
};

function membersOf(t: Team): { user_id?: unknown }[] {
  return JSON.parse(t.membersWithRolesJson || "[]") as { user_id?: unknown }[];
}

/**
 * GET /v2/team/list: the teams /team/list shows the caller, in pages of
 * page_size (default 10, at most 100), as LiteLLM's admin UI and scripts read
 * them: filtered by team_id, organization_id, user_id (a member) and
 * team_alias (a part of it, any case), sorted by team_id, team_alias,
 * created_at or spend (sort_order asc or desc; unsorted, as /team/list).
 */
export async function listTeamsV2(ctx: RequestContext): Promise<void> {
  const q = queryOf(ctx.req);
  const page = intParam(ctx, "page", 1, MAX_TEAM_PAGE, 1);
  const pageSize = intParam(ctx, "page_size", 10, MAX_TEAM_PAGE_SIZE, 1);
  const sortBy = q.get("sort_by");
  // Own properties only: "__proto__" or "toString" is no column.
  const sort = sortBy !== null && Object.hasOwn(TEAM_SORTS, sortBy) ? TEAM_SORTS[sortBy] : undefined;
  if (sortBy !== null && !sort) throw bad(`sort_by must be one of ${Object.keys(TEAM_SORTS).join(", ")}`, "sort_by");
  const order = q.get("sort_order") ?? "asc";
  if (order !== "asc" && order !== "desc") throw bad("sort_order must be asc or desc", "sort_order");
  const [teamIdIs, organizationIs, userIs] = [q.get("team_id"), q.get("organization_id"), q.get("user_id")];
  const alias = q.get("team_alias")?.toLowerCase();
  const teams = (await ctx.options.peers.keys.listTeams({}, callOptions(ctx))).teams.filter(
    (t) =>
      (teamIdIs === null || t.teamId === teamIdIs) &&
      (organizationIs === null || t.organizationId === organizationIs) &&
      (alias === undefined || t.teamAlias.toLowerCase().includes(alias)) &&
      (userIs === null || membersOf(t).some((m) => m.user_id === userIs)),
  );
  // Spend is asked for the page's teams only, unless the order needs every team's.
  const allSpend = sortBy === "spend" ? await spendOfTeams(ctx, teams) : undefined;
  const rows = teams.map((team, i) => ({ team, spend: allSpend?.[i] ?? 0 }));
  if (sort) {
    const sign = order === "asc" ? 1 : -1;
    rows.sort((a, b) => {
      const [x, y] = [sort(a.team, a.spend), sort(b.team, b.spend)];
      return sign * (typeof x === "string" ? x.localeCompare(y as string) : x - (y as number));
    });
  }
  const shown = rows.slice((page - 1) * pageSize, page * pageSize);
  const spend = allSpend ? shown.map((r) => r.spend) : await spendOfTeams(ctx, shown.map((r) => r.team));
  sendJson(ctx.res, 200, {
    teams: shown.map((r, i) => teamInfo(r.team, spend[i] ?? 0)),
    total: teams.length,
    page,
    page_size: pageSize,
    total_pages: Math.ceil(teams.length / pageSize),
  });
}

/** GET /team/available: the teams the caller's user may join by itself (litellm_settings.default_internal_user_params.available_teams) and is not in. */
export async function listAvailableTeams(ctx: RequestContext): Promise<void> {
  const { teams } = await ctx.options.peers.keys.listAvailableTeams({}, callOptions(ctx));
  const spend = await spendOfTeams(ctx, teams);
  sendJson(ctx.res, 200, teams.map((t, i) => teamInfo(t, spend[i] ?? 0)));
}

export async function deleteTeams(ctx: RequestContext): Promise<void> {
  const ids = optional(await body(ctx), "team_ids", (v): v is unknown[] => Array.isArray(v), "a list of team ids") ?? [];
  if (ids.length === 0) throw bad("team_ids is required", "team_ids");
  const deleted = await ctx.options.peers.keys.deleteTeams({ teamIds: ids.map((id) => teamId(id, "team_ids")) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, { deleted_teams: deleted.teams.map((t) => t.teamId), deleted_keys: deleted.deletedKeyHashes });
}

async function setBlocked(ctx: RequestContext, blocked: boolean): Promise<void> {
  const id = teamId((await body(ctx))["team_id"]);
  const { keys } = ctx.options.peers;
  const { team } = blocked ? await keys.blockTeam({ teamId: id }, callOptions(ctx)) : await keys.unblockTeam({ teamId: id }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, await withSpend(ctx, team!));
}

export const blockTeam = (ctx: RequestContext) => setBlocked(ctx, true);
export const unblockTeam = (ctx: RequestContext) => setBlocked(ctx, false);

/** LiteLLM's member is one object or a list of them. */
export async function addTeamMember(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = teamId(b["team_id"]);
  // LiteLLM's max_budget_in_team is each added member's budget in the team.
  const budget = optional(b, "max_budget_in_team", isNumber, "a number of dollars");
  const members = checkedMembers(memberList(b), "member").map((m) => (budget !== undefined && isObject(m) ? { ...m, max_budget_in_team: budget } : m));
  const { team, updatedUsers, memberSpend } = await ctx.options.peers.keys.addTeamMembers({ teamId: id, membersJson: JSON.stringify(members) }, callOptions(ctx));
  keysChanged(ctx);
  // LiteLLM answers the team with the members' users and their memberships (budget and limits in the team).
  const added = new Set(updatedUsers.map((u) => u.user!.userId));
  sendJson(ctx.res, 200, {
    ...(await withSpend(ctx, team!)),
    updated_users: await listedUserInfos(ctx, updatedUsers),
    updated_team_memberships: memberships(team!, memberSpend).filter((m) => added.has(m.user_id!)),
  });
}

const MEMBER_CLEARABLE = ["max_budget_in_team", "tpm_limit", "rpm_limit"];

/** LiteLLM's /team/member_update: a member's role, or its budget and rate limits in the team (null takes one away). */
export async function updateTeamMember(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = teamId(b["team_id"]);
  const who = memberNamed(b);
  const change = {
    teamId: id,
    ...who,
    role: optional(b, "role", isString, '"admin" or "user"'),
    maxBudgetInTeam: optional(b, "max_budget_in_team", isNumber, "a number of dollars"),
    tpmLimit: optional(b, "tpm_limit", isCount, COUNT),
    rpmLimit: optional(b, "rpm_limit", isCount, COUNT),
    clear: MEMBER_CLEARABLE.filter((field) => b[field] === null),
  };
  const { team } = await ctx.options.peers.keys.updateTeamMember(change, callOptions(ctx));
  keysChanged(ctx);
  const members = JSON.parse(team!.membersWithRolesJson || "[]") as (MemberLimits & { user_email?: string })[];
  const m = findMember(members, who);
  sendJson(ctx.res, 200, {
    team_id: id,
    user_id: m?.user_id ?? null,
    user_email: m?.user_email ?? null,
    max_budget_in_team: m?.max_budget_in_team ?? null,
    tpm_limit: m?.tpm_limit ?? null,
    rpm_limit: m?.rpm_limit ?? null,
  });
}

export async function deleteTeamMember(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = teamId(b["team_id"]);
  const { team } = await ctx.options.peers.keys.removeTeamMember({ teamId: id, ...memberNamed(b) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, await withSpend(ctx, team!));
}

/** LiteLLM's /team/model/add and /team/model/delete: `models` added to the team's list or taken out; answers the team. */
async function changeModels(ctx: RequestContext, change: "add" | "remove"): Promise<void> {
  const b = await body(ctx);
  const id = teamId(b["team_id"]);
  const models = optional(b, "models", isStrings, "a list of model names") ?? [];
  if (models.length === 0) throw bad("models is required", "models");
  const { team } = await ctx.options.peers.keys.changeTeamModels({ teamId: id, [change]: models }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, await withSpend(ctx, team!));
}

export const addTeamModels = (ctx: RequestContext) => changeModels(ctx, "add");
export const deleteTeamModels = (ctx: RequestContext) => changeModels(ctx, "remove");
