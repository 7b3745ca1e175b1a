import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { gatewayError, readsAll, type Db, type Entry } from "@gateway/common";
import {
  Access,
  OrganizationMembershipSchema,
  type AddOrganizationMembersRequest,
  type CreateOrganizationRequest,
  type DeleteOrganizationsRequest,
  type GetOrganizationRequest,
  type ListedUser,
  type ListOrganizationsRequest,
  type Organization,
  type OrganizationMembership,
  type RemoveOrganizationMemberRequest,
  type Team,
  type UpdateOrganizationMemberRequest,
  type UpdateOrganizationRequest,
} from "@gateway/proto/keys/v1/keys_pb.js";
import {
  membersOf,
  organizationAllowanceId,
  organizationMemberAllowanceId,
  ORGANIZATION_ROLES,
  toOrganizationProto,
  toOrganizationRecord,
  type OrganizationMember,
  type OrganizationRow,
} from "../organization-record.js";
import { joined } from "../member-generation.js";
import { requireRole } from "../roles.js";
import { teamAllowanceId, type TeamRow } from "../team-record.js";
import { forbidden, organizationRole, requireOrganizationAdmin, type Caller } from "./access.js";
import { withKnownBudget } from "./budgets.js";
import { carrySpend } from "./carry-spend.js";
import { asUsers } from "./member-users.js";
import { uniquely, type AdminDeps } from "./context.js";
import { jsonSetting, organizationSettingsPatch } from "./settings.js";
import { teamViews } from "./teams.js";
import { listedUsersById } from "./user-views.js";
import { spendOfMembers, viewsWithSpend } from "./views.js";

function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

/** LiteLLM's words for an organization it does not know. */
const notFound = (id: string) => gatewayError(`Organization not found for organization_id=${id}`, Code.NotFound, { type: "not_found_error", param: "organization_id" });

async function existing(deps: AdminDeps, organizationId: string): Promise<OrganizationRow> {
  if (organizationId === "") throw invalid("organization_id is required", "organization_id");
  const row = await deps.organizationStore.byId(organizationId);
  if (!row) throw notFound(organizationId);
  return row;
}

/**
 * Organizations as management calls show them, with their teams' ids and
 * the keys that name them outside those teams; one with a budget carries its
 * budget period's spend.
 */
async function organizationViews(deps: AdminDeps, rows: OrganizationRow[], teams: TeamRow[]): Promise<Organization[]> {
  const keys = await deps.organizationStore.keysOf(rows.map((row) => row.organizationId));
  const parts = (row: OrganizationRow) => {
    const teamIds = teams.filter((t) => t.organizationId === row.organizationId).map((t) => t.teamId);
    const own = keys.filter((k) => k.organizationId === row.organizationId && !teamIds.includes(k.teamId));
    return { teamIds, keyHashes: own.flatMap((k) => [k.keyHash, ...k.previousKeyHashes]) };
  };
  return viewsWithSpend(deps, rows, toOrganizationRecord, (row, now, spend) => toOrganizationProto(row, parts(row), now, spend));
}

async function organizationView(deps: AdminDeps, row: OrganizationRow): Promise<Organization> {
  const [view] = await organizationViews(deps, [row], await deps.organizationStore.teamsOf([row.organizationId]));
  return view as Organization;
}

/** LiteLLM's /organization/new: an organization_alias is required. */
export async function createOrganization(deps: AdminDeps, req: CreateOrganizationRequest): Promise<{ organization: Organization }> {
  const organizationId = req.organizationId === "" ? randomUUID() : req.organizationId;
  const patch = organizationSettingsPatch(req.settings);
  const alias = patch.organizationAlias;
  if (alias === undefined) throw invalid("organization_alias is required", "organization_alias");
  const row = await uniquely(`organization_id ${organizationId}`, () =>
    withKnownBudget(patch.budgetId, () => deps.organizationStore.insert({ ...patch, organizationId, organizationAlias: alias })),
  );
  await deps.organizations.changed([row.organizationId]);
  return { organization: await organizationView(deps, row) };
}

export async function updateOrganization(deps: AdminDeps, req: UpdateOrganizationRequest): Promise<{ organization: Organization }> {
  const current = await existing(deps, req.organizationId);
  const patch = organizationSettingsPatch(req.settings);
  const carry = (tx: Db, row: OrganizationRow) => carrySpend(deps.allowances.in(tx), toOrganizationRecord(current), toOrganizationRecord(row), req.spendBefore);
  const row = await withKnownBudget(patch.budgetId, () => deps.organizationStore.update(current.organizationId, patch, carry));
  if (!row) throw notFound(req.organizationId);
  await deps.organizations.changed([row.organizationId]);
  return { organization: await organizationView(deps, row) };
}

