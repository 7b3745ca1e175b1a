import { Code } from "@connectrpc/connect";
import { gatewayError, pgErrorCode } from "@gateway/common";
import type { KeyRow } from "../key-record.js";
import type { KeyPatch } from "../key-store.js";
import { modelsOf } from "../model-access.js";
import type { OrganizationRow } from "../organization-record.js";
import type { TeamRow } from "../team-record.js";
import type { TeamPatch } from "../team-store.js";
import type { AdminDeps } from "./context.js";

// What LiteLLM checks when a team or a key is put in an organization.

function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

const unknown = (organizationId: string | null | undefined) =>
  invalid(`organization_id ${organizationId} names no organization; create it with /organization/new first`, "organization_id");

/** The models named must be inside the organization's, when it names any (none named: its own hold at every call). */
function checkWithinModels(deps: AdminDeps, organization: OrganizationRow, models: readonly string[]): void {
  const allowed = modelsOf(organization.models).modelList;
  const outside = modelsOf(models).modelList.filter((m) => !deps.access.covers(allowed, m));
  if (allowed.length > 0 && outside.length > 0) {
    throw invalid(`models [${outside.join(", ")}] are not among organization ${organization.organizationId}'s models [${organization.models.join(", ")}]`, "models");
  }
}

/** A team's limits an organization's bound. */
const BOUNDED = [
  ["max_budget", "maxBudget"],
  ["tpm_limit", "tpmLimit"],
  ["rpm_limit", "rpmLimit"],
  ["max_parallel_requests", "maxParallelRequests"],
] as const;

/**
 * A team put in an organization (or given models or limits while in one)
 * must name one that exists, with models inside its models (a team put in
 * one without models gets them) and a budget and rate limits no larger than
 * its own, as LiteLLM checks. Only what the change sets is checked.
 * `patch` is completed in place. `find` reads the organization (inside a
 * transaction, one read before it: the embedded database has one
 * connection, which the transaction holds).
 */
export async function checkTeamOrganization(
  deps: AdminDeps,
  patch: TeamPatch,
  current?: TeamRow,
  find: (organizationId: string) => Promise<OrganizationRow | undefined> = (id) => deps.organizationStore.byId(id),
): Promise<void> {
  const joining = patch.organizationId !== undefined;
  const organizationId = joining ? patch.organizationId : (current?.organizationId ?? null);
  if (organizationId === null || organizationId === undefined) return;
  if (!joining && patch.models === undefined && BOUNDED.every(([, column]) => patch[column] === undefined)) return;
  const organization = await find(organizationId);
  if (!organization) {
    if (!joining) return;
    throw unknown(organizationId);
  }
  if (modelsOf(organization.models).modelList.length > 0 && (joining || patch.models !== undefined)) {
    const models = patch.models ?? current?.models ?? [];
    if (modelsOf(models).modelList.length === 0) patch.models = [...organization.models];
    else checkWithinModels(deps, organization, models);
  }
  for (const [field, column] of BOUNDED) {
    const bound = organization[column];
    const value = patch[column] !== undefined ? patch[column] : joining ? current?.[column] : undefined;
    if (bound !== null && value !== undefined && value !== null && value > bound) {
      throw invalid(`${field} (${value}) is over organization ${organizationId}'s ${field} (${bound})`, field);
    }
  }
}

/** A team's or key's write that names an organization deleted meanwhile, as the 400 the checks above give. */
export async function inOrganization<T>(organizationId: string | null | undefined, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (pgErrorCode(err) === "23503") throw unknown(organizationId);
    throw err;
  }
}

/**
 * A key put in an organization (or given models or a team while in one)
 * must name one that exists, the key's team's if its team is in one, and
 * have models inside its models. `patch` is left as it is.
 */
export async function checkKeyOrganization(deps: AdminDeps, patch: KeyPatch, current?: KeyRow): Promise<void> {
  const naming = patch.organizationId !== undefined;
  const organizationId = naming ? patch.organizationId : (current?.organizationId ?? null);
  if (organizationId === null || organizationId === undefined) return;
  if (!naming && patch.teamId === undefined && patch.models === undefined) return;
  const organization = await deps.organizationStore.byId(organizationId);
  if (!organization) {
    if (!naming) return;
    throw unknown(organizationId);
  }
  const teamId = patch.teamId ?? current?.teamId ?? "";
  const team = teamId === "" ? undefined : await deps.teamStore.byId(teamId);
  if (team?.organizationId && team.organizationId !== organizationId) {
    throw invalid(`team ${teamId} belongs to organization ${team.organizationId}, not ${organizationId}`, "organization_id");
  }
  checkWithinModels(deps, organization, patch.models ?? current?.models ?? []);
}
