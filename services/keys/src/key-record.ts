import { create } from "@bufbuild/protobuf";
import { VirtualKeySchema, type VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import type { virtualKeys } from "./db/schema.js";
import { parseDuration } from "./duration.js";

export type KeyRow = typeof virtualKeys.$inferSelect;

/** A virtual key as the hot path needs it: parsed once when loaded, read per request. */
export interface KeyRecord {
  id: string;
  hash: string;
  alias: string;
  /** null: every model. */
  models: ReadonlySet<string> | null;
  /** The same as a list, as every Authorize answer carries it; empty: every model. */
  modelList: readonly string[];
  maxBudget: number | null;
  budgetDurationMs: number | null;
  createdAtMs: number;
  expiresAtMs: number | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  maxParallelRequests: number | null;
  blocked: boolean;
  userId: string;
  teamId: string;
}

export function toRecord(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    hash: row.keyHash,
    alias: row.keyAlias ?? "",
    models: row.models.length > 0 ? new Set(row.models) : null,
    modelList: row.models,
    maxBudget: row.maxBudget,
    budgetDurationMs: row.budgetDuration ? parseDuration(row.budgetDuration, "budget_duration") : null,
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

/** Start of the budget period `now` falls in; periods run from the key's creation. */
export function budgetPeriodStart(key: KeyRecord, now: number): number {
  if (key.budgetDurationMs === null) return 0;
  return key.createdAtMs + Math.floor((now - key.createdAtMs) / key.budgetDurationMs) * key.budgetDurationMs;
}

export function toProto(row: KeyRow, now = Date.now()): VirtualKey {
  const record = toRecord(row);
  const resetAt = record.budgetDurationMs === null ? undefined : budgetPeriodStart(record, now) + record.budgetDurationMs;
  return create(VirtualKeySchema, {
    keyHash: row.keyHash,
    keyName: row.keyName,
    keyAlias: row.keyAlias ?? "",
    models: row.models,
    ...(row.maxBudget !== null && { maxBudget: row.maxBudget }),
    budgetDuration: row.budgetDuration,
    ...(resetAt !== undefined && { budgetResetAtMs: BigInt(resetAt) }),
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
  });
}
