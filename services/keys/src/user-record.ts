import { create } from "@bufbuild/protobuf";
import { UserSchema, type User } from "@gateway/proto/keys/v1/keys_pb.js";
import type { users } from "./db/schema.js";
import { parseDuration } from "./duration.js";
import { budgetPeriod, type LimitHolder } from "./key-record.js";
import type { TableCache } from "./table-cache.js";

export type UserRow = typeof users.$inferSelect;

/** A user's limits as Limits reads them. */
export interface UserLimits extends LimitHolder {
  what: "user";
}

/**
 * A user as the hot path needs it: the limits its keys outside a team are
 * held to (budget, rate limits, parallel requests), and those its keys in a
 * team are (rate limits only: there the team's budget stands in for the
 * user's, as in LiteLLM); null where the user sets none.
 */
export interface UserRecord {
  personal: UserLimits | null;
  inTeam: UserLimits | null;
}

/** Every user, on every keys replica. */
export type UserCache = TableCache<UserRow, UserRecord>;

/** Live subject on which a user change is pushed to every keys replica. */
export const USERS_CHANGED_SUBJECT = "keys.users_changed";

/** As teamAllowanceId: apart from keys', and for each user made under the same id. */
export const userAllowanceId = (row: Pick<UserRow, "userId" | "createdAt">) => `user/${row.userId}@${row.createdAt.getTime()}`;

/** All of a user's limits, as its keys outside a team are held to them. */
export function userLimits(row: UserRow): UserLimits {
  return {
    id: row.userId,
    allowanceId: userAllowanceId(row),
    what: "user",
    maxBudget: row.maxBudget,
    budgetDuration: row.budgetDuration ? parseDuration(row.budgetDuration, "budget_duration") : null,
    createdAtMs: row.createdAt.getTime(),
    rpmLimit: row.rpmLimit,
    tpmLimit: row.tpmLimit,
    maxParallelRequests: row.maxParallelRequests,
  };
}

export function toUserRecord(row: UserRow): UserRecord {
  const personal = userLimits(row);
  const inTeam: UserLimits = { ...personal, maxBudget: null, maxParallelRequests: null };
  return {
    personal: personal.maxBudget !== null || personal.rpmLimit !== null || personal.tpmLimit !== null || personal.maxParallelRequests !== null ? personal : null,
    inTeam: inTeam.rpmLimit !== null || inTeam.tpmLimit !== null ? inTeam : null,
  };
}

/** A user as management calls show it; `spend` is its budget period's, for a user with a budget. */
export function toUserProto(row: UserRow, now = Date.now(), spend?: number): User {
  const limits = userLimits(row);
  return create(UserSchema, {
    userId: row.userId,
    userAlias: row.userAlias ?? "",
    userEmail: row.userEmail ?? "",
    userRole: row.userRole,
    models: row.models,
    ...(row.maxBudget !== null && { maxBudget: row.maxBudget }),
    budgetDuration: row.budgetDuration,
    ...(limits.budgetDuration !== null && { budgetResetAtMs: BigInt(budgetPeriod(limits, now).end) }),
    ...(row.rpmLimit !== null && { rpmLimit: row.rpmLimit }),
    ...(row.tpmLimit !== null && { tpmLimit: row.tpmLimit }),
    ...(row.maxParallelRequests !== null && { maxParallelRequests: row.maxParallelRequests }),
    metadataJson: JSON.stringify(row.metadata ?? {}),
    createdAtMs: BigInt(row.createdAt.getTime()),
    updatedAtMs: BigInt(row.updatedAt.getTime()),
    ...(spend !== undefined && { spend }),
  });
}
