import { Code } from "@connectrpc/connect";
import { addDuration, entryObject, gatewayError, isRouteSpec, parseDuration, ROUTE_GROUP_NAMES, USER_ROLES } from "@gateway/common";
import type { BudgetSettings, CustomerSettings, KeySettings, ModelAliases, ModelBudgets, OrganizationSettings, TagSettings, TeamSettings, UserSettings } from "@gateway/proto/keys/v1/keys_pb.js";
import type { BudgetPatch } from "../budget-store.js";
import type { CustomerPatch } from "../customer-store.js";
import type { ModelBudgetColumn } from "../db/schema.js";
import type { KeyPatch } from "../key-store.js";
import type { OrganizationPatch } from "../organization-store.js";
import type { TagPatch } from "../tag-store.js";
import type { TeamPatch } from "../team-store.js";
import type { UserPatch } from "../user-store.js";
import { MEMBER_LIMITS, type TeamMember } from "../team-record.js";

function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

/** The settings keys and teams share: models, budget, rate limits, metadata. */
type SharedSettings = Pick<KeySettings, "models" | "maxBudget" | "budgetDuration" | "rpmLimit" | "tpmLimit" | "maxParallelRequests" | "metadataJson">;
type SharedPatch = Pick<KeyPatch & TeamPatch & UserPatch & OrganizationPatch, "models" | "maxBudget" | "budgetDuration" | "rpmLimit" | "tpmLimit" | "maxParallelRequests" | "metadata">;

const SHARED_CLEARABLE: Record<string, (patch: SharedPatch) => void> = {
  max_budget: (p) => (p.maxBudget = null),
  budget_duration: (p) => (p.budgetDuration = ""),
  rpm_limit: (p) => (p.rpmLimit = null),
  tpm_limit: (p) => (p.tpmLimit = null),
  max_parallel_requests: (p) => (p.maxParallelRequests = null),
};

/** `text` parsed as a JSON value that `is` accepts, or a 400 naming `param`. */
export function jsonSetting<T>(text: string, is: (v: unknown) => v is T, param: string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(`${param} must be ${what}`, param);
  }
  if (!is(value)) throw invalid(`${param} must be ${what}`, param);
  return value;
}

const isObject = (v: unknown): v is object => v !== null && typeof v === "object" && !Array.isArray(v);

function sharedPatch(s: SharedSettings, patch: SharedPatch): void {
  if (s.models !== undefined) patch.models = s.models.models;
  if (s.maxBudget !== undefined) {
    if (!(s.maxBudget >= 0)) throw invalid("max_budget must be a number of dollars, 0 or more", "max_budget");
    patch.maxBudget = s.maxBudget;
  }
  if (s.budgetDuration !== undefined) {
    if (s.budgetDuration !== "") parseDuration(s.budgetDuration, "budget_duration");
    patch.budgetDuration = s.budgetDuration;
  }
  if (s.rpmLimit !== undefined) patch.rpmLimit = s.rpmLimit;
  if (s.tpmLimit !== undefined) patch.tpmLimit = s.tpmLimit;
  if (s.maxParallelRequests !== undefined) patch.maxParallelRequests = s.maxParallelRequests;
  if (s.metadataJson !== undefined) patch.metadata = jsonSetting(s.metadataJson, isObject, "metadata", "a JSON object");
}

/** A key's or team's aliases are few short names; past these bounds a map is refused. */
const MAX_ALIASES = 100;
const MAX_ALIAS_CHARS = 256;

/** Alias → model group, each a non-empty name, validated. */
function aliasesPatch(m: ModelAliases, param: string): Record<string, string> {
  const entries = m.aliases;
  if (entries.length > MAX_ALIASES) throw invalid(`${param} may hold at most ${MAX_ALIASES} aliases`, param);
  for (const { key: name, value: group } of entries) {
    if (name === "" || group === "" || name.length > MAX_ALIAS_CHARS || group.length > MAX_ALIAS_CHARS) {
      throw invalid(`${param} must map model names to model groups, each 1 to ${MAX_ALIAS_CHARS} characters`, param);
    }
  }
  return entryObject(entries);
}

/** Model group → a count or a budget: as many entries as aliases, each named like one. */
function perModel<E extends { key: string }, C>(entries: readonly E[], param: string, check: (entry: E) => C): Record<string, C> {
  if (entries.length > MAX_ALIASES) throw invalid(`${param} may name at most ${MAX_ALIASES} model groups`, param);
  for (const { key: model } of entries) {
    if (model === "" || model.length > MAX_ALIAS_CHARS) throw invalid(`${param} must name model groups of 1 to ${MAX_ALIAS_CHARS} characters`, param);
  }
  return entryObject(entries.map((entry) => ({ key: entry.key, value: check(entry) })));
}

