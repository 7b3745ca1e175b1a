import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { administers, ALL_PROXY_MODELS, gatewayError, readsAll, type Db, type Entry } from "@gateway/common";
import {
  Access,
  type AddTeamMembersRequest,
  type ChangeTeamModelsRequest,
  type CreateTeamRequest,
  type DeleteTeamsRequest,
  type GetTeamRequest,
  type ListedUser,
  type RemoveTeamMemberRequest,
  type Team,
  type UpdateTeamMemberRequest,
  type UpdateTeamRequest,
  type VirtualKey,
} from "@gateway/proto/keys/v1/keys_pb.js";
import { joined, nextStamp } from "../member-generation.js";
import { memberAllowanceId, MEMBER_LIMITS, teamAllowanceId, toTeamProto, toTeamRecord, type TeamMember, type TeamRow } from "../team-record.js";
import type { TeamPatch } from "../team-store.js";
import { requireRole } from "../roles.js";
import { adminsTeamOrganization, forbidden, inTeam, memberRole, requireOrganizationAdmin, requireTeamAdmin, requireWriter, type Caller } from "./access.js";
import { carrySpend } from "./carry-spend.js";
import { asUsers } from "./member-users.js";
import { listedUsersById } from "./user-views.js";
import { checkTeamOrganization, inOrganization } from "./organization-rules.js";
import { uniquely, type AdminDeps } from "./context.js";
import { teamMembers, teamSettingsPatch } from "./settings.js";
import { keyViews, spendOfMembers, viewsWithSpend } from "./views.js";

function teamNotFound(teamId: string): Error {
  return gatewayError(`team not found: ${teamId}`, Code.NotFound, { type: "not_found_error", param: "team_id" });
}

function requireTeamId(teamId: string): string {
  if (teamId === "") throw gatewayError("team_id is required", Code.InvalidArgument, { type: "invalid_request_error", param: "team_id" });
  return teamId;
}

async function existing(deps: AdminDeps, teamId: string): Promise<TeamRow> {
  const row = await deps.teamStore.byId(requireTeamId(teamId));
  if (!row) throw teamNotFound(teamId);
  return row;
}

/** Teams as management calls show them; a team with a budget carries its budget period's spend. */
export const teamViews = (deps: AdminDeps, rows: TeamRow[]): Promise<Team[]> => viewsWithSpend(deps, rows, toTeamRecord, toTeamProto);

async function teamView(deps: AdminDeps, row: TeamRow): Promise<Team> {
  const [view] = await teamViews(deps, [row]);
  return view as Team;
}

/** Teams are made by admins, and within an organization by its org_admins; the users members_with_roles names are made when missing (asUsers). */
export async function createTeam(deps: AdminDeps, req: CreateTeamRequest, caller: Caller): Promise<{ team: Team }> {
  const teamId = req.teamId === "" ? randomUUID() : req.teamId;
  const patch = teamSettingsPatch(req.settings);
  if (!administers(caller.userRole)) {
    if (!patch.organizationId) requireRole(caller.userRole, Access.MANAGEMENT);
    else requireOrganizationAdmin(deps, caller, patch.organizationId);
  }
  await checkTeamOrganization(deps, patch);
  // A taken team_id makes no users (one taken at this very moment still may).
  if (await deps.teamStore.byId(teamId)) throw gatewayError(`team_id ${teamId} is already in use`, Code.AlreadyExists, { type: "invalid_request_error", status: 400 });
  const named = patch.membersWithRoles === undefined ? undefined : await asUsers(deps, patch.membersWithRoles as TeamMember[]);
  if (named) {
    const stamp = nextStamp(null);
    patch.membersWithRoles = named.members.map((m) => joined(m, stamp));
    patch.memberStampMs = stamp;
  }
  let row: TeamRow;
  try {
    row = await uniquely(`team_id ${teamId}`, () => inOrganization(patch.organizationId, () => deps.teamStore.insert({ teamId, ...patch })));
  } finally {
    if (named?.made) await deps.users.changed(named.members.map((m) => m.user_id));
  }
  await deps.teams.changed([row.teamId]);
  return { team: await teamView(deps, row) };
}