/** Whoever reads everything may read any organization; other keys those their user is a member of. */
export async function getOrganization(deps: AdminDeps, req: GetOrganizationRequest, caller: Caller): Promise<{ organization: Organization; teams: Team[]; memberSpend: Entry<number>[] }> {
  if (!readsAll(caller.userRole) && organizationRole(deps, caller.userId, req.organizationId) === undefined) {
    throw forbidden("You are not allowed to access this organization's info: you are not a member of it");
  }
  const row = await existing(deps, req.organizationId);
  const teams = await deps.organizationStore.teamsOf([row.organizationId]);
  const [[organization], teamList, memberSpend] = await Promise.all([organizationViews(deps, [row], teams), teamViews(deps, teams), spendOfMembers(deps, toOrganizationRecord(row).members)]);
  return { organization: organization as Organization, teams: teamList, memberSpend };
}

/**
 * Every organization, for whoever reads everything; below that, those the
 * caller's user is a member of (as LiteLLM lists them). A budget_id narrows
 * either to the organizations on that budget.
 */
export async function listOrganizations(deps: AdminDeps, req: ListOrganizationsRequest, caller: Caller): Promise<{ organizations: Organization[]; teams: Team[] }> {
  if (!readsAll(caller.userRole) && caller.userId === "") requireRole(caller.userRole, Access.VIEW);
  const all = await deps.organizationStore.all(req.budgetId);
  const rows = readsAll(caller.userRole) ? all : all.filter((row) => membersOf(row).some((m) => m.user_id === caller.userId));
  const teams = await deps.organizationStore.teamsOf(rows.map((row) => row.organizationId));
  const [organizations, teamList] = await Promise.all([organizationViews(deps, rows, teams), teamViews(deps, teams)]);
  return { organizations, teams: teamList };
}

/** Deletes the organizations with their teams and the teams' keys, and the limits' state of all of them. */
export async function deleteOrganizations(deps: AdminDeps, req: DeleteOrganizationsRequest): Promise<{ organizations: Organization[]; deletedTeamIds: string[]; deletedKeyHashes: string[] }> {
  if (req.organizationIds.length === 0) throw invalid("organization_ids is required", "organization_ids");
  const rows = await Promise.all([...new Set(req.organizationIds)].map((id) => existing(deps, id)));
  const views = await organizationViews(deps, rows, await deps.organizationStore.teamsOf(rows.map((row) => row.organizationId)));
  const deleted = await deps.organizationStore.delete(
    rows.map((row) => row.organizationId),
    (tx, deleted) =>
      deps.allowances.in(tx).forgetHolders([...deleted.keys.map((row) => row.id), ...deleted.teams.map(teamAllowanceId), ...deleted.organizations.map(organizationAllowanceId)]),
  );
  await deps.cache.changed(...deleted.keys.map((row) => row.keyHash));
  await deps.teams.changed(deleted.teams.map((row) => row.teamId));
  await deps.organizations.changed(rows.map((row) => row.organizationId));
  const gone = new Set(deleted.organizations.map((row) => row.organizationId));
  return {
    organizations: views.filter((o) => gone.has(o.organizationId)),
    deletedTeamIds: deleted.teams.map((row) => row.teamId),
    deletedKeyHashes: deleted.keys.map((row) => row.keyHash),
  };
}

const ROLE_LIST = ORGANIZATION_ROLES.join(", ");
const isRole = (v: unknown): v is OrganizationMember["user_role"] => (ORGANIZATION_ROLES as readonly unknown[]).includes(v);

/** A member as a request names it, before it is matched to a user. */
interface NamedMember {
  role: OrganizationMember["user_role"];
  user_id?: string;
  user_email?: string;
}

function isNamedMember(v: unknown): v is NamedMember {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const m = v as Record<string, unknown>;
  const text = (field: string) => m[field] === undefined || m[field] === null || (typeof m[field] === "string" && m[field] !== "");
  return isRole(m.role) && text("user_id") && text("user_email") && (typeof m.user_id === "string" || typeof m.user_email === "string");
}

function memberBudget(value: number | undefined): number | undefined {
  if (value !== undefined && !(value >= 0 && Number.isFinite(value))) throw invalid("max_budget_in_organization must be a number of dollars, 0 or more", "max_budget_in_organization");
  return value;
}

/** LiteLLM's /organization/member_add: members already in the organization are refused. */
export async function addOrganizationMembers(
  deps: AdminDeps,
  req: AddOrganizationMembersRequest,
  caller: Caller,
): Promise<{ organization: Organization; userIds: string[]; updatedUsers: ListedUser[] }> {
  requireOrganizationAdmin(deps, caller, req.organizationId);
  const named = jsonSetting(req.membersJson, (v): v is NamedMember[] => Array.isArray(v) && v.every(isNamedMember), "member", `a member or list of members, each {"role": one of ${ROLE_LIST}, "user_id" and/or "user_email"}`);
  if (named.length === 0) throw invalid("member is required", "member");
  const budget = memberBudget(req.maxBudgetInOrganization);
  await existing(deps, req.organizationId);
  const users = await asUsers(deps, named);
  if (users.made) await deps.users.changed(users.members.map((m) => m.user_id));
  const added: OrganizationMember[] = users.members.map((m) => ({
    user_id: m.user_id,
    ...(m.user_email !== undefined && { user_email: m.user_email }),
    user_role: m.role,
    ...(budget !== undefined && { max_budget_in_organization: budget }),
  }));
  const row = await changeMembers(deps, req.organizationId, (members, stamp) => {
    const already = added.filter((a, i) => members.some((m) => m.user_id === a.user_id) || added.slice(0, i).some((b) => b.user_id === a.user_id));
    if (already.length > 0) throw invalid(`already a member of organization ${req.organizationId}: ${already.map((a) => a.user_id).join(", ")}`, "member");
    return [...members, ...added.map((m) => joined(m, stamp))];
  });
  const userIds = added.map((a) => a.user_id);
  return { organization: await organizationView(deps, row), userIds, updatedUsers: await listedUsersById(deps, [...new Set(userIds)]) };
}