function modelBudgetsPatch(m: ModelBudgets): Record<string, ModelBudgetColumn> {
  return perModel(m.budgets, "model_max_budget", ({ value: b }) => {
    if (!b) throw invalid("model_max_budget must give each model group a budget", "model_max_budget");
    if (!(b.budgetLimit >= 0) || !Number.isFinite(b.budgetLimit)) throw invalid("model_max_budget's budget_limit must be a number of dollars, 0 or more", "model_max_budget");
    if (b.timePeriod !== "") parseDuration(b.timePeriod, "model_max_budget.time_period");
    return { budget_limit: b.budgetLimit, time_period: b.timePeriod };
  });
}

function clearAll<P>(fields: string[], clearable: Record<string, (patch: P) => void>, patch: P): void {
  for (const field of fields) {
    const clear = clearable[field];
    if (!clear) throw invalid(`${field} cannot be cleared`, field);
    clear(patch);
  }
}

/** LiteLLM's soft_budget (keys, tags, budgets): dollars, 0 or more. */
function softBudget(dollars: number): number {
  if (!(dollars >= 0)) throw invalid("soft_budget must be a number of dollars, 0 or more", "soft_budget");
  return dollars;
}

const KEY_CLEARABLE: Record<string, (patch: KeyPatch) => void> = {
  ...SHARED_CLEARABLE,
  key_alias: (p) => (p.keyAlias = null),
  duration: (p) => (p.expiresAt = null),
  allowed_routes: (p) => (p.allowedRoutes = []),
  model_rpm_limit: (p) => (p.modelRpmLimit = {}),
  model_tpm_limit: (p) => (p.modelTpmLimit = {}),
  model_max_budget: (p) => (p.modelMaxBudget = {}),
  soft_budget: (p) => (p.softBudget = null),
};

/** The columns a KeySettings message sets, validated; absent fields are left out. */
export function settingsPatch(s: KeySettings | undefined, now = Date.now()): KeyPatch {
  if (!s) return {};
  const patch: KeyPatch = {};
  if (s.keyAlias !== undefined) patch.keyAlias = s.keyAlias === "" ? null : s.keyAlias;
  sharedPatch(s, patch);
  if (s.duration !== undefined) patch.expiresAt = s.duration === "" ? null : new Date(addDuration(now, parseDuration(s.duration, "duration")));
  if (s.userId !== undefined) patch.userId = s.userId;
  if (s.teamId !== undefined) patch.teamId = s.teamId;
  if (s.organizationId !== undefined) patch.organizationId = s.organizationId === "" ? null : s.organizationId;
  if (s.allowedRoutes !== undefined) {
    const bad = s.allowedRoutes.routes.filter((route) => !isRouteSpec(route));
    if (bad.length > 0) throw invalid(`allowed_routes must be paths ("/v1/chat/completions", "/key/*") or route groups (${ROUTE_GROUP_NAMES.join(", ")}): ${bad.join(", ")}`, "allowed_routes");
    patch.allowedRoutes = s.allowedRoutes.routes;
  }
  if (s.aliases !== undefined) patch.aliases = aliasesPatch(s.aliases, "aliases");
  if (s.modelRpmLimit !== undefined) patch.modelRpmLimit = perModel(s.modelRpmLimit.counts, "model_rpm_limit", (e) => e.value);
  if (s.modelTpmLimit !== undefined) patch.modelTpmLimit = perModel(s.modelTpmLimit.counts, "model_tpm_limit", (e) => e.value);
  if (s.modelMaxBudget !== undefined) patch.modelMaxBudget = modelBudgetsPatch(s.modelMaxBudget);
  if (s.blocked !== undefined) patch.blocked = s.blocked;
  if (s.softBudget !== undefined) patch.softBudget = softBudget(s.softBudget);
  clearAll(s.clear, KEY_CLEARABLE, patch);
  return patch;
}

const TEAM_CLEARABLE: Record<string, (patch: TeamPatch) => void> = {
  ...SHARED_CLEARABLE,
  team_alias: (p) => (p.teamAlias = null),
  model_rpm_limit: (p) => (p.modelRpmLimit = {}),
  model_tpm_limit: (p) => (p.modelTpmLimit = {}),
  model_max_budget: (p) => (p.modelMaxBudget = {}),
  team_member_budget: (p) => (p.memberBudget = null),
  team_member_budget_duration: (p) => (p.memberBudgetDuration = ""),
  team_member_rpm_limit: (p) => (p.memberRpmLimit = null),
  team_member_tpm_limit: (p) => (p.memberTpmLimit = null),
  team_member_key_duration: (p) => (p.memberKeyDuration = ""),
};

