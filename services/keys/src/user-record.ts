import { create } from "@bufbuild/protobuf";
import { UserSchema, type User } from "@gateway/proto/keys/v1/keys_pb.js";
import type { users } from "./db/schema.js";
import { holdsLimits, limitFields, limitHolder, type LimitHolder } from "./limit-holder.js";
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
  /** LiteLLM's user_role: what the user's keys may do on the management API. */
  role: string;
  /** The models the user's keys may be given by the user itself; empty: any. */
  models: readonly string[];
}

/** Every user, on every keys replica. */
export type UserCache = TableCache<UserRow, UserRecord>;

/** Live subject on which a user change is pushed to every keys replica. */
export const USERS_CHANGED_SUBJECT = "keys.users_changed";

/** As teamAllowanceId: apart from keys', and for each user made under the same id. */
export const userAllowanceId = (row: Pick<UserRow, "userId" | "createdAt">) => `user/${row.userId}@${row.createdAt.getTime()}`;

/** All of a user's limits, as its keys outside a team are held to them. */
export function userLimits(row: UserRow): UserLimits {
  return limitHolder(row.userId, userAllowanceId(row), "user", row);
}

export function toUserRecord(row: UserRow): UserRecord {
  const personal = userLimits(row);
  const inTeam: UserLimits = { ...personal, maxBudget: null, maxParallelRequests: null };
  return {
    personal: holdsLimits(personal) ? personal : null,
    inTeam: holdsLimits(inTeam) ? inTeam : null,
    role: row.userRole,
    models: row.models,
  };
}

/** A user as management calls show it; `spend` is its budget period's, for a user with a budget. */
export function toUserProto(row: UserRow, now = Date.now(), spend?: number): User {
  return create(UserSchema, {
    userId: row.userId,
    userAlias: row.userAlias ?? "",
    userEmail: row.userEmail ?? "",
    userRole: row.userRole,
    models: row.models,
    ...limitFields(row, userLimits(row), now),
    metadataJson: JSON.stringify(row.metadata ?? {}),
    createdAtMs: BigInt(row.createdAt.getTime()),
    updatedAtMs: BigInt(row.updatedAt.getTime()),
    ...(spend !== undefined && { spend }),
  });
}
