import { Code, type CallOptions } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { RequestContext } from "../context.js";
import { apiKeyOf, readJsonObject } from "../http.js";

// What LiteLLM's management routes (/key/*, /team/*) read from their bodies,
// as calls to the keys service's management RPCs. The caller's key rides
// along: the keys service itself checks that it may make the call.

export type Json = Record<string, unknown>;
const ADMIN_BODY_LIMIT = 1024 * 1024;

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

export async function body(ctx: RequestContext): Promise<Json> {
  return (await readJsonObject(ctx.req, ADMIN_BODY_LIMIT)).body;
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
export const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
export const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

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
  const rpm = optional(b, "rpm_limit", isCount, "a whole number");
  if (rpm !== undefined) s.rpmLimit = rpm;
  const tpm = optional(b, "tpm_limit", isCount, "a whole number");
  if (tpm !== undefined) s.tpmLimit = tpm;
  const parallel = optional(b, "max_parallel_requests", isCount, "a whole number");
  if (parallel !== undefined) s.maxParallelRequests = parallel;
  const metadata = optional(b, "metadata", isObject, "an object");
  if (metadata !== undefined) s.metadataJson = JSON.stringify(metadata);
  return s;
}

// 0 or absent: not set.
export const iso = (ms: bigint | undefined) => (ms ? new Date(Number(ms)).toISOString() : null);