/** LiteLLM's team_member_* defaults of a TeamSettings message, validated, into the patch. */
function memberDefaultsPatch(s: TeamSettings, patch: TeamPatch): void {
  if (s.teamMemberBudget !== undefined) {
    if (!(s.teamMemberBudget >= 0)) throw invalid("team_member_budget must be a number of dollars, 0 or more", "team_member_budget");
    patch.memberBudget = s.teamMemberBudget;
  }
  for (const [value, field, column] of [
    [s.teamMemberBudgetDuration, "team_member_budget_duration", "memberBudgetDuration"],
    [s.teamMemberKeyDuration, "team_member_key_duration", "memberKeyDuration"],
  ] as const) {
    if (value === undefined) continue;
    if (value !== "") parseDuration(value, field);
    patch[column] = value;
  }
  if (s.teamMemberRpmLimit !== undefined) patch.memberRpmLimit = s.teamMemberRpmLimit;
  if (s.teamMemberTpmLimit !== undefined) patch.memberTpmLimit = s.teamMemberTpmLimit;
}

/** The columns a TeamSettings message sets, validated; absent fields are left out. */
export function teamSettingsPatch(s: TeamSettings | undefined): TeamPatch {
  if (!s) return {};
  const patch: TeamPatch = {};
  if (s.teamAlias !== undefined) patch.teamAlias = s.teamAlias === "" ? null : s.teamAlias;
  sharedPatch(s, patch);
  if (s.membersWithRolesJson !== undefined) patch.membersWithRoles = teamMembers(s.membersWithRolesJson, "members_with_roles");
  if (s.blocked !== undefined) patch.blocked = s.blocked;
  if (s.modelAliases !== undefined) patch.modelAliases = aliasesPatch(s.modelAliases, "model_aliases");
  if (s.organizationId !== undefined) patch.organizationId = s.organizationId === "" ? null : s.organizationId;
  if (s.modelRpmLimit !== undefined) patch.modelRpmLimit = perModel(s.modelRpmLimit.counts, "model_rpm_limit", (e) => e.value);
  if (s.modelTpmLimit !== undefined) patch.modelTpmLimit = perModel(s.modelTpmLimit.counts, "model_tpm_limit", (e) => e.value);
  if (s.modelMaxBudget !== undefined) patch.modelMaxBudget = modelBudgetsPatch(s.modelMaxBudget);
  memberDefaultsPatch(s, patch);
  clearAll(s.clear, TEAM_CLEARABLE, patch);
  return patch;
}

const ORGANIZATION_CLEARABLE: Record<string, (patch: OrganizationPatch) => void> = {
  ...SHARED_CLEARABLE,
  budget_id: (p) => (p.budgetId = null),
};

/** The columns an OrganizationSettings message sets, validated; absent fields are left out. */
export function organizationSettingsPatch(s: OrganizationSettings | undefined): OrganizationPatch {
  if (!s) return {};
  const patch: OrganizationPatch = {};
  if (s.organizationAlias !== undefined) {
    if (s.organizationAlias.trim() === "") throw invalid("organization_alias must not be empty", "organization_alias");
    patch.organizationAlias = s.organizationAlias;
  }
  sharedPatch(s, patch);
  if (s.blocked !== undefined) patch.blocked = s.blocked;
  if (s.budgetId !== undefined) patch.budgetId = s.budgetId === "" ? null : s.budgetId;
  clearAll(s.clear, ORGANIZATION_CLEARABLE, patch);
  return patch;
}

const USER_CLEARABLE: Record<string, (patch: UserPatch) => void> = {
  ...SHARED_CLEARABLE,
  user_alias: (p) => (p.userAlias = null),
  user_email: (p) => (p.userEmail = null),
};

const ROLES: ReadonlySet<string> = new Set(USER_ROLES);

/** The columns a UserSettings message sets, validated; absent fields are left out. */
export function userSettingsPatch(s: UserSettings | undefined): UserPatch {
  if (!s) return {};
  const patch: UserPatch = {};
  if (s.userAlias !== undefined) patch.userAlias = s.userAlias === "" ? null : s.userAlias;
  if (s.userEmail !== undefined) patch.userEmail = s.userEmail === "" ? null : s.userEmail;
  if (s.userRole !== undefined) {
    if (!ROLES.has(s.userRole)) throw invalid(`user_role must be one of ${USER_ROLES.join(", ")}`, "user_role");
    patch.userRole = s.userRole;
  }
  sharedPatch(s, patch);
  clearAll(s.clear, USER_CLEARABLE, patch);
  return patch;
}

