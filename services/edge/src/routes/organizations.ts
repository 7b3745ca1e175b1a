import type { MessageInitShape } from "@bufbuild/protobuf";
import { entryMap } from "@gateway/common";
import type { GetOrganizationResponse, Organization, OrganizationSettingsSchema, Team } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "../context.js";
import { queryOf, sendJson } from "../http.js";
import {
  bad,
  body,
  callOptions,
  changesBudgetWindow,
  findMember,
  iso,
  isBoolean,
  isNumber,
  isString,
  isStrings,
  keysChanged,
  ledgerSpend,
  memberList,
  memberNamed,
  optional,
  required,
  sharedSettings,
  unlessMissing,
  type Json,
  type MemberName,
} from "./admin-request.js";
import { spendOfTeams, teamInfo } from "./teams.js";
import { listedUserInfos } from "./user-info.js";

// LiteLLM's organization management routes (/organization/*): teams under
// one organization's block, models, budget and rate limits.

const CLEARABLE = ["max_budget", "budget_duration", "rpm_limit", "tpm_limit", "max_parallel_requests", "budget_id"];

/** LiteLLM's organization fields from a request body. */
function settings(b: Json): MessageInitShape<typeof OrganizationSettingsSchema> {
  const s: MessageInitShape<typeof OrganizationSettingsSchema> = sharedSettings(b);
  const alias = optional(b, "organization_alias", isString, "a string");
  if (alias !== undefined) s.organizationAlias = alias;
  const blocked = optional(b, "blocked", isBoolean, "true or false");
  if (blocked !== undefined) s.blocked = blocked;
  // LiteLLM's budget_id: a budget (/budget/new) whose limits the organization takes for those it leaves unset.
  const budgetId = optional(b, "budget_id", isString, "a budget's id (/budget/new)");
  if (budgetId !== undefined) s.budgetId = budgetId;
  // null takes a limit away.
  s.clear = CLEARABLE.filter((field) => b[field] === null);
  return s;
}

const organizationId = (value: unknown) => required(value, "organization_id");

/** A member as members_json holds it. */
export interface Member {
  user_id: string;
  user_email?: string;
  user_role?: string;
  max_budget_in_organization?: number;
}

const membersOf = (o: Organization) => JSON.parse(o.membersJson || "[]") as Member[];

/** A member in LiteLLM's organization membership shape, with what it has spent in the organization where known. */
export function membership(organizationId: string, m: Member, memberSpend: ReadonlyMap<string, number>) {
  return {
    user_id: m.user_id || null,
    user_email: m.user_email ?? null,
    organization_id: organizationId,
    user_role: m.user_role ?? null,
    spend: memberSpend.get(m.user_id) ?? 0,
    budget_id: null,
    litellm_budget_table: m.max_budget_in_organization !== undefined ? { max_budget: m.max_budget_in_organization } : null,
  };
}

/** An organization in LiteLLM's shape, with its members and teams. */
function organizationInfo(o: Organization, spend: number, teams: ReturnType<typeof teamInfo>[], memberSpend: ReadonlyMap<string, number>) {
  return {
    organization_id: o.organizationId,
    organization_alias: o.organizationAlias,
    budget_id: o.budgetId || null,
    metadata: JSON.parse(o.metadataJson || "{}") as unknown,
    models: o.models,
    spend,
    model_spend: {},
    blocked: o.blocked,
    created_at: iso(o.createdAtMs),
    updated_at: iso(o.updatedAtMs),
    created_by: null,
    updated_by: null,
    litellm_budget_table: {
      budget_id: o.budgetId || null,
      max_budget: o.maxBudget ?? null,
      budget_duration: o.budgetDuration || null,
      budget_reset_at: iso(o.budgetResetAtMs),
      rpm_limit: o.rpmLimit ?? null,
      tpm_limit: o.tpmLimit ?? null,
      max_parallel_requests: o.maxParallelRequests ?? null,
    },
    members: membersOf(o).map((m) => membership(o.organizationId, m, memberSpend)),
    teams,
  };
}

/**
 * What each organization has spent: for one with a budget, its budget
 * period's, as the keys service holds the budget to it; otherwise, in the
 * ledger, its teams' and that of the keys that name it outside them.
 */
