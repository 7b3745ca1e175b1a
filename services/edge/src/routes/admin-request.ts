import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type CallOptions } from "@connectrpc/connect";
import { checkStorable, entryMap, gatewayError, MAX_LIMIT_COUNT } from "@gateway/common";
import type { ModelBudgetEntry, ModelBudgetsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "../context.js";
import { apiKeyOf, asMasterKey, readJsonObject } from "../http.js";

// What LiteLLM's management routes (/key/*, /team/*) read from their bodies,
// as calls to the keys service's management RPCs. The caller's key rides
// along: the keys service itself checks that it may make the call.

export type Json = Record<string, unknown>;
const ADMIN_BODY_LIMIT = 1024 * 1024;
// The accounting service's KeySpend takes at most this many ids of each kind a call.
const MAX_SPEND_IDS = 1000;

export function bad(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

export function callOptions(ctx: RequestContext): CallOptions {
  return { headers: { authorization: `Bearer ${apiKeyOf(ctx)}` } };
}

/**
 * A key or team changed through this edge: its kept Authorize answers go
 * before the change is confirmed, so the caller's next request here sees it
 * (other edges hear of it from the keys service's watch stream).
 */
export function keysChanged(ctx: RequestContext): void {
  ctx.options.authCache?.clear();
}

/** A management request's JSON object, as sent and parsed, checked to be storable as it is (checkStorable). */
export async function adminJson(ctx: RequestContext): Promise<{ raw: Buffer; body: Json }> {
  const read = await readJsonObject(ctx.req, ADMIN_BODY_LIMIT);
  checkStorable(read.body);
  return read;
}

export async function body(ctx: RequestContext): Promise<Json> {
  return (await adminJson(ctx)).body;
}

/**
 * The body of a route that reads a model call's content without storing it
 * (token counts, cost estimates): taken up to the model routes' size limit,
 * so whatever a chat request may carry can be counted too.
 */
export async function callContentBody(ctx: RequestContext): Promise<Json> {
  return (await readJsonObject(ctx.req, ctx.options.maxBodyBytes)).body;
}

// LiteLLM's bulk updates take at most this many entries a call.
const MAX_BULK_ENTRIES = 500;

/** One entry of a bulk update: what its update gave, or why it failed. */
export type BulkOutcome<T> = { entry: Json; updated: T } | { entry: Json; failure: string };

/**
 * LiteLLM's bulk updates (/key/bulk_update, /user/bulk_update): the body's
 * `field`, a non-empty list of objects (`shape` says what each holds), each
 * updated in turn; one that fails does not stop the others.
 */
export async function eachUpdated<T>(ctx: RequestContext, field: string, shape: string, update: (entry: Json) => Promise<T>): Promise<BulkOutcome<T>[]> {
  const entries = (await body(ctx))[field];
  if (!Array.isArray(entries) || entries.length === 0 || !entries.every(isObject)) throw bad(`${field} must be a non-empty list of ${shape}`, field);
  if (entries.length > MAX_BULK_ENTRIES) throw bad(`${field} may hold at most ${MAX_BULK_ENTRIES} entries`, field);
  const outcomes: BulkOutcome<T>[] = [];
  for (const entry of entries) {
    try {
      outcomes.push({ entry, updated: await update(entry) });
    } catch (err) {
      outcomes.push({ entry, failure: ConnectError.from(err).rawMessage });
    }
  }
  return outcomes;
}

/** A value that must be a non-empty string (an id the route names). */
export function required(value: unknown, param: string): string {
  if (typeof value !== "string" || value === "") throw bad(`${param} is required`, param);
  return value;
}

/**
 * A read made before a change, to learn what the change starts from: no such
 * thing, or a caller who may not see it, reads as undefined (the change
 * itself then says so).
 */
export function unlessMissing<T>(read: Promise<T>): Promise<T | undefined> {
  return read.catch((err: unknown) => {
    if ([Code.PermissionDenied, Code.NotFound].includes(ConnectError.from(err).code)) return undefined;
    throw err;
  });
}

const SPEND_OF = { keyHashes: "spend", teamIds: "teamSpend", endUsers: "endUserSpend" } as const;

/**
 * What the ledger holds for each key hash, team id or end user, asked with
 * the edge's master key once the keys service has let the caller see them,
 * in as many calls as KeySpend needs. A Map, since a team or an end user may
 * be named "__proto__": a plain object gave that one Object.prototype as its
 * spend.
 */
export async function ledgerSpend(ctx: RequestContext, of: keyof typeof SPEND_OF, ids: string[]): Promise<Map<string, number>> {
  const asks = [];
  for (let i = 0; i < ids.length; i += MAX_SPEND_IDS) {
    asks.push(ctx.options.peers.accounting.keySpend({ [of]: ids.slice(i, i + MAX_SPEND_IDS) }, asMasterKey(ctx)));
  }
  return entryMap((await Promise.all(asks)).flatMap((answer) => answer[SPEND_OF[of]]));
}

/** A field of the body that `check` accepts; absent or null: undefined. */
export function optional<T>(b: Json, field: string, check: (v: unknown) => v is T, what: string): T | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (!check(v)) throw bad(`${field} must be ${what}`, field);
  return v;
}

export const isString = (v: unknown): v is string => typeof v === "string";
export const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
// Limits are kept as Postgres integers. The bound also keeps any count well
// inside the uint32 fields of the services' messages, whose wire (split)
// would keep only a bigger number's low 32 bits.
export const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_LIMIT_COUNT;
export const COUNT = `a whole number up to ${MAX_LIMIT_COUNT}`;
export const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
export const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";
/** A model alias map (LiteLLM's key aliases, team model_aliases): names to model groups. */
export const isAliasMap = (v: unknown): v is Record<string, string> => isObject(v) && Object.values(v).every(isString);
export const ALIAS_MAP = 'an object of model names to model groups, such as {"gpt-4o": "smart-model"}';

/** LiteLLM's member (/team/member_add, /organization/member_add): one object or a list of them, as a list. */
export function memberList(b: Json): unknown[] {
  const member = b["member"];
  if (!isObject(member) && !Array.isArray(member)) throw bad('member must be {"role", "user_id" or "user_email"}, or a list of them', "member");
  return Array.isArray(member) ? member : [member];
}

/** The member a route names by user_id or user_email ("" for the one not given). */
export interface MemberName {
  userId: string;
  userEmail: string;
}

export function memberNamed(b: Json): MemberName {
  return { userId: optional(b, "user_id", isString, "a string") ?? "", userEmail: optional(b, "user_email", isString, "a string") ?? "" };
}

/** That member among a team's or an organization's members. */
export function findMember<T extends { user_id?: string; user_email?: string }>(members: T[], { userId, userEmail }: MemberName): T | undefined {
  return members.find((m) => (userId !== "" && m.user_id === userId) || (userEmail !== "" && m.user_email === userEmail));
}

/** A team's or key's organization_id: null, as "", takes it out of its organization. */
export const organizationField = (b: Json): string | undefined =>
  b["organization_id"] === null ? "" : optional(b, "organization_id", isString, "an organization's id (/organization/new)");

/** Whether a spend shown before a change is needed: the change may move the budget to another window. */
export const changesBudgetWindow = (b: Json) => "max_budget" in b || "budget_duration" in b;

/** The settings keys and teams share (models, budget, rate limits, metadata), as the RPCs' settings fields. */
export function sharedSettings(b: Json) {
  const s: {
    models?: { models: string[] };
    maxBudget?: number;
    budgetDuration?: string;
    rpmLimit?: number;
    tpmLimit?: number;
    maxParallelRequests?: number;
    metadataJson?: string;
  } = {};
  const models = optional(b, "models", isStrings, "a list of model names");
  if (models !== undefined) s.models = { models };
  const maxBudget = optional(b, "max_budget", isNumber, "a number of dollars");
  if (maxBudget !== undefined) s.maxBudget = maxBudget;
  const budgetDuration = optional(b, "budget_duration", isString, 'a duration such as "30d"');
  if (budgetDuration !== undefined) s.budgetDuration = budgetDuration;
  const rpm = optional(b, "rpm_limit", isCount, COUNT);
  if (rpm !== undefined) s.rpmLimit = rpm;
  const tpm = optional(b, "tpm_limit", isCount, COUNT);
  if (tpm !== undefined) s.tpmLimit = tpm;
  const parallel = optional(b, "max_parallel_requests", isCount, COUNT);
  if (parallel !== undefined) s.maxParallelRequests = parallel;
  const metadata = optional(b, "metadata", isObject, "an object");
  if (metadata !== undefined) s.metadataJson = JSON.stringify(metadata);
  return s;
}

// 0 or absent: not set.
export const iso = (ms: bigint | undefined) => (ms ? new Date(Number(ms)).toISOString() : null);

interface ModelBudgetField {
  budget_limit: number;
  time_period?: string | null;
}
/** LiteLLM's model_max_budget: model groups to a budget and how often it resets. */
const isModelBudgets = (v: unknown): v is Record<string, ModelBudgetField> =>
  isObject(v) && Object.values(v).every((b) => isObject(b) && isNumber(b["budget_limit"]) && (b["time_period"] == null || isString(b["time_period"])));
const MODEL_BUDGETS = 'an object of model groups to budgets, such as {"smart-model": {"budget_limit": 5, "time_period": "1d"}}';

/** A key's or team's model_max_budget from a request body, as the keys service takes it; undefined when absent. */
export function modelBudgets(b: Json): MessageInitShape<typeof ModelBudgetsSchema> | undefined {
  const budgets = optional(b, "model_max_budget", isModelBudgets, MODEL_BUDGETS);
  if (budgets === undefined) return undefined;
  return { budgets: Object.entries(budgets).map(([model, v]) => ({ key: model, value: { budgetLimit: v.budget_limit, timePeriod: v.time_period ?? "" } })) };
}

/** A model_max_budget as LiteLLM shows it. */
export function modelBudgetsJson(budgets: ModelBudgetEntry[]) {
  return Object.fromEntries(budgets.map(({ key: model, value: v }) => [model, { budget_limit: v?.budgetLimit ?? 0, time_period: v?.timePeriod || null }]));
}

/** LiteLLM's model_rpm_limit / model_tpm_limit: model groups to counts a minute. */
const isModelCounts = (v: unknown): v is Record<string, number> => isObject(v) && Object.values(v).every(isCount);
const MODEL_COUNTS = 'an object of model groups to whole numbers a minute, such as {"smart-model": 10}';

/** A key's or team's per-model rpm or tpm: the body's field, else where LiteLLM's earlier versions took it, in metadata. */
export function modelCounts(b: Json, field: "model_rpm_limit" | "model_tpm_limit"): Record<string, number> | undefined {
  const own = optional(b, field, isModelCounts, MODEL_COUNTS);
  if (own !== undefined || b[field] === null || !isObject(b["metadata"])) return own;
  const legacy = b["metadata"][field];
  if (legacy === undefined) return undefined;
  if (!isModelCounts(legacy)) throw bad(`metadata.${field} must be ${MODEL_COUNTS}`, `metadata.${field}`);
  return legacy;
}
