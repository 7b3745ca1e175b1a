import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { gatewayError, hashKey, type Db } from "@gateway/common";
import type {
  CreateUserRequest,
  CreateUserResponse,
  DeleteUsersRequest,
  GetUserRequest,
  GetUserResponse,
  ListUsersRequest,
  ListUsersResponse,
  UpdateUserRequest,
  User,
} from "@gateway/proto/keys/v1/keys_pb.js";
import type { AllowanceStore } from "../allowance-store.js";
import type { NewKeyRow } from "../key-store.js";
import { changeMembersIn } from "../team-store.js";
import { keyName, newKey } from "../key-token.js";
import { joined } from "../member-generation.js";
import { membersOf, organizationMemberAllowanceId } from "../organization-record.js";
import { memberAllowanceId, type TeamMember } from "../team-record.js";
import { userAllowanceId, userLimits, type UserRow } from "../user-record.js";
import type { DeletedUsers } from "../user-store.js";
import { carrySpend } from "./carry-spend.js";
import { checkKeyTeam, uniquely, type AdminDeps } from "./context.js";
import { checkKeyOrganization, inOrganization } from "./organization-rules.js";
import { membershipsOf } from "./organizations.js";
import { settingsPatch, userSettingsPatch } from "./settings.js";
import { teamViews } from "./teams.js";
import { withUserDefaults } from "./user-defaults.js";
import { listedUsers, userView } from "./user-views.js";
import { keyView, keyViews } from "./views.js";

// /user/list's pages, as LiteLLM's: 25 by default, at most 100.
const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 100;

function userNotFound(what: string): Error {
  return gatewayError(`user not found: ${what}`, Code.NotFound, { type: "not_found_error", param: "user_id" });
}

/** A taken user_id or user_email, as LiteLLM answers it: 409. */
function taken(message: string, param: string): Error {
  return gatewayError(message, Code.AlreadyExists, { type: "invalid_request_error", status: 409, param });
}

/** Makes a user, puts it in the teams named and, when asked, makes its first key (LiteLLM's /user/new). */
export async function createUser(deps: AdminDeps, req: CreateUserRequest): Promise<CreateUserResponse> {
  const userId = req.userId === "" ? randomUUID() : req.userId;
  const patch = userSettingsPatch(req.settings);
  withUserDefaults(deps, patch);
  if (await deps.userStore.byId(userId)) throw taken(`User with id ${userId} already exists`, "user_id");
  if (patch.userEmail && (await deps.userStore.byEmail(patch.userEmail))) throw taken(`User with email ${patch.userEmail} already exists`, "user_email");
  for (const teamId of req.teams) {
    if (!(await deps.teamStore.byId(teamId))) throw gatewayError(`team not found: ${teamId}`, Code.InvalidArgument, { type: "invalid_request_error", param: "teams" });
  }
  let key: { value: string; row: NewKeyRow } | undefined;
  if (req.createKey) {
    const keyPatch = { models: patch.models, ...settingsPatch(req.keySettings), userId };
    await checkKeyTeam(deps, keyPatch);
    await checkKeyOrganization(deps, keyPatch);
    const value = newKey();
    key = { value, row: { id: randomUUID(), keyHash: hashKey(value), keyName: keyName(value), ...keyPatch } };
  }
  const joinTeams = async (tx: Db) => {
    for (const teamId of req.teams) {
      const member: TeamMember = { role: req.adminOfTeams.includes(teamId) ? "admin" : "user", user_id: userId };
      await changeMembersIn(tx, teamId, (members, stamp) => ((members as TeamMember[]).some((m) => m.user_id === userId) ? members : [...members, joined(member, stamp)]));
    }
  };
  const made = await uniquely("that user_id, user_email or key_alias", () => inOrganization(key?.row.organizationId, () => deps.userStore.insert({ userId, ...patch }, key?.row, joinTeams)), 409);
  await deps.teams.changed(req.teams);
  await deps.users.changed([made.user.userId]);
  if (made.key) await deps.cache.changed(made.key.keyHash);
  return {
    $typeName: "gateway.keys.v1.CreateUserResponse",
    user: await userView(deps, made.user),
    key: key?.value ?? "",
    keyInfo: made.key && (await keyView(deps, made.key)),
  };
}