export async function spendOfOrganizations(ctx: RequestContext, organizations: Organization[]): Promise<number[]> {
  const unbudgeted = organizations.filter((o) => o.spend === undefined);
  const [teams, keys] = await Promise.all([
    ledgerSpend(ctx, "teamIds", unbudgeted.flatMap((o) => o.teamIds)),
    ledgerSpend(ctx, "keyHashes", unbudgeted.flatMap((o) => o.keyHashes)),
  ]);
  const sum = (ids: string[], spend: Map<string, number>) => ids.reduce((total, id) => total + (spend.get(id) ?? 0), 0);
  return organizations.map((o) => o.spend ?? sum(o.teamIds, teams) + sum(o.keyHashes, keys));
}

/** Organizations as shown, each with those of `teams` that belong to it. */
async function shown(ctx: RequestContext, organizations: Organization[], teams: Team[], memberSpend: ReadonlyMap<string, number> = new Map()) {
  const [spend, teamSpend] = await Promise.all([spendOfOrganizations(ctx, organizations), spendOfTeams(ctx, teams)]);
  const views = teams.map((t, i) => ({ organizationId: t.organizationId, view: teamInfo(t, teamSpend[i] ?? 0) }));
  return organizations.map((o, i) => organizationInfo(o, spend[i] ?? 0, views.filter((t) => t.organizationId === o.organizationId).map((t) => t.view), memberSpend));
}

/** One organization as GetOrganization answers it: with its teams and its members' spend. */
async function shownWhole(ctx: RequestContext, { organization, teams, memberSpend }: GetOrganizationResponse) {
  const [view] = await shown(ctx, [organization!], teams, entryMap(memberSpend));
  return view!;
}

// Each organization named is a call to the keys service: ten thousand held it
// (and every other management call) for seconds. As /v2/key/info's keys.
const MAX_INFO_IDS = 100;

const getOrganization = (ctx: RequestContext, id: string) => ctx.options.peers.keys.getOrganization({ organizationId: id }, callOptions(ctx));

export async function newOrganization(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = optional(b, "organization_id", isString, "a string") ?? "";
  // LiteLLM requires an alias for a new organization.
  const change = { ...settings(b), organizationAlias: required(b["organization_alias"], "organization_alias") };
  const { organization } = await ctx.options.peers.keys.createOrganization({ organizationId: id, settings: change }, callOptions(ctx));
  // A new organization has no teams yet.
  const [view] = await shown(ctx, [organization!], []);
  sendJson(ctx.res, 200, view);
}

/** What an organization shows as spent before a change that may move it to another budget window. */
async function spendBefore(ctx: RequestContext, b: Json, id: string): Promise<number | undefined> {
  if (!changesBudgetWindow(b)) return undefined;
  const found = await unlessMissing(getOrganization(ctx, id));
  return found && (await spendOfOrganizations(ctx, [found.organization!]))[0];
}

