import { create } from "@bufbuild/protobuf";
import { OrganizationSchema, type Organization } from "@gateway/proto/keys/v1/keys_pb.js";
import type { organizations } from "./db/schema.js";
import { limitFields, limitHolder, type LimitHolder } from "./limit-holder.js";
import { memberPart, unstamped, type Stamped } from "./member-generation.js";
import { modelsOf } from "./model-access.js";
import type { TableCache } from "./table-cache.js";

export type OrganizationRow = typeof organizations.$inferSelect;

/** The roles a member may have in an organization (LiteLLM's, for organizations). */
export const ORGANIZATION_ROLES = ["org_admin", "internal_user", "internal_user_viewer"] as const;

/** A member of an organization, as its members column holds it (when it joined kept out of answers). */
export interface OrganizationMember extends Stamped {
  user_id: string;
  user_email?: string;
  user_role: (typeof ORGANIZATION_ROLES)[number];
  /** Dollars the member's keys in the organization may spend, for good. */
  max_budget_in_organization?: number;
}

/** Every organization, on every keys replica. */
export type OrganizationCache = TableCache<OrganizationRow, OrganizationRecord>;

/** Live subject on which an organization change is pushed to every keys replica. */
export const ORGANIZATIONS_CHANGED_SUBJECT = "keys.organizations_changed";

/** An organization as the hot path needs it: parsed once when loaded, read per request. */
export interface OrganizationRecord extends LimitHolder {
  what: "organization";
  /** null: every model. */
  models: ReadonlySet<string> | null;
  modelList: readonly string[];
  blocked: boolean;
  /** The budgets of members that have one in the organization, by user_id. */
  members: ReadonlyMap<string, LimitHolder>;
  /** Each member's role, by user_id. */
  roles: ReadonlyMap<string, OrganizationMember["user_role"]>;
}

/** As teamAllowanceId: apart from keys', and for each organization made under the same id. */
export const organizationAllowanceId = (row: Pick<OrganizationRow, "organizationId" | "createdAt">) => `organization/${row.organizationId}@${row.createdAt.getTime()}`;

/** As memberAllowanceId: apart from the organization's own, and from a member removed and added again (removal forgets the removed membership's). */
export const organizationMemberAllowanceId = (row: Pick<OrganizationRow, "organizationId" | "createdAt">, userId: string, membership: Stamped) =>
  `${organizationAllowanceId(row)}${memberPart(userId, membership)}`;

export const membersOf = (row: Pick<OrganizationRow, "members">): OrganizationMember[] => (Array.isArray(row.members) ? (row.members as OrganizationMember[]) : []);

function memberBudgets(row: OrganizationRow): ReadonlyMap<string, LimitHolder> {
  const budgets = new Map<string, LimitHolder>();
  for (const m of membersOf(row)) {
    if (m.max_budget_in_organization === undefined) continue;
    const limits = { maxBudget: m.max_budget_in_organization, budgetDuration: "", rpmLimit: null, tpmLimit: null, maxParallelRequests: null, createdAt: row.createdAt };
    budgets.set(m.user_id, limitHolder(`${m.user_id} in Organization=${row.organizationId}`, organizationMemberAllowanceId(row, m.user_id, m), "organization member", limits));
  }
  return budgets;
}

export function toOrganizationRecord(row: OrganizationRow): OrganizationRecord {
  return {
    ...limitHolder(row.organizationId, organizationAllowanceId(row), "organization", row),
    ...modelsOf(row.models),
    blocked: row.blocked,
    members: memberBudgets(row),
    roles: new Map(membersOf(row).map((m) => [m.user_id, m.user_role])),
  };
}

/** What belongs to an organization besides its row: its teams' ids, and the hashes of the keys that name it outside them. */
export interface OrganizationParts {
  teamIds: readonly string[];
  keyHashes: readonly string[];
}

/** An organization as management calls show it; `spend` is its budget period's, for one with a budget. */
export function toOrganizationProto(row: OrganizationRow, parts: OrganizationParts, now = Date.now(), spend?: number): Organization {
  return create(OrganizationSchema, {
    organizationId: row.organizationId,
    organizationAlias: row.organizationAlias,
    models: row.models,
    ...limitFields(row, toOrganizationRecord(row), now),
    metadataJson: JSON.stringify(row.metadata ?? {}),
    membersJson: JSON.stringify(unstamped(membersOf(row))),
    blocked: row.blocked,
    createdAtMs: BigInt(row.createdAt.getTime()),
    updatedAtMs: BigInt(row.updatedAt.getTime()),
    ...(spend !== undefined && { spend }),
    teamIds: [...parts.teamIds],
    budgetId: row.budgetId ?? "",
    keyHashes: [...parts.keyHashes],
  });
}