/** A member named by user_id: one with allowances of its own in the team. */
type NamedMember = TeamMember & { user_id: string };

/** The members named by user_id `before` has and `after` has not. */
const droppedMembers = (before: TeamRow, after: TeamRow): NamedMember[] => {
  const kept = toTeamRecord(after).roles;
  return ((before.membersWithRoles ?? []) as TeamMember[]).filter((m): m is NamedMember => m.user_id !== undefined && !kept.has(m.user_id));
};

/** The same membership: the same user_id, or for members without one, the same user_email. */
const sameMembership = (a: TeamMember, b: TeamMember) => (a.user_id !== undefined || b.user_id !== undefined ? a.user_id === b.user_id : a.user_email === b.user_email);

/**
 * The patch with its members_with_roles, if any, stamped: a member the team
 * had keeps when it joined (none, for one stored before members were
 * stamped), and one it had not joins now.
 */
function withMembersStamped(patch: TeamPatch, before: TeamRow): TeamPatch {
  if (patch.membersWithRoles === undefined) return patch;
  const had = (before.membersWithRoles ?? []) as TeamMember[];
  const stamp = nextStamp(before.memberStampMs);
  const members = (patch.membersWithRoles as TeamMember[]).map((m) => {
    const was = had.find((h) => sameMembership(h, m));
    if (was === undefined) return joined(m, stamp);
    return was.added_at_ms === undefined ? m : { ...m, added_at_ms: was.added_at_ms };
  });
  return { ...patch, membersWithRoles: members, memberStampMs: stamp };
}

async function patchTeam(deps: AdminDeps, teamId: string, patch: TeamPatch, spendBefore?: number): Promise<{ team: Team }> {
  const current = await existing(deps, teamId);
  await checkTeamOrganization(deps, patch, current);
  const row = await inOrganization(patch.organizationId, () =>
    deps.teamStore.update(
      current.teamId,
      (before) => withMembersStamped(patch, before),
      async (tx, before, row) => {
        const allowances = deps.allowances.in(tx);
        await carrySpend(allowances, toTeamRecord(before), toTeamRecord(row), spendBefore);
        // The members a new members_with_roles leaves out lose what they spent, as with /team/member_delete: added again, they start afresh.
        await allowances.forget(droppedMembers(before, row).map((m) => memberAllowanceId(row, m.user_id, m)));
      },
    ),
  );
  if (!row) throw teamNotFound(teamId);
  await deps.teams.changed([row.teamId]);
  return { team: await teamView(deps, row) };
}

/**
 * A team itself (its settings, whether it is blocked, the team) is changed
 * by an admin, or by an org_admin of the organization it is in.
 */
function requireTeamChanger(deps: AdminDeps, caller: Caller, teamId: string): void {
  if (administers(caller.userRole)) return;
  if (!adminsTeamOrganization(deps, caller, teamId)) requireRole(caller.userRole, Access.MANAGEMENT);
  requireWriter(caller);
}

/** An org_admin may move a team only into another organization it is an org_admin of; the organization's bounds hold either way. */
export function updateTeam(deps: AdminDeps, req: UpdateTeamRequest, caller: Caller): Promise<{ team: Team }> {
  requireTeamChanger(deps, caller, req.teamId);
  const patch = teamSettingsPatch(req.settings);
  if (!administers(caller.userRole) && patch.organizationId !== undefined) {
    if (!patch.organizationId) throw forbidden("Only a proxy admin may take a team out of its organization");
    requireOrganizationAdmin(deps, caller, patch.organizationId);
  }
  return patchTeam(deps, req.teamId, patch, req.spendBefore);
}

export function setTeamBlocked(deps: AdminDeps, teamId: string, blocked: boolean, caller: Caller): Promise<{ team: Team }> {
  requireTeamChanger(deps, caller, teamId);
  return patchTeam(deps, teamId, { blocked });
}

