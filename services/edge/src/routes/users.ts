import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { readsAll, type UserRole } from "@gateway/common";
import type { UserSettingsSchema, VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "../context.js";
import { callerOf, intParam, queryOf, sendJson } from "../http.js";
import {
  bad,
  body,
  callOptions,
  changesBudgetWindow,
  eachUpdated,
  iso,
  isString,
  isStrings,
  keysChanged,
  optional,
  sharedSettings,
  unlessMissing,
  type Json,
} from "./admin-request.js";
import { keyInfo, MAX_KEY_PAGE_SIZE, spendOf } from "./keys.js";
import { membership } from "./organizations.js";
import { spendOfTeams, teamInfo } from "./teams.js";
import { listedUserInfos, userInfo, userSpend } from "./user-info.js";

// LiteLLM's user management routes (/user/*).

// /user/list's pages, as LiteLLM's: 25 by default, at most 100.
const MAX_PAGE_SIZE = 100;
const MAX_PAGE = 2 ** 32 - 1;
const CLEARABLE = ["user_alias", "user_email", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "max_parallel_requests"];

/** LiteLLM's user fields from a request body. */
function settings(b: Json): MessageInitShape<typeof UserSettingsSchema> {
  const s: MessageInitShape<typeof UserSettingsSchema> = sharedSettings(b);
  const alias = optional(b, "user_alias", isString, "a string");
  if (alias !== undefined) s.userAlias = alias;
  const email = optional(b, "user_email", isString, "a string");
  if (email !== undefined) s.userEmail = email;
  const role = optional(b, "user_role", isString, "a string");
  if (role !== undefined) s.userRole = role;
  // LiteLLM takes null as "remove this limit".
  s.clear = CLEARABLE.filter((field) => b[field] === null);
  return s;
}

/**
 * LiteLLM's `teams`: team ids, or objects naming one each ({"team_id",
 * "user_role": "admin" | "user"}), and those the user joins as an admin.
 */
function teamsOf(b: Json): { teams: string[]; adminOfTeams: string[] } {
  const teams = b["teams"];
  if (teams === undefined || teams === null) return { teams: [], adminOfTeams: [] };
  const entry = (t: unknown) => (typeof t === "string" ? { team_id: t } : typeof t === "object" && t !== null ? (t as { team_id?: unknown; user_role?: unknown }) : {});
  const valid = (t: unknown) => {
    const { team_id, user_role } = entry(t);
    return typeof team_id === "string" && (user_role === undefined || user_role === null || user_role === "admin" || user_role === "user");
  };
  if (!Array.isArray(teams) || !teams.every(valid)) throw bad('teams must be a list of team ids (or of {"team_id": ..., "user_role": "admin" or "user"})', "teams");
  return {
    teams: teams.map((t) => entry(t).team_id as string),
    adminOfTeams: teams.filter((t) => entry(t).user_role === "admin").map((t) => entry(t).team_id as string),
  };
}

export async function newUser(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const userId = optional(b, "user_id", isString, "a string") ?? "";
  const teamId = optional(b, "team_id", isString, "a string");
  const listed = teamsOf(b);
  const teams = [...listed.teams, ...(teamId ? [teamId] : [])];
  // LiteLLM makes the user's first key unless told not to. It gets the
  // user's models and metadata and these; the user's limits hold it as the user.
  const createKey = b["auto_create_key"] !== false;
  const { metadataJson } = sharedSettings(b);
  const keySettings = {
    ...(typeof b["key_alias"] === "string" && { keyAlias: b["key_alias"] }),
    ...(typeof b["duration"] === "string" && { duration: b["duration"] }),
    ...(teamId !== undefined && { teamId }),
    ...(metadataJson !== undefined && { metadataJson }),
  };
  const made = await ctx.options.peers.keys.createUser({ userId, settings: settings(b), teams, adminOfTeams: listed.adminOfTeams, createKey, keySettings }, callOptions(ctx));
  keysChanged(ctx);
  const k = made.keyInfo;
  sendJson(ctx.res, 200, {
    ...userInfo(made.user!, 0),
    teams,
    key: made.key,
    key_name: k?.keyName ?? null,
    token_id: k?.keyHash ?? null,
    key_alias: k?.keyAlias || null,
    expires: iso(k?.expiresAtMs),
    team_id: teamId ?? null,
  });
}

/** A user with its keys and teams, and what it shows as spent. */
async function shownUser(ctx: RequestContext, userId: string) {
  const found = await ctx.options.peers.keys.getUser({ userId }, callOptions(ctx));
  const [spend] = await userSpend(ctx, [{ user: found.user!, keyHashes: found.keys.flatMap((k) => [k.keyHash, ...k.previousKeyHashes]) }]);
  return { ...found, spend: spend ?? 0 };
}

/** What a user shows as spent before a change that may move it to another budget window. */
async function spendBefore(ctx: RequestContext, b: Json, userId: string): Promise<number | undefined> {
  if (!changesBudgetWindow(b) || userId === "") return undefined;
  return (await unlessMissing(shownUser(ctx, userId)))?.spend;
}

/** One user's /user/update: the user as it is after, with what it shows as spent. */
async function updated(ctx: RequestContext, b: Json) {
  const userId = optional(b, "user_id", isString, "a string") ?? "";
  const userEmail = optional(b, "user_email", isString, "a string") ?? "";
  if (userId === "" && userEmail === "") throw bad("user_id or user_email is required", "user_id");
  // Named by email, the email is how the user is found, not a change.
  const s = settings(userId === "" ? { ...b, user_email: undefined } : b);
  const { keys } = ctx.options.peers;
  const update = async () => keys.updateUser({ userId, userEmail, settings: s, spendBefore: await spendBefore(ctx, b, userId) }, callOptions(ctx));
  const { user } = await update().catch((err: unknown) => {
    // As LiteLLM's: an update naming a user no user is makes that user (with
    // no key), with that user_id, or with a new one and that user_email.
    // Made by another call at the same moment: this one updates it.
    if (ConnectError.from(err).code !== Code.NotFound) throw err;
    return keys.createUser({ userId, settings: settings(b), teams: [], createKey: false }, callOptions(ctx)).catch((made: unknown) => {
      if (ConnectError.from(made).code !== Code.AlreadyExists) throw made;
      return update().catch(() => Promise.reject(made));
    });
  });
  keysChanged(ctx);
  const shown = await shownUser(ctx, user!.userId);
  return userInfo(shown.user!, shown.spend);
}

export async function updateUser(ctx: RequestContext): Promise<void> {
  const data = await updated(ctx, await body(ctx));
  sendJson(ctx.res, 200, { user_id: data.user_id, data });
}

/**
 * POST /user/bulk_update, LiteLLM's: `{"users": [{user_id or user_email,
 * ...}]}`, each updated as /user/update does, one after another; a user that
 * cannot be is listed with why, and the others still are.
 */
export async function bulkUpdateUsers(ctx: RequestContext): Promise<void> {
  const outcomes = await eachUpdated(ctx, "users", '{"user_id" or "user_email", ...fields to update}', (entry) => updated(ctx, entry));
  const results = outcomes.map((o) => {
    const named = { user_id: o.entry["user_id"] ?? null, user_email: o.entry["user_email"] ?? null };
    return "updated" in o ? { ...named, user_id: o.updated.user_id, success: true, updated_user: o.updated } : { ...named, success: false, error: o.failure };
  });
  const successful = results.filter((r) => r.success).length;
  sendJson(ctx.res, 200, { results, total_requested: results.length, successful_updates: successful, failed_updates: results.length - successful });
}

/** Without ?user_id=, the caller's own user (a virtual key's); whoever reads everything reads any. */
export async function userInfoRoute(ctx: RequestContext): Promise<void> {
  const userId = queryOf(ctx.req).get("user_id") ?? "";
  if (userId === "" && readsAll((await callerOf(ctx)).userRole)) return everything(ctx);
  const { user, keys, teams, organizationMemberships, spend } = await shownUser(ctx, userId);
  const [keySpend, teamSpend] = await Promise.all([spendOf(ctx, keys), spendOfTeams(ctx, teams)]);
  const memberships = organizationMemberships.map((m) =>
    membership(
      m.organizationId,
      { user_id: user!.userId, user_role: m.userRole, ...(m.maxBudgetInOrganization !== undefined && { max_budget_in_organization: m.maxBudgetInOrganization }) },
      new Map([[user!.userId, m.spend ?? 0]]),
    ),
  );
  sendJson(ctx.res, 200, {
    user_id: user!.userId,
    user_info: { ...userInfo(user!, spend), teams: teams.map((t) => t.teamId), organization_memberships: memberships },
    keys: keys.map((k, i) => keyInfo(k, keySpend[i] ?? 0)),
    teams: teams.map((t, i) => teamInfo(t, teamSpend[i] ?? 0)),
  });
}

/** /user/info without a user_id, by whoever reads everything: every key and every team, as LiteLLM answers its admins. */
async function everything(ctx: RequestContext): Promise<void> {
  const { keys: peer } = ctx.options.peers;
  const keys: VirtualKey[] = [];
  for (let page = 1; ; page++) {
    const listed = await peer.listKeys({ page, size: MAX_KEY_PAGE_SIZE }, callOptions(ctx));
    keys.push(...listed.keys);
    if (listed.keys.length < MAX_KEY_PAGE_SIZE || keys.length >= listed.totalCount) break;
  }
  const { teams } = await peer.listTeams({}, callOptions(ctx));
  const [keySpend, teamSpend] = await Promise.all([spendOf(ctx, keys), spendOfTeams(ctx, teams)]);
  sendJson(ctx.res, 200, {
    user_id: null,
    user_info: null,
    keys: keys.map((k, i) => keyInfo(k, keySpend[i] ?? 0)),
    teams: teams.map((t, i) => teamInfo(t, teamSpend[i] ?? 0)),
  });
}

/** The roles a user may be given, each with what it may do and a short label, as LiteLLM's admin UI asks for them. */
const AVAILABLE_ROLES: Record<UserRole, { description: string; ui_label: string }> = {
  proxy_admin: { description: "Changes and reads everything, as the master key does", ui_label: "Admin" },
  proxy_admin_viewer: { description: "Reads everything and changes nothing", ui_label: "Admin viewer" },
  internal_user: { description: "Makes and manages its own keys, and reads its own teams and spend", ui_label: "Internal user" },
  internal_user_viewer: { description: "Reads its own keys, teams and spend, and changes nothing", ui_label: "Internal user viewer" },
};

/** GET /user/available_roles, for any valid key. */
export async function availableRoles(ctx: RequestContext): Promise<void> {
  await callerOf(ctx);
  sendJson(ctx.res, 200, AVAILABLE_ROLES);
}

export async function listUsers(ctx: RequestContext): Promise<void> {
  const q = queryOf(ctx.req);
  const page = intParam(ctx, "page", 1, MAX_PAGE, 1);
  const pageSize = intParam(ctx, "page_size", 25, MAX_PAGE_SIZE, 1);
  const userIds = (q.get("user_ids") ?? "").split(",").filter((id) => id !== "");
  const { users, total } = await ctx.options.peers.keys.listUsers(
    { page, pageSize, userIds, userRole: q.get("role") ?? "", userEmail: q.get("user_email") ?? "", teamId: q.get("team") ?? "" },
    callOptions(ctx),
  );
  sendJson(ctx.res, 200, {
    users: await listedUserInfos(ctx, users),
    total,
    page,
    page_size: pageSize,
    total_pages: Math.ceil(total / pageSize),
  });
}

export async function deleteUsers(ctx: RequestContext): Promise<void> {
  const userIds = optional(await body(ctx), "user_ids", isStrings, "a list of user ids") ?? [];
  if (userIds.length === 0) throw bad("user_ids is required", "user_ids");
  const deleted = await ctx.options.peers.keys.deleteUsers({ userIds }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, { deleted_users: deleted.deletedUserIds, deleted_keys: deleted.deletedKeyHashes });
}