async function findUser(deps: AdminDeps, userId: string, userEmail: string): Promise<UserRow> {
  if (userId === "" && userEmail === "") throw gatewayError("user_id or user_email is required", Code.InvalidArgument, { type: "invalid_request_error", param: "user_id" });
  const row = userId !== "" ? await deps.userStore.byId(userId) : await deps.userStore.byEmail(userEmail);
  if (!row) throw userNotFound(userId || userEmail);
  return row;
}

export async function updateUser(deps: AdminDeps, req: UpdateUserRequest): Promise<{ user: User }> {
  const current = await findUser(deps, req.userId, req.userEmail);
  const carry = (tx: Db, row: UserRow) => carrySpend(deps.allowances.in(tx), userLimits(current), userLimits(row), req.spendBefore);
  const row = await uniquely("that user_email", () => deps.userStore.update(current.userId, userSettingsPatch(req.settings), carry), 409);
  if (!row) throw userNotFound(current.userId);
  await deps.users.changed([row.userId]);
  return { user: await userView(deps, row) };
}

/** A user with its keys and teams; `caller` (a virtual key's user_id) may read only itself. */
export async function getUser(deps: AdminDeps, req: GetUserRequest, caller: string | undefined): Promise<Omit<GetUserResponse, "$typeName">> {
  const userId = req.userId || caller || "";
  if (caller !== undefined && userId !== caller) {
    throw gatewayError("You are not allowed to access this user's info", Code.PermissionDenied, { type: "permission_error", param: "user_id" });
  }
  const row = await findUser(deps, userId, "");
  const [user, keys, teams, organizationMemberships] = await Promise.all([
    userView(deps, row),
    deps.userStore.keysOf(row.userId).then((rows) => keyViews(deps, rows)),
    deps.userStore.teamsOf(row.userId).then((rows) => teamViews(deps, rows)),
    membershipsOf(deps, row.userId),
  ]);
  return { user, keys, teams, organizationMemberships };
}

export async function listUsers(deps: AdminDeps, req: ListUsersRequest): Promise<Omit<ListUsersResponse, "$typeName">> {
  const size = Math.min(req.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const page = Math.max(1, req.page);
  const { rows, keys, total } = await deps.userStore.list(
    { userIds: req.userIds, userRole: req.userRole, userEmail: req.userEmail, teamId: req.teamId },
    (page - 1) * size,
    size,
  );
  return { users: await listedUsers(deps, rows, keys), total };
}

/** Forgets the allowances of deleted users: their keys' (with those of the keys' models), their own, and theirs as members of the teams and organizations they were in. */
async function forgetSpentBy(allowances: AllowanceStore, deleted: DeletedUsers): Promise<void> {
  const gone = new Set(deleted.users.map((row) => row.userId));
  await allowances.forgetHolders([...deleted.keys.map((row) => row.id), ...deleted.users.map(userAllowanceId)]);
  await allowances.forget([
    ...deleted.teams.flatMap((team) =>
      ((team.membersWithRoles ?? []) as TeamMember[]).flatMap((m) => (m.user_id !== undefined && gone.has(m.user_id) ? [memberAllowanceId(team, m.user_id, m)] : [])),
    ),
    ...deleted.organizations.flatMap((organization) =>
      membersOf(organization)
        .filter((m) => gone.has(m.user_id))
        .map((m) => organizationMemberAllowanceId(organization, m.user_id, m)),
    ),
  ]);
}

/** Deletes the users with their keys and team and organization memberships; every user named must exist, or nothing is deleted. */
export async function deleteUsers(deps: AdminDeps, req: DeleteUsersRequest): Promise<{ deletedUserIds: string[]; deletedKeyHashes: string[] }> {
  if (req.userIds.length === 0) throw gatewayError("user_ids is required", Code.InvalidArgument, { type: "invalid_request_error", param: "user_ids" });
  for (const userId of req.userIds) await findUser(deps, userId, "");
  // Forgotten with the users, not after: the same user made again and put
  // back in a team or organization would otherwise find what it spent there.
  const deleted = await deps.userStore.delete(req.userIds, (tx, deleted) => forgetSpentBy(deps.allowances.in(tx), deleted));
  await deps.cache.changed(...deleted.keys.map((row) => row.keyHash));
  await deps.users.changed(req.userIds);
  await deps.teams.changed(deleted.teams.map((row) => row.teamId));
  await deps.organizations.changed(deleted.organizations.map((row) => row.organizationId));
  return { deletedUserIds: deleted.users.map((row) => row.userId), deletedKeyHashes: deleted.keys.map((row) => row.keyHash) };
}