/** Whoever reads everything may read any team; other keys their own team, and teams their user is a member of. */
export async function getTeam(deps: AdminDeps, req: GetTeamRequest, caller: Caller): Promise<{ team: Team; keys: VirtualKey[]; memberSpend: Entry<number>[] }> {
  if (!readsAll(caller.userRole) && !inTeam(deps, caller, req.teamId)) {
    throw gatewayError("You are not allowed to access this team's info", Code.PermissionDenied, { type: "permission_error", param: "team_id" });
  }
  const row = await existing(deps, req.teamId);
  const [team, keys, memberSpend] = await Promise.all([teamView(deps, row), deps.teamStore.keysOf(row.teamId).then((rows) => keyViews(deps, rows)), spendOfMembers(deps, toTeamRecord(row).members)]);
  return { team, keys, memberSpend };
}

/** Every team, for whoever reads everything; below that, the teams the caller's user is a member of, and those of organizations it is an org_admin of. */
export async function listTeams(deps: AdminDeps, _req: unknown, caller: Caller): Promise<{ teams: Team[] }> {
  if (!readsAll(caller.userRole) && caller.userId === "") requireRole(caller.userRole, Access.VIEW);
  const rows = await deps.teamStore.all();
  const sees = (row: TeamRow) => memberRole(deps, caller.userId, row.teamId) !== undefined || adminsTeamOrganization(deps, caller, row.teamId);
  return { teams: await teamViews(deps, readsAll(caller.userRole) ? rows : rows.filter(sees)) };
}

/**
 * Deletes the teams and their keys (as LiteLLM does), with the limits' state
 * of both. Every team named must exist, or nothing is deleted.
 */
export async function deleteTeams(deps: AdminDeps, req: DeleteTeamsRequest, caller: Caller): Promise<{ teams: Team[]; deletedKeyHashes: string[] }> {
  for (const teamId of req.teamIds) requireTeamChanger(deps, caller, teamId);
  if (req.teamIds.length === 0) throw gatewayError("team_ids is required", Code.InvalidArgument, { type: "invalid_request_error", param: "team_ids" });
  const rows = await Promise.all(req.teamIds.map((teamId) => existing(deps, teamId)));
  const views = await teamViews(deps, rows);
  const deleted = await deps.teamStore.delete(
    rows.map((row) => row.teamId),
    (tx, deleted) => deps.allowances.in(tx).forgetHolders([...deleted.keys.map((row) => row.id), ...deleted.teams.map(teamAllowanceId)]),
  );
  await deps.cache.changed(...deleted.keys.map((row) => row.keyHash));
  await deps.teams.changed(rows.map((row) => row.teamId));
  const gone = new Set(deleted.teams.map((row) => row.teamId));
  return { teams: views.filter((team) => gone.has(team.teamId)), deletedKeyHashes: deleted.keys.map((row) => row.keyHash) };
}

const sameMember = (a: TeamMember, b: TeamMember) =>
  (a.user_id !== undefined && a.user_id === b.user_id) || (a.user_email !== undefined && a.user_email === b.user_email);

/** A team as a change left it (none: it does not exist), after telling every replica. */
async function changedTeam(deps: AdminDeps, teamId: string, row: TeamRow | undefined): Promise<{ team: Team }> {
  if (!row) throw teamNotFound(teamId);
  await deps.teams.changed([row.teamId]);
  return { team: await teamView(deps, row) };
}

const changeMembers = async (deps: AdminDeps, teamId: string, change: (members: TeamMember[], stamp: number) => TeamMember[], alongside?: (tx: Db, row: TeamRow) => Promise<void>) =>
  changedTeam(deps, teamId, await deps.teamStore.changeMembers(requireTeamId(teamId), (members, stamp) => change(members as TeamMember[], stamp), alongside));

function memberError(message: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param: "member" });
}

/** litellm_settings.default_internal_user_params.available_teams: the teams any user may join by itself. */
const availableTeams = (deps: AdminDeps): readonly string[] | undefined => deps.config.litellm_settings.default_internal_user_params?.available_teams;

const hasUser = (deps: AdminDeps, caller: Caller) => caller.userId !== "" && deps.users.get(caller.userId) !== undefined;

