import { Code, ConnectError } from "@connectrpc/connect";
import { administers, gatewayError, readsAll } from "@gateway/common";
import { Access, type AuthorizeResponse, type KeyRef } from "@gateway/proto/keys/v1/keys_pb.js";
import type { KeyRow } from "../key-record.js";
import type { KeyPatch } from "../key-store.js";
import { modelsOf } from "../model-access.js";
import type { OrganizationMember } from "../organization-record.js";
import { requireRole, viewerRefusal } from "../roles.js";
import type { TeamMember } from "../team-record.js";
import { resolveKey, type AdminDeps } from "./context.js";

// What a key below proxy_admin may do with keys and teams, by LiteLLM's user
// roles: an internal_user's key manages that user's keys; a team admin's
// (members_with_roles role "admin", or an org_admin of the team's
// organization) the team's keys and members too.

/** Who a management call comes from: Authorize's answer for its key. */
export type Caller = AuthorizeResponse;

export function forbidden(message: string): Error {
  return gatewayError(message, Code.PermissionDenied, { type: "permission_error" });
}

/** A user's role in a team; undefined when not a member (by user_id). */
export function memberRole(deps: AdminDeps, userId: string, teamId: string): TeamMember["role"] | undefined {
  return userId === "" || teamId === "" ? undefined : deps.teams.get(teamId)?.roles.get(userId);
}

/** A user's role in an organization; undefined when not a member. */
export function organizationRole(deps: AdminDeps, userId: string, organizationId: string): OrganizationMember["user_role"] | undefined {
  return userId === "" ? undefined : deps.organizations.get(organizationId)?.roles.get(userId);
}

/** An org_admin of the team's organization, who is an admin of each of its teams. */
export function adminsTeamOrganization(deps: AdminDeps, caller: Caller, teamId: string): boolean {
  const organizationId = teamId === "" ? "" : (deps.teams.get(teamId)?.organizationId ?? "");
  return organizationId !== "" && organizationRole(deps, caller.userId, organizationId) === "org_admin";
}

export const isTeamAdmin = (deps: AdminDeps, caller: Caller, teamId: string): boolean =>
  memberRole(deps, caller.userId, teamId) === "admin" || adminsTeamOrganization(deps, caller, teamId);

/** A member of the team, a key of it, or an org_admin of its organization. */
export const inTeam = (deps: AdminDeps, caller: Caller, teamId: string): boolean =>
  teamId !== "" && (caller.teamId === teamId || memberRole(deps, caller.userId, teamId) !== undefined || adminsTeamOrganization(deps, caller, teamId));

/** Changes below proxy_admin come only from an internal_user's keys. */
export function requireWriter(caller: Caller): void {
  if (administers(caller.userRole) || (caller.userRole === "internal_user" && caller.userId !== "")) return;
  if (readsAll(caller.userRole) || caller.userRole === "internal_user_viewer") throw viewerRefusal(caller.userRole);
  requireRole(caller.userRole, Access.MANAGEMENT);
}

/** A team's members may be changed by an admin, and by the team's own admins. */
export function requireTeamAdmin(deps: AdminDeps, caller: Caller, teamId: string, what = "its members"): void {
  requireWriter(caller);
  if (!administers(caller.userRole) && !isTeamAdmin(deps, caller, teamId)) {
    throw forbidden(`Only a proxy admin or an admin of team=${teamId} may change ${what}`);
  }
}

/** An organization's members (and teams) may be changed by an admin, and by its own org_admins. */
export function requireOrganizationAdmin(deps: AdminDeps, caller: Caller, organizationId: string): void {
  requireWriter(caller);
  if (!administers(caller.userRole) && organizationRole(deps, caller.userId, organizationId) !== "org_admin") {
    throw forbidden(`Only a proxy admin or an org_admin of organization=${organizationId} may change its members and teams`);
  }
}

/** A service account key (LiteLLM's): a team's key with no user, made by an admin or an admin of the team. */
export function checkServiceAccountKey(deps: AdminDeps, caller: Caller, patch: KeyPatch): void {
  if (!patch.teamId) throw gatewayError("team_id is required for service account keys", Code.InvalidArgument, { type: "invalid_request_error", param: "team_id" });
  if (patch.userId) throw gatewayError("a service account key belongs to no user: give no user_id", Code.InvalidArgument, { type: "invalid_request_error", param: "user_id" });
  requireTeamAdmin(deps, caller, patch.teamId, "its service account keys");
  if (!administers(caller.userRole) && patch.organizationId && organizationRole(deps, caller.userId, patch.organizationId) === undefined) {
    throw forbidden(`User=${caller.userId} is not a member of organization=${patch.organizationId}`);
  }
}

/**
 * Whether a key of `userId` would carry more than the caller may hold: a key
 * takes its user's role, so a proxy_admin's (or proxy_admin_viewer's) key
 * that a team admin made, was given or regenerated would make that team
 * admin one.
 */
