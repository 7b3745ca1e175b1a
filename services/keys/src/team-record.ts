import { create } from "@bufbuild/protobuf";
import { objectEntries } from "@gateway/common";
import { TeamSchema, type Team } from "@gateway/proto/keys/v1/keys_pb.js";
import type { teams } from "./db/schema.js";
import { aliasMap, modelBudgetsProto, modelLimits, type KeyRecord } from "./key-record.js";
import { limitFields, limitHolder, type LimitHolder } from "./limit-holder.js";
import { memberPart, unstamped, type Stamped } from "./member-generation.js";
import { metadataTags } from "./metadata-tags.js";
import { modelsOf, type ModelAccess } from "./model-access.js";
import type { TableCache } from "./table-cache.js";

export type TeamRow = typeof teams.$inferSelect;

/** LiteLLM's team member: a role and who (a user_id, a user_email, or both), and its limits within the team; and when it joined (kept out of answers). */
export interface TeamMember extends Stamped {
  role: "admin" | "user";
  user_id?: string;
  user_email?: string;
  /** Dollars the member's keys in the team may spend, for good. */
  max_budget_in_team?: number;
  tpm_limit?: number;
  rpm_limit?: number;
}

/** A member's limits within the team, as members_with_roles holds them. */
export const MEMBER_LIMITS = ["max_budget_in_team", "tpm_limit", "rpm_limit"] as const;

/** Every team, on every keys replica. */
export type TeamCache = TableCache<TeamRow, TeamRecord>;

/** Live subject on which a team change is pushed to every keys replica. */
export const TEAMS_CHANGED_SUBJECT = "keys.teams_changed";

/** A team as the hot path needs it: parsed once when loaded, read per request. */
export interface TeamRecord extends LimitHolder {
  what: "team";
  /** null: every model. */
  models: ReadonlySet<string> | null;
  modelList: readonly string[];
  blocked: boolean;
  /** metadata.tags: request tags every request of the team's keys carries. */
  tags: readonly string[];
  /** The limits of members that have any within the team (their own or the team's defaults), by user_id. */
  members: ReadonlyMap<string, LimitHolder>;
  /** Each member's role in the team, by user_id (members named by user_email alone are not here). */
  roles: ReadonlyMap<string, TeamMember["role"]>;
  /** LiteLLM's model_aliases: a model name its keys' requests use → the model group they get; null: none. */
  modelAliases: ReadonlyMap<string, string> | null;
  /** The organization it belongs to; "" for none. */
  organizationId: string;
  /** team_alias; "" for none. */
  alias: string;
  /** The team's limits for a model group over all its keys (model_rpm_limit, model_tpm_limit); null: none. */
  modelLimits: ReadonlyMap<string, LimitHolder> | null;
  /** team_member_key_duration: how long a key made in the team for a user lives unless it says; "" for as long as it says. */
  memberKeyDuration: string;
}

/**
 * Whose allowances a team's are: beside keys' (whose ids are UUIDs) under a
 * prefix, and apart for each team made under the same id (a replica may
 * still hold a deleted team's share in memory when its id is used again).
 */
export const teamAllowanceId = (row: Pick<TeamRow, "teamId" | "createdAt">) => `team/${row.teamId}@${row.createdAt.getTime()}`;

/**
 * A member's allowances: apart from the team's own, and, by when the
 * membership began, from a member removed and added again (removal forgets
 * the removed membership's).
 */
export const memberAllowanceId = (row: Pick<TeamRow, "teamId" | "createdAt">, userId: string, membership: Stamped) => `${teamAllowanceId(row)}${memberPart(userId, membership)}`;

/**
 * The limits each member named by user_id holds within the team (keys
 * without a user_id have no member's): its membership's own, else the
 * team's defaults for members (team_member_*). A member's budget runs for
 * good, or per the team's team_member_budget_duration.
 */