/** A user adding only itself, as a member without limits of its own, to a team any user may join. */
function joinsByItself(deps: AdminDeps, caller: Caller, teamId: string, added: readonly TeamMember[]): boolean {
  const itself = (m: TeamMember) => m.user_id === caller.userId && m.user_email === undefined && m.role === "user" && MEMBER_LIMITS.every((f) => m[f] === undefined);
  return (availableTeams(deps)?.includes(teamId) ?? false) && hasUser(deps, caller) && added.every(itself);
}

/**
 * The available teams (joinsByItself) the caller's user is not in, as
 * LiteLLM's /team/available lists them.
 */
export async function listAvailableTeams(deps: AdminDeps, _req: unknown, caller: Caller): Promise<{ teams: Team[] }> {
  const available = availableTeams(deps);
  if (!available) {
    throw gatewayError("No teams are available to join: litellm_settings.default_internal_user_params.available_teams lists none", Code.InvalidArgument, {
      type: "invalid_request_error",
    });
  }
  if (!hasUser(deps, caller)) throw gatewayError("User not found: only a user's key may join teams", Code.NotFound, { type: "not_found_error" });
  const rows = (await deps.teamStore.all()).filter((row) => available.includes(row.teamId) && memberRole(deps, caller.userId, row.teamId) === undefined);
  return { teams: await teamViews(deps, rows) };
}

/**
 * Adds members; those already in the team (same user_id or user_email) stay
 * as they are, and adding only such is a 400, as in LiteLLM. A team's admins
 * add anyone; a user may add itself, as a member, to an available team. The
 * members' users are made when missing (asUsers) and come back with the team.
 */
export async function addTeamMembers(deps: AdminDeps, req: AddTeamMembersRequest, caller: Caller): Promise<{ team: Team; updatedUsers: ListedUser[]; memberSpend: Entry<number>[] }> {
  const asked = teamMembers(req.membersJson, "member");
  if (joinsByItself(deps, caller, req.teamId, asked)) requireWriter(caller);
  else requireTeamAdmin(deps, caller, req.teamId);
  if (asked.length === 0) throw memberError("member is required");
  await existing(deps, req.teamId);
  const { members: added, made } = await asUsers(deps, asked);
  try {
    const { team } = await changeMembers(deps, req.teamId, (members, stamp) => {
      const fresh = added.filter((a, i) => !members.some((m) => sameMember(m, a)) && !added.slice(0, i).some((b) => sameMember(b, a)));
      if (fresh.length === 0) throw memberError(`already in team ${req.teamId}: ${asked.map(memberName).join(", ")}`);
      return [...members, ...fresh.map((m) => joined(m, stamp))];
    });
    const [updatedUsers, memberSpend] = await Promise.all([
      listedUsersById(deps, [...new Set(added.map((m) => m.user_id!))]),
      existing(deps, req.teamId).then((row) => spendOfMembers(deps, toTeamRecord(row).members)),
    ]);
    return { team, updatedUsers, memberSpend };
  } finally {
    if (made) await deps.users.changed(added.map((m) => m.user_id));
  }
}

const memberName = (m: TeamMember) => m.user_id ?? m.user_email ?? "";

/** The member a call names by user_id or user_email. */
function named(userId: string, userEmail: string): TeamMember {
  if (userId === "" && userEmail === "") {
    throw gatewayError("user_id or user_email is required", Code.InvalidArgument, { type: "invalid_request_error", param: "user_id" });
  }
  return { role: "user", ...(userId !== "" && { user_id: userId }), ...(userEmail !== "" && { user_email: userEmail }) };
}