function outranksCaller(deps: AdminDeps, caller: Caller, userId: string): boolean {
  return userId !== "" && userId !== caller.userId && !administers(caller.userRole) && readsAll(deps.users.get(userId)?.role ?? "");
}

/** A key may be changed, regenerated or deleted by an admin, its user, or an admin of its team (the caller is a writer) unless its user outranks them. */
export const mayChangeKey = (deps: AdminDeps, caller: Caller, row: KeyRow): boolean =>
  administers(caller.userRole) || (caller.userId !== "" && row.userId === caller.userId) || (isTeamAdmin(deps, caller, row.teamId) && !outranksCaller(deps, caller, row.userId));

export function notYourKey(): Error {
  return forbidden("You are not allowed to change this key: it is neither your user's nor a key of a team you are an admin of");
}

/**
 * The key a change names, when the caller may change it. Below proxy_admin,
 * a key it may not change and no key at all are the same 403: whether other
 * keys exist is not its to know.
 */
export async function keyToChange(deps: AdminDeps, caller: Caller, ref: KeyRef | undefined): Promise<KeyRow> {
  requireWriter(caller);
  if (administers(caller.userRole)) return resolveKey(deps, ref);
  const row = await resolveKey(deps, ref).catch(unlessNotFound);
  if (!row || !mayChangeKey(deps, caller, row)) throw notYourKey();
  return row;
}

export function unlessNotFound(err: unknown): undefined {
  if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
  throw err;
}

/** A key may be read by whoever reads everything, the key itself, its user, and its team's members. */
export const mayReadKey = (deps: AdminDeps, caller: Caller, row: KeyRow): boolean =>
  readsAll(caller.userRole) || row.keyHash === caller.keyHash || (caller.userId !== "" && row.userId === caller.userId) || inTeam(deps, caller, row.teamId);

/**
 * What a key's user, team and models may be when a non-admin writes it: a
 * new key without a user_id is the caller's; a key is its own user's, or,
 * by a team admin, a member's of that team (not one whose role is above
 * internal_user's, which the key would carry); its team one the caller is in,
 * and a key already in a team moved out of it only by that team's admins;
 * its models within its user's (a new key without models gets them); its
 * allowed_routes set only when it is made.
 * `patch` is completed in place.
 */
export function checkOwnKeyWrite(deps: AdminDeps, caller: Caller, patch: KeyPatch, current?: KeyRow): void {
  if (administers(caller.userRole)) return;
  if (!current && patch.userId === undefined) patch.userId = caller.userId;
  // A key's routes are set when it is made; widening them afterwards is an admin's to do.
  if (current && patch.allowedRoutes !== undefined) throw forbidden("Only an admin may change the allowed_routes of a key");
  // As /key/block and /key/unblock: a key's user may not undo an admin's block.
  if (current && patch.blocked !== undefined) throw forbidden("Only an admin may block or unblock a key");
  // Out of its team a key is free of the team's budget, models and member limits: moving it out is its admins' to do.
  if (current && current.teamId !== "" && patch.teamId !== undefined && patch.teamId !== current.teamId && !isTeamAdmin(deps, caller, current.teamId)) {
    throw forbidden(`Only a proxy admin or an admin of team=${current.teamId} may move a key out of it`);
  }
  const owner = patch.userId ?? current?.userId ?? "";
  const teamId = patch.teamId ?? current?.teamId ?? "";
  if (patch.teamId !== undefined && patch.teamId !== "" && memberRole(deps, caller.userId, patch.teamId) === undefined && !adminsTeamOrganization(deps, caller, patch.teamId)) {
    throw forbidden(`User=${caller.userId} is not a member of team=${patch.teamId}`);
  }
  if (patch.organizationId && organizationRole(deps, caller.userId, patch.organizationId) === undefined) {
    throw forbidden(`User=${caller.userId} is not a member of organization=${patch.organizationId}`);
  }
  // A team admin writes the team's keys of its members, and those of no user (service accounts).
  if (owner !== caller.userId && !(isTeamAdmin(deps, caller, teamId) && (owner === "" || memberRole(deps, owner, teamId) !== undefined))) {
    throw forbidden(`User can only create keys for themselves, or as a team admin for the team's members. Got user_id=${owner}, Your ID=${caller.userId}`);
  }
  if (outranksCaller(deps, caller, owner)) throw forbidden(`User=${owner} is a ${deps.users.get(owner)?.role}: only a proxy admin may make or change their keys`);
  const allowed = modelsOf(deps.users.get(owner)?.models ?? []).modelList;
  if (allowed.length === 0) return;
  if (!current && (patch.models === undefined || patch.models.length === 0)) patch.models = [...allowed];
  const asked = patch.models && modelsOf(patch.models).modelList;
  if (asked !== undefined && (asked.length === 0 || asked.some((m) => !deps.access.covers(allowed, m)))) {
    throw forbidden(`User=${owner}'s keys may have only models within [${allowed.join(", ")}]`);
  }
}