async function changeMembers(
  deps: AdminDeps,
  organizationId: string,
  change: (members: OrganizationMember[], stamp: number) => OrganizationMember[],
  alongside?: (tx: Db, row: OrganizationRow) => Promise<void>,
): Promise<OrganizationRow> {
  if (organizationId === "") throw invalid("organization_id is required", "organization_id");
  const row = await deps.organizationStore.changeMembers(organizationId, change, alongside);
  if (!row) throw notFound(organizationId);
  await deps.organizations.changed([row.organizationId]);
  return row;
}

/** The index of the member a call names by user_id or user_email, or a 404. */
function memberIndex(members: OrganizationMember[], req: { organizationId: string; userId: string; userEmail: string }): number {
  if (req.userId === "" && req.userEmail === "") throw invalid("user_id or user_email is required", "user_id");
  const i = members.findIndex((m) => (req.userId !== "" ? m.user_id === req.userId : m.user_email === req.userEmail));
  if (i < 0) throw gatewayError(`Member not found in organization ${req.organizationId}: ${req.userId || req.userEmail}`, Code.NotFound, { type: "not_found_error", param: "user_id" });
  return i;
}

/** Changes one member's role or budget in the organization (LiteLLM's /organization/member_update). */
export async function updateOrganizationMember(deps: AdminDeps, req: UpdateOrganizationMemberRequest, caller: Caller): Promise<{ organization: Organization }> {
  requireOrganizationAdmin(deps, caller, req.organizationId);
  if (req.role !== undefined && !isRole(req.role)) throw invalid(`role must be one of ${ROLE_LIST}`, "role");
  const budget = memberBudget(req.maxBudgetInOrganization);
  for (const field of req.clear) if (field !== "max_budget_in_organization") throw invalid(`${field} cannot be cleared`, field);
  const row = await changeMembers(deps, req.organizationId, (members) => {
    const i = memberIndex(members, req);
    const m: OrganizationMember = { ...members[i]! };
    if (req.role !== undefined) m.user_role = req.role as OrganizationMember["user_role"];
    if (budget !== undefined) m.max_budget_in_organization = budget;
    if (req.clear.length > 0) delete m.max_budget_in_organization;
    return members.map((x, j) => (j === i ? m : x));
  });
  return { organization: await organizationView(deps, row) };
}

/** Removes a member, and what it spent of its budget there: added again, it starts afresh. */
export async function removeOrganizationMember(deps: AdminDeps, req: RemoveOrganizationMemberRequest, caller: Caller): Promise<{ organization: Organization }> {
  requireOrganizationAdmin(deps, caller, req.organizationId);
  const removed: OrganizationMember[] = [];
  // Forgotten with the removal, not after: added again, the member would otherwise find what it spent.
  const forget = (tx: Db, row: OrganizationRow) => deps.allowances.in(tx).forget(removed.map((m) => organizationMemberAllowanceId(row, m.user_id, m)));
  const row = await changeMembers(
    deps,
    req.organizationId,
    (members) => {
      const i = memberIndex(members, req);
      removed.push(members[i]!);
      return members.filter((_, j) => j !== i);
    },
    forget,
  );
  return { organization: await organizationView(deps, row) };
}

/** The user's places in organizations, each with what it has spent of its budget there. */
export async function membershipsOf(deps: AdminDeps, userId: string): Promise<OrganizationMembership[]> {
  const rows = (await deps.organizationStore.all()).filter((row) => membersOf(row).some((m) => m.user_id === userId));
  return Promise.all(
    rows.map(async (row) => {
      const member = membersOf(row).find((m) => m.user_id === userId)!;
      const budget = toOrganizationRecord(row).members.get(userId);
      const spend = budget && (await spendOfMembers(deps, new Map([[userId, budget]])))[0]?.value;
      return create(OrganizationMembershipSchema, {
        organizationId: row.organizationId,
        userRole: member.user_role,
        ...(member.max_budget_in_organization !== undefined && { maxBudgetInOrganization: member.max_budget_in_organization }),
        ...(spend !== undefined && { spend }),
      });
    }),
  );
}