/** The organization changed, as read again after: the change answers it without its teams. */
export async function updateOrganization(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = organizationId(b["organization_id"]);
  await ctx.options.peers.keys.updateOrganization({ organizationId: id, settings: settings(b), spendBefore: await spendBefore(ctx, b, id) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, await shownWhole(ctx, await getOrganization(ctx, id)));
}

/** GET /organization/info?organization_id=: the organization with its members and teams. */
export async function organizationInfoRoute(ctx: RequestContext): Promise<void> {
  const id = organizationId(queryOf(ctx.req).get("organization_id"));
  sendJson(ctx.res, 200, await shownWhole(ctx, await getOrganization(ctx, id)));
}

/**
 * POST /organization/info {"organizations": [...]} (LiteLLM's older form):
 * those named that exist (and the caller may read), in order, as LiteLLM
 * finds them all at once.
 */
export async function organizationsInfo(ctx: RequestContext): Promise<void> {
  const ids = optional(await body(ctx), "organizations", isStrings, "a list of organization ids") ?? [];
  if (ids.length === 0) throw bad("organizations is required", "organizations");
  if (ids.length > MAX_INFO_IDS) throw bad(`organizations may name at most ${MAX_INFO_IDS} organizations`, "organizations");
  const found = await Promise.all(ids.map((id) => unlessMissing(getOrganization(ctx, id))));
  sendJson(ctx.res, 200, await Promise.all(found.flatMap((o) => (o === undefined ? [] : [shownWhole(ctx, o)]))));
}

/** GET /organization/list; LiteLLM's `org_id` (exact) and `org_alias` (contained, any case) narrow it. */
export async function listOrganizations(ctx: RequestContext): Promise<void> {
  const q = queryOf(ctx.req);
  const id = q.get("org_id");
  const alias = q.get("org_alias")?.toLowerCase();
  const listed = await ctx.options.peers.keys.listOrganizations({}, callOptions(ctx));
  const organizations = listed.organizations.filter((o) => (id === null || o.organizationId === id) && (alias === undefined || o.organizationAlias.toLowerCase().includes(alias)));
  sendJson(ctx.res, 200, await shown(ctx, organizations, listed.teams));
}

/** The organizations deleted, as they were; their teams and the teams' keys went with them. */
export async function deleteOrganizations(ctx: RequestContext): Promise<void> {
  const ids = optional(await body(ctx), "organization_ids", isStrings, "a list of organization ids") ?? [];
  if (ids.length === 0) throw bad("organization_ids is required", "organization_ids");
  const { organizations } = await ctx.options.peers.keys.deleteOrganizations({ organizationIds: ids }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, await shown(ctx, organizations, []));
}

/** LiteLLM's member is one object or a list of them; one not yet a user is made an internal user. */
export async function addOrganizationMember(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = organizationId(b["organization_id"]);
  const { organization, userIds, updatedUsers } = await ctx.options.peers.keys.addOrganizationMembers(
    {
      organizationId: id,
      membersJson: JSON.stringify(memberList(b)),
      // LiteLLM's max_budget_in_organization is each added member's budget in the organization.
      maxBudgetInOrganization: optional(b, "max_budget_in_organization", isNumber, "a number of dollars"),
    },
    callOptions(ctx),
  );
  keysChanged(ctx);
  const members = membersOf(organization!);
  const added = userIds.map((userId) => findMember(members, { userId, userEmail: "" }) ?? { user_id: userId });
  sendJson(ctx.res, 200, {
    organization_id: id,
    updated_users: await listedUserInfos(ctx, updatedUsers),
    // Members just added have spent nothing in the organization.
    updated_organization_memberships: added.map((m) => membership(id, m, new Map())),
  });
}

/** The member named, among `members`; when it is not there, as the request names it. */
function named(members: Member[], who: MemberName): Member {
  return findMember(members, who) ?? { user_id: who.userId, ...(who.userEmail !== "" && { user_email: who.userEmail }) };
}

/** LiteLLM's /organization/member_update: a member's role, or its budget in the organization (null takes it away). */
export async function updateOrganizationMember(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = organizationId(b["organization_id"]);
  const who = memberNamed(b);
  const change = {
    organizationId: id,
    ...who,
    role: optional(b, "role", isString, 'a role such as "org_admin" or "internal_user"'),
    maxBudgetInOrganization: optional(b, "max_budget_in_organization", isNumber, "a number of dollars"),
    clear: b["max_budget_in_organization"] === null ? ["max_budget_in_organization"] : [],
  };
  await ctx.options.peers.keys.updateOrganizationMember(change, callOptions(ctx));
  keysChanged(ctx);
  // Read again for what the member has spent in the organization, which the change does not answer.
  const { organization, memberSpend } = await getOrganization(ctx, id);
  sendJson(ctx.res, 200, membership(id, named(membersOf(organization!), who), entryMap(memberSpend)));
}

/** The member removed, as it was in the organization before. */
export async function deleteOrganizationMember(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const id = organizationId(b["organization_id"]);
  const who = memberNamed(b);
  const before = await unlessMissing(getOrganization(ctx, id));
  await ctx.options.peers.keys.removeOrganizationMember({ organizationId: id, ...who }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, membership(id, named(before ? membersOf(before.organization!) : [], who), entryMap(before?.memberSpend ?? [])));
}