const CUSTOMER_CLEARABLE: Record<string, (patch: CustomerPatch) => void> = {
  ...SHARED_CLEARABLE,
  alias: (p) => (p.alias = null),
  allowed_model_region: (p) => (p.allowedModelRegion = null),
  default_model: (p) => (p.defaultModel = null),
  budget_id: (p) => (p.budgetId = null),
};

/** LiteLLM's regions for a customer's models. */
const REGIONS = new Set(["eu", "us"]);

/** The columns a CustomerSettings message sets, validated; absent fields are left out. */
export function customerSettingsPatch(s: CustomerSettings | undefined): CustomerPatch {
  if (!s) return {};
  const patch: CustomerPatch = {};
  if (s.alias !== undefined) patch.alias = s.alias === "" ? null : s.alias;
  if (s.blocked !== undefined) patch.blocked = s.blocked;
  sharedPatch(s, patch);
  if (s.allowedModelRegion !== undefined) {
    if (!REGIONS.has(s.allowedModelRegion)) throw invalid('allowed_model_region must be "eu" or "us"', "allowed_model_region");
    patch.allowedModelRegion = s.allowedModelRegion;
  }
  if (s.defaultModel !== undefined) patch.defaultModel = s.defaultModel === "" ? null : s.defaultModel;
  if (s.budgetId !== undefined) patch.budgetId = s.budgetId === "" ? null : s.budgetId;
  clearAll(s.clear, CUSTOMER_CLEARABLE, patch);
  return patch;
}

const BUDGET_CLEARABLE: Record<string, (patch: BudgetPatch) => void> = {
  ...SHARED_CLEARABLE,
  soft_budget: (p) => (p.softBudget = null),
};

/** The columns a BudgetSettings message sets, validated; absent fields are left out. */
export function budgetSettingsPatch(s: BudgetSettings | undefined): BudgetPatch {
  if (!s) return {};
  const patch: BudgetPatch = {};
  sharedPatch(s, patch);
  if (s.softBudget !== undefined) patch.softBudget = softBudget(s.softBudget);
  clearAll(s.clear, BUDGET_CLEARABLE, patch);
  return patch;
}

const TAG_CLEARABLE: Record<string, (patch: TagPatch) => void> = {
  ...SHARED_CLEARABLE,
  description: (p) => (p.description = null),
  soft_budget: (p) => (p.softBudget = null),
};

/** The columns a TagSettings message sets, validated; absent fields are left out. */
export function tagSettingsPatch(s: TagSettings | undefined): TagPatch {
  if (!s) return {};
  const patch: TagPatch = {};
  if (s.description !== undefined) patch.description = s.description === "" ? null : s.description;
  sharedPatch(s, patch);
  if (s.softBudget !== undefined) patch.softBudget = softBudget(s.softBudget);
  clearAll(s.clear, TAG_CLEARABLE, patch);
  return patch;
}

function isMember(v: unknown): v is TeamMember {
  if (!isObject(v)) return false;
  const m = v as Record<string, unknown>;
  const named = (field: string) => typeof m[field] === "string" && m[field] !== "";
  const absentOrText = (field: string) => m[field] === undefined || m[field] === null || typeof m[field] === "string";
  const absentOrAmount = (field: string) => m[field] === undefined || m[field] === null || (typeof m[field] === "number" && Number.isFinite(m[field]) && m[field] >= 0);
  const limitsOk = absentOrAmount("max_budget_in_team") && ["tpm_limit", "rpm_limit"].every((f) => absentOrAmount(f) && (m[f] == null || Number.isInteger(m[f])));
  return (m.role === "admin" || m.role === "user") && (named("user_id") || named("user_email")) && absentOrText("user_id") && absentOrText("user_email") && limitsOk;
}

/** A JSON array of members, each kept with only the fields a member has. */
export function teamMembers(json: string, param: string): TeamMember[] {
  const isMembers = (v: unknown): v is Record<string, unknown>[] => Array.isArray(v) && v.every(isMember);
  const members = jsonSetting(
    json,
    isMembers,
    param,
    'a list of members, each {"role": "admin" or "user", "user_id" and/or "user_email"}, with max_budget_in_team, tpm_limit and rpm_limit 0 or more',
  );
  return members.map((m) => ({
    role: m.role as TeamMember["role"],
    ...(typeof m.user_id === "string" && { user_id: m.user_id }),
    ...(typeof m.user_email === "string" && { user_email: m.user_email }),
    ...Object.fromEntries(MEMBER_LIMITS.filter((f) => typeof m[f] === "number").map((f) => [f, m[f]])),
  }));
}