function memberLimits(row: TeamRow): ReadonlyMap<string, LimitHolder> {
  const members = new Map<string, LimitHolder>();
  for (const m of (row.membersWithRoles ?? []) as TeamMember[]) {
    if (m.user_id === undefined) continue;
    const limits = {
      maxBudget: m.max_budget_in_team ?? row.memberBudget,
      budgetDuration: row.memberBudgetDuration,
      rpmLimit: m.rpm_limit ?? row.memberRpmLimit,
      tpmLimit: m.tpm_limit ?? row.memberTpmLimit,
      maxParallelRequests: null,
      createdAt: row.createdAt,
    };
    if (limits.maxBudget === null && limits.rpmLimit === null && limits.tpmLimit === null) continue;
    members.set(m.user_id, limitHolder(`${m.user_id} in Team=${row.teamId}`, memberAllowanceId(row, m.user_id, m), "team member", limits));
  }
  return members;
}

export function toTeamRecord(row: TeamRow): TeamRecord {
  return {
    ...limitHolder(row.teamId, teamAllowanceId(row), "team", row),
    ...modelsOf(row.models),
    blocked: row.blocked,
    tags: metadataTags(row.metadata),
    members: memberLimits(row),
    roles: new Map(((row.membersWithRoles ?? []) as TeamMember[]).flatMap((m) => (m.user_id === undefined ? [] : [[m.user_id, m.role] as const]))),
    modelAliases: aliasMap(row.modelAliases),
    organizationId: row.organizationId ?? "",
    alias: row.teamAlias ?? "",
    modelLimits: modelLimits(row, teamAllowanceId(row), "team's model"),
    memberKeyDuration: row.memberKeyDuration,
  };
}

// The models a key of a team may use, worked out once per key and team record (and access groups).
const allowed = new WeakMap<KeyRecord, { team: TeamRecord; generation: number; models: readonly string[] }>();

/**
 * What a key of this team may use: the model groups both allow, access
 * groups expanded (empty: every model). Keys are made with models inside
 * their team's; should a team's later change leave none in common, the
 * key's own list stands here (every call is still refused by the team's
 * check).
 */
export function allowedModels(key: KeyRecord, team: TeamRecord, access: ModelAccess): readonly string[] {
  if (team.models === null) return access.expand(key.modelList);
  if (key.models === null) return access.expand(team.modelList);
  const known = allowed.get(key);
  if (known?.team === team && known.generation === access.generation) return known.models;
  const teamModels = access.expand(team.modelList);
  const common = access.expand(key.modelList).filter((m) => teamModels.includes(m));
  const models = common.length > 0 ? common : access.expand(key.modelList);
  allowed.set(key, { team, generation: access.generation, models });
  return models;
}

/** A team as management calls show it; `spend` is its budget period's, for a team with a budget. */
export function toTeamProto(row: TeamRow, now = Date.now(), spend?: number): Team {
  return create(TeamSchema, {
    teamId: row.teamId,
    teamAlias: row.teamAlias ?? "",
    models: row.models,
    ...limitFields(row, toTeamRecord(row), now),
    metadataJson: JSON.stringify(row.metadata ?? {}),
    membersWithRolesJson: JSON.stringify(unstamped((row.membersWithRoles ?? []) as TeamMember[])),
    blocked: row.blocked,
    createdAtMs: BigInt(row.createdAt.getTime()),
    updatedAtMs: BigInt(row.updatedAt.getTime()),
    ...(spend !== undefined && { spend }),
    modelAliases: objectEntries(row.modelAliases),
    organizationId: row.organizationId ?? "",
    modelRpmLimit: objectEntries(row.modelRpmLimit),
    modelTpmLimit: objectEntries(row.modelTpmLimit),
    modelMaxBudget: modelBudgetsProto(row.modelMaxBudget),
    ...(row.memberBudget !== null && { teamMemberBudget: row.memberBudget }),
    teamMemberBudgetDuration: row.memberBudgetDuration,
    ...(row.memberRpmLimit !== null && { teamMemberRpmLimit: row.memberRpmLimit }),
    ...(row.memberTpmLimit !== null && { teamMemberTpmLimit: row.memberTpmLimit }),
    teamMemberKeyDuration: row.memberKeyDuration,
  });
}
