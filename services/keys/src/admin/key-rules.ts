import { Code } from "@connectrpc/connect";
import { addDuration, administers, gatewayError, parseDuration } from "@gateway/common";
import type { KeyPatch } from "../key-store.js";
import { memberRole, type Caller } from "./access.js";
import type { AdminDeps } from "./context.js";

// What litellm_settings says about the keys made and changed through the
// management API: default_key_generate_params (what a new key gets for what
// its request leaves out), upperbound_key_generate_params (the most a key may
// have of each limit) and key_generation_settings (who may make which keys,
// and which fields they must give).

// The numeric limits, by config field and by column (keys' and users' alike).
export const NUMERIC_LIMITS = [
  ["max_budget", "maxBudget"],
  ["max_parallel_requests", "maxParallelRequests"],
  ["tpm_limit", "tpmLimit"],
  ["rpm_limit", "rpmLimit"],
] as const;

function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

const isEmpty = (metadata: unknown) => metadata === undefined || (typeof metadata === "object" && metadata !== null && Object.keys(metadata).length === 0);

/** default_key_generate_params: a new key's limits, models and metadata, where its request leaves them out. */
export function withKeyDefaults(deps: AdminDeps, patch: KeyPatch, now = Date.now()): void {
  const d = deps.config.litellm_settings.default_key_generate_params;
  if (!d) return;
  for (const [field, column] of NUMERIC_LIMITS) {
    const value = d[field];
    if (patch[column] === undefined && value !== undefined && value !== null) patch[column] = value;
  }
  if (patch.budgetDuration === undefined && d.budget_duration) patch.budgetDuration = d.budget_duration;
  if (patch.expiresAt === undefined && d.duration) patch.expiresAt = new Date(addDuration(now, parseDuration(d.duration, "duration")));
  if ((patch.models === undefined || patch.models.length === 0) && d.models && d.models.length > 0) patch.models = [...d.models];
  if (isEmpty(patch.metadata) && d.metadata && !isEmpty(d.metadata)) patch.metadata = { ...d.metadata };
}

/** A key made in a team for a user lives as long as the team's team_member_key_duration says, unless the request says (null included). */
export function withTeamKeyDuration(deps: AdminDeps, patch: KeyPatch, now = Date.now()): void {
  if (patch.expiresAt !== undefined || !patch.teamId || !patch.userId) return;
  const duration = deps.teams.get(patch.teamId)?.memberKeyDuration;
  if (duration) patch.expiresAt = new Date(addDuration(now, parseDuration(duration, "team_member_key_duration")));
}

function overBound(field: string, value: unknown, bound: unknown): Error {
  return invalid(`${field} is over max limit set in config - user_value=${value === null || value === "" ? "None" : String(value)}; max_value=${String(bound)}`, field);
}

/**
 * upperbound_key_generate_params, for every caller as in LiteLLM: a limit
 * given over its bound, or taken away where one is bound, is a 400; a new key
 * (`isNew`) whose request leaves a bounded limit out gets the bound.
 */
export function boundKeyLimits(deps: AdminDeps, patch: KeyPatch, isNew: boolean, now = Date.now()): void {
  const u = deps.config.litellm_settings.upperbound_key_generate_params;
  if (!u) return;
  for (const [field, column] of NUMERIC_LIMITS) {
    const bound = u[field];
    if (bound === undefined || bound === null) continue;
    const value = patch[column];
    if (value === undefined) {
      if (isNew) patch[column] = bound;
    } else if (value === null || value > bound) {
      throw overBound(field, value, bound);
    }
  }
  if (u.budget_duration) {
    const bound = addDuration(now, parseDuration(u.budget_duration, "budget_duration"));
    if (patch.budgetDuration === undefined) {
      if (isNew) patch.budgetDuration = u.budget_duration;
    } else if (patch.budgetDuration === "" || addDuration(now, parseDuration(patch.budgetDuration, "budget_duration")) > bound) {
      throw overBound("budget_duration", patch.budgetDuration, u.budget_duration);
    }
  }
  if (u.duration) {
    // Expiries are worked out from a moment just before `now`, so one within the bound is never later than this.
    const bound = addDuration(now, parseDuration(u.duration, "duration"));
    if (patch.expiresAt === undefined) {
      if (isNew) patch.expiresAt = new Date(bound);
    } else if (patch.expiresAt === null || patch.expiresAt.getTime() > bound) {
      throw overBound("duration", patch.expiresAt && `expires ${patch.expiresAt.toISOString()}`, u.duration);
    }
  }
}

/**
 * key_generation_settings, for callers below proxy_admin: a team key's maker
 * must hold one of allowed_team_member_roles in the team, a personal key's
 * one of allowed_user_roles; and each must give the rule's required_params
 * (the request's fields, `given`).
 */
export function checkKeyGeneration(deps: AdminDeps, caller: Caller, patch: KeyPatch, given: readonly string[]): void {
  const rules = deps.config.litellm_settings.key_generation_settings;
  if (!rules || administers(caller.userRole)) return;
  const teamId = patch.teamId ?? "";
  if (teamId !== "") {
    const rule = rules.team_key_generation;
    if (!rule) return;
    const allowed = rule.allowed_team_member_roles ?? ["admin", "user"];
    const role = memberRole(deps, caller.userId, teamId);
    if (role === undefined || !allowed.includes(role)) {
      throw invalid(`Team member role ${role ?? "none"} not in allowed_team_member_roles=${JSON.stringify(allowed)}`, "team_id");
    }
    requireParams(rule.required_params, given);
  } else {
    const rule = rules.personal_key_generation;
    if (!rule) return;
    const allowed = rule.allowed_user_roles;
    if (allowed && !(allowed as readonly string[]).includes(caller.userRole)) {
      throw invalid(`Personal key creation has been restricted by admin. Allowed roles=${JSON.stringify(allowed)}. Your role=${caller.userRole || "none"}`, "user_id");
    }
    requireParams(rule.required_params, given);
  }
}

function requireParams(required: readonly string[] | undefined, given: readonly string[]): void {
  for (const param of required ?? []) if (!given.includes(param)) throw invalid(`Required param ${param} not in data`, param);
}
