import { create } from "@bufbuild/protobuf";
import { ListedUserSchema, type ListedUser, type User } from "@gateway/proto/keys/v1/keys_pb.js";
import { toUserProto, userLimits, type UserRow } from "../user-record.js";
import type { AdminDeps } from "./context.js";
import { viewsWithSpend } from "./views.js";

/** Users as management calls show them; a user with a budget carries its budget period's spend. */
export const userViews = (deps: AdminDeps, rows: UserRow[]): Promise<User[]> => viewsWithSpend(deps, rows, userLimits, toUserProto);

export async function userView(deps: AdminDeps, row: UserRow): Promise<User> {
  const [view] = await userViews(deps, [row]);
  return view as User;
}

/** Users as lists show them: each with every hash its keys have had (for the ledger's spend of a user without a budget) and how many keys it has. */
export async function listedUsers(deps: AdminDeps, rows: UserRow[], keys: { hashes: string[]; count: number }[]): Promise<ListedUser[]> {
  const views = await userViews(deps, rows);
  return views.map((user, i) => create(ListedUserSchema, { user, keyHashes: keys[i]?.hashes ?? [], keyCount: keys[i]?.count ?? 0 }));
}

/** The users with these ids, as lists show them. */
export async function listedUsersById(deps: AdminDeps, userIds: string[]): Promise<ListedUser[]> {
  const { rows, keys } = await deps.userStore.list({ userIds, userRole: "", userEmail: "", teamId: "" }, 0, userIds.length);
  return listedUsers(deps, rows, keys);
}
