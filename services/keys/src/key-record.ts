import { create } from "@bufbuild/protobuf";
import { objectEntries, parseDuration, type Entry } from "@gateway/common";
import { ModelBudgetSchema, VirtualKeySchema, type ModelBudget, type VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import type { ModelBudgetColumn, virtualKeys } from "./db/schema.js";
import { holdsLimits, limitFields, limitHolder, type LimitHolder } from "./limit-holder.js";
import { metadataTags } from "./metadata-tags.js";
import { modelsOf } from "./model-access.js";

export type KeyRow = typeof virtualKeys.$inferSelect;

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
  /** The organization it names itself; "" for none (a team's key is held to its team's). */
  organizationId: string;
  /** metadata.tags: request tags every request of the key carries. */
  tags: readonly string[];
  /** The routes the key may call; empty: every route. */
  allowedRoutes: readonly string[];
  /** LiteLLM's aliases: a model name its requests use → the model group they get; null: none. */
  aliases: ReadonlyMap<string, string> | null;
  /** The key's limits for a model group (model_rpm_limit, model_tpm_limit, model_max_budget); null: none. */
  modelLimits: ReadonlyMap<string, LimitHolder> | null;
}

export function toRecord(row: KeyRow): KeyRecord {
  return {
    ...limitHolder(row.id, row.id, "key", row),
    hash: row.keyHash,
    alias: row.keyAlias ?? "",
    ...modelsOf(row.models),
    expiresAtMs: row.expiresAt?.getTime() ?? null,
    blocked: row.blocked,
    userId: row.userId,
    teamId: row.teamId,
    organizationId: row.organizationId ?? "",
    tags: metadataTags(row.metadata),
    allowedRoutes: row.allowedRoutes,
    aliases: aliasMap(row.aliases),
    modelLimits: modelLimits(row, row.id, "key's model"),
  };
}

/** What a key or a team holds for each model group (LiteLLM's model_rpm_limit, model_tpm_limit and model_max_budget). */
export interface ModelLimitColumns {
  createdAt: Date;
  modelRpmLimit: Record<string, number>;
  modelTpmLimit: Record<string, number>;
  modelMaxBudget: Record<string, ModelBudgetColumn>;
}

/**
 * Limits for each model group named, as holders of their own: their
 * allowances and spend are the owner's for that model (under `allowanceId`
 * and the model's name), apart from the owner's own.
 */
export function modelLimits(row: ModelLimitColumns, allowanceId: string, what: "key's model" | "team's model"): ReadonlyMap<string, LimitHolder> | null {
  const budgets = row.modelMaxBudget;
  const models = new Set([...Object.keys(row.modelRpmLimit), ...Object.keys(row.modelTpmLimit), ...Object.keys(budgets)]);
  if (models.size === 0) return null;
  const holders = new Map<string, LimitHolder>();
  // Own properties only: a model named "constructor" or "toString" finds none on a plain object.
  const own = <T>(of: Record<string, T>, model: string): T | null => (Object.hasOwn(of, model) ? of[model]! : null);
  for (const model of models) {
    const budget = own(budgets, model);
    const holder: LimitHolder = {
      id: model,
      allowanceId: `${allowanceId}/model/${model}`,
      what,
      maxBudget: budget?.budget_limit ?? null,
      budgetDuration: budget?.time_period ? parseDuration(budget.time_period, "model_max_budget.time_period") : null,
      createdAtMs: row.createdAt.getTime(),
      rpmLimit: own(row.modelRpmLimit, model),
      tpmLimit: own(row.modelTpmLimit, model),
      maxParallelRequests: null,
    };
    if (holdsLimits(holder)) holders.set(model, holder);
  }
  return holders;
}

/** A model_max_budget column as the proto carries it. */
export function modelBudgetsProto(budgets: Record<string, ModelBudgetColumn>): Entry<ModelBudget>[] {
  return Object.entries(budgets).map(([model, b]) => ({ key: model, value: create(ModelBudgetSchema, { budgetLimit: b.budget_limit, timePeriod: b.time_period }) }));
}

/** An alias column as the hot path reads it: null when it holds none. */
export function aliasMap(aliases: Record<string, string>): ReadonlyMap<string, string> | null {
  const entries = Object.entries(aliases);
  return entries.length === 0 ? null : new Map(entries);
}

/** A key as management calls show it; `spend` is its budget period's, for a key with a budget. */
export function toProto(row: KeyRow, now = Date.now(), spend?: number): VirtualKey {
  return create(VirtualKeySchema, {
    keyHash: row.keyHash,
    keyName: row.keyName,
    keyAlias: row.keyAlias ?? "",
    models: row.models,
    ...limitFields(row, toRecord(row), now),
    ...(row.expiresAt && { expiresAtMs: BigInt(row.expiresAt.getTime()) }),
    metadataJson: JSON.stringify(row.metadata ?? {}),
    userId: row.userId,
    teamId: row.teamId,
    organizationId: row.organizationId ?? "",
    blocked: row.blocked,
    ...(row.softBudget !== null && { softBudget: row.softBudget }),
    spendOffset: row.spendOffset,
    createdAtMs: BigInt(row.createdAt.getTime()),
    updatedAtMs: BigInt(row.updatedAt.getTime()),
    ...(spend !== undefined && { spend }),
    previousKeyHashes: row.previousKeyHashes,
    allowedRoutes: row.allowedRoutes,
    aliases: objectEntries(row.aliases),
    modelRpmLimit: objectEntries(row.modelRpmLimit),
    modelTpmLimit: objectEntries(row.modelTpmLimit),
    modelMaxBudget: modelBudgetsProto(row.modelMaxBudget),
  });
}
