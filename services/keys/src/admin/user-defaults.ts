import type { UserPatch } from "../user-store.js";
import type { AdminDeps } from "./context.js";
import { NUMERIC_LIMITS } from "./key-rules.js";

// The role a user gets when made without one (the users table's default).
const DEFAULT_ROLE = "internal_user";

/**
 * What litellm_settings gives a user /user/new makes, for what its request
 * leaves out: default_internal_user_params (a user asked for with any role
 * but proxy_admin: its role, limits and models), then, for an internal_user,
 * max_internal_user_budget and internal_user_budget_duration.
 */
export function withUserDefaults(deps: AdminDeps, patch: UserPatch): void {
  const settings = deps.config.litellm_settings;
  const d = settings.default_internal_user_params;
  if (d && patch.userRole !== "proxy_admin") {
    if (patch.userRole === undefined && d.user_role) patch.userRole = d.user_role;
    for (const [field, column] of NUMERIC_LIMITS) {
      const value = d[field];
      if (patch[column] === undefined && value !== undefined && value !== null) patch[column] = value;
    }
    if (patch.budgetDuration === undefined && d.budget_duration) patch.budgetDuration = d.budget_duration;
    if ((patch.models === undefined || patch.models.length === 0) && d.models && d.models.length > 0) patch.models = [...d.models];
  }
  if ((patch.userRole ?? DEFAULT_ROLE) === DEFAULT_ROLE) {
    if (patch.maxBudget === undefined && settings.max_internal_user_budget !== undefined) patch.maxBudget = settings.max_internal_user_budget;
    if (patch.budgetDuration === undefined && settings.internal_user_budget_duration) patch.budgetDuration = settings.internal_user_budget_duration;
  }
}
