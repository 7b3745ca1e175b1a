import { create } from "@bufbuild/protobuf";
import { VirtualKeySchema, type VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import type { virtualKeys } from "./db/schema.js";
import { parseDuration, periodAt, type Duration } from "./duration.js";

export type KeyRow = typeof virtualKeys.$inferSelect;

/** What holds limits of its own (a key, a team), as Limits reads them. */
export interface LimitHolder {
  id: string;
  /** Whose allowances these are: a key's id, or a team's (teamAllowanceId). */
  allowanceId: string;
  /** How refusals name it. */
  what: "key" | "team" | "user" | "customer";
  maxBudget: number | null;
  budgetDuration: Duration | null;
  createdAtMs: number;
  rpmLimit: number | null;
  tpmLimit: number | null;
  maxParallelRequests: number | null;
}

/** A virtual key as the hot path needs it: parsed once when loaded, read per request. */
export interface KeyRecord extends LimitHolder {
  what: "key";
  hash: string;
  alias: string;
  /** null: every model. */
  models: ReadonlySet<string> | null;
  /** The same as a list, as every Authorize answer carries it; empty: every model. */
  modelList: readonly string[];
  expiresAtMs: number | null;
  blocked: boolean;
  userId: string;
  teamId: string;
}

export function toRecord(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    allowanceId: row.id,
    what: "key",
    hash: row.keyHash,
    alias: row.keyAlias ?? "",
    models: row.models.length > 0 ? new Set(row.models) : null,
    modelList: row.models,
    maxBudget: row.maxBudget,
    budgetDuration: row.budgetDuration ? parseDuration(row.budgetDuration, "budget_duration") : null,
    createdAtMs: row.createdAt.getTime(),
    expiresAtMs: row.expiresAt?.getTime() ?? null,
    rpmLimit: row.rpmLimit,
    tpmLimit: row.tpmLimit,
    maxParallelRequests: row.maxParallelRequests,
    blocked: row.blocked,
    userId: row.userId,
    teamId: row.teamId,
  };
}

/** The budget period `now` falls in: periods of budget_duration run from the key's (or team's) creation; without one, a single period for good. */
export function budgetPeriod(holder: Pick<LimitHolder, "budgetDuration" | "createdAtMs">, now: number): { start: number; end: number } {
  return holder.budgetDuration === null ? { start: 0, end: Infinity } : periodAt(holder.createdAtMs, holder.budgetDuration, now);
}

/** A key as management calls show it; `spend` is its budget period's, for a key with a budget. */
export function toProto(row: KeyRow, now = Date.now(), spend?: number): VirtualKey {
  const record = toRecord(row);
  return create(VirtualKeySchema, {
    keyHash: row.keyHash,
    keyName: row.keyName,
    keyAlias: row.keyAlias ?? "",
    models: row.models,
    ...(row.maxBudget !== null && { maxBudget: row.maxBudget }),
    budgetDuration: row.budgetDuration,
    ...(record.budgetDuration !== null && { budgetResetAtMs: BigInt(budgetPeriod(record, now).end) }),
    ...(row.expiresAt && { expiresAtMs: BigInt(row.expiresAt.getTime()) }),
    ...(row.rpmLimit !== null && { rpmLimit: row.rpmLimit }),
    ...(row.tpmLimit !== null && { tpmLimit: row.tpmLimit }),
    ...(row.maxParallelRequests !== null && { maxParallelRequests: row.maxParallelRequests }),
    metadataJson: JSON.stringify(row.metadata ?? {}),
    userId: row.userId,
    teamId: row.teamId,
    blocked: row.blocked,
    createdAtMs: BigInt(row.createdAt.getTime()),
    updatedAtMs: BigInt(row.updatedAt.getTime()),
    ...(spend !== undefined && { spend }),
    previousKeyHashes: row.previousKeyHashes,
  });
}
