import type { ListedUser, User } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "../context.js";
import { iso, ledgerSpend } from "./admin-request.js";

/** A user in LiteLLM's response shape. */
export function userInfo(u: User, spend: number) {
  return {
    user_id: u.userId,
    user_alias: u.userAlias || null,
    user_email: u.userEmail || null,
    user_role: u.userRole,
    models: u.models,
    max_budget: u.maxBudget ?? null,
    budget_duration: u.budgetDuration || null,
    budget_reset_at: iso(u.budgetResetAtMs),
    rpm_limit: u.rpmLimit ?? null,
    tpm_limit: u.tpmLimit ?? null,
    max_parallel_requests: u.maxParallelRequests ?? null,
    metadata: JSON.parse(u.metadataJson || "{}") as unknown,
    spend,
    created_at: iso(u.createdAtMs),
    updated_at: iso(u.updatedAtMs),
  };
}

/**
 * What a user has spent: with a budget, its budget period's, as the keys
 * service holds the budget to it; otherwise the ledger's over every hash
 * the user's keys have had.
 */
export async function userSpend(ctx: RequestContext, users: { user: User; keyHashes: string[] }[]): Promise<number[]> {
  const ledger = await ledgerSpend(ctx, "keyHashes", users.filter((u) => u.user.spend === undefined).flatMap((u) => u.keyHashes));
  return users.map((u) => u.user.spend ?? u.keyHashes.reduce((sum, hash) => sum + (ledger.get(hash) ?? 0), 0));
}

/** Users as lists show them, each with its spend and how many keys it has. */
export async function listedUserInfos(ctx: RequestContext, users: ListedUser[]) {
  const spend = await userSpend(ctx, users.map((u) => ({ user: u.user!, keyHashes: u.keyHashes })));
  return users.map((u, i) => ({ ...userInfo(u.user!, spend[i] ?? 0), key_count: u.keyCount }));
}