/** Removes a member, and what it spent of its limits in the team: added again, it starts afresh. */
export async function removeTeamMember(deps: AdminDeps, req: RemoveTeamMemberRequest, caller: Caller): Promise<{ team: Team }> {
  requireTeamAdmin(deps, caller, req.teamId);
  const gone = named(req.userId, req.userEmail);
  const removed: TeamMember[] = [];
  // Forgotten with the removal, not after: added again, the member would otherwise find what it spent.
  const forget = (tx: Db, team: TeamRow) => deps.allowances.in(tx).forget(removed.flatMap((m) => (m.user_id === undefined ? [] : [memberAllowanceId(team, m.user_id, m)])));
  return changeMembers(
    deps,
    req.teamId,
    (members) => {
      const kept = members.filter((m) => !sameMember(m, gone));
      if (kept.length === members.length) throw memberError(`${memberName(gone)} is not a member of team ${req.teamId}`);
      removed.push(...members.filter((m) => sameMember(m, gone)));
      return kept;
    },
    forget,
  );
}

/** Changes one member's role or limits within the team (LiteLLM's /team/member_update). */
export function updateTeamMember(deps: AdminDeps, req: UpdateTeamMemberRequest, caller: Caller): Promise<{ team: Team }> {
  requireTeamAdmin(deps, caller, req.teamId);
  const who = named(req.userId, req.userEmail);
  if (req.role !== undefined && req.role !== "admin" && req.role !== "user") throw memberError('role must be "admin" or "user"');
  for (const field of req.clear) if (!(MEMBER_LIMITS as readonly string[]).includes(field)) throw memberError(`${field} cannot be cleared`);
  return changeMembers(deps, req.teamId, (members) => {
    const i = members.findIndex((m) => sameMember(m, who));
    if (i < 0) throw memberError(`${memberName(who)} is not a member of team ${req.teamId}`);
    const m: TeamMember = { ...members[i]! };
    if (req.role !== undefined) m.role = req.role as TeamMember["role"];
    if (req.maxBudgetInTeam !== undefined) m.max_budget_in_team = req.maxBudgetInTeam;
    if (req.tpmLimit !== undefined) m.tpm_limit = req.tpmLimit;
    if (req.rpmLimit !== undefined) m.rpm_limit = req.rpmLimit;
    for (const field of req.clear) delete m[field as (typeof MEMBER_LIMITS)[number]];
    if (m.max_budget_in_team !== undefined && !(m.max_budget_in_team >= 0)) throw memberError("max_budget_in_team must be a number of dollars, 0 or more");
    return members.map((x, j) => (j === i ? m : x));
  });
}

/**
 * LiteLLM's /team/model/add and /team/model/delete, for admins and the team's
 * admins. A team without models may use every model, so adding to one keeps
 * that ("all-proxy-models" first, as LiteLLM does), and taking out its last
 * model is refused rather than leaving it every model.
 */
export async function changeTeamModels(deps: AdminDeps, req: ChangeTeamModelsRequest, caller: Caller): Promise<{ team: Team }> {
  requireTeamAdmin(deps, caller, req.teamId, "its models");
  if (req.add.length === 0 && req.remove.length === 0) throw modelsError("models is required");
  if ([...req.add, ...req.remove].some((model) => model === "")) throw modelsError("a model name may not be empty");
  // Read before the change's transaction, which holds the embedded database's one connection.
  const before = await existing(deps, req.teamId);
  const organization = before.organizationId === null ? undefined : await deps.organizationStore.byId(before.organizationId);
  const row = await deps.teamStore.change(before.teamId, async (current) => {
    if (current.organizationId !== before.organizationId) {
      throw gatewayError(`team ${req.teamId} moved to another organization meanwhile; try again`, Code.Aborted, { type: "invalid_request_error", status: 409 });
    }
    if (current.models.length === 0 && req.add.length === 0) throw modelsError(`team ${req.teamId} has no models to take out (without any, it may use every model)`);
    const start = current.models.length === 0 ? [ALL_PROXY_MODELS] : current.models;
    const models = [...new Set([...start, ...req.add])].filter((model) => !req.remove.includes(model));
    if (models.length === 0) {
      throw modelsError(`taking out every model of team ${req.teamId} would let it use every model (no models means no restriction); block the team (/team/block) to stop its keys`);
    }
    const patch: TeamPatch = { models };
    await checkTeamOrganization(deps, patch, current, async () => organization);
    return patch;
  });
  return changedTeam(deps, req.teamId, row);
}

function modelsError(message: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param: "models" });
}
