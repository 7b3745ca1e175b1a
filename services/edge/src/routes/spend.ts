import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { gatewayError, hashKey } from "@gateway/common";
import { Access } from "@gateway/proto/keys/v1/keys_pb.js";
import { UsageStatus, type UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";
import type { RequestContext } from "../context.js";
import { apiKeyOf, sendJson } from "../http.js";

/** A date filter: "2026-11-25" or any ISO timestamp, as unix ms; 0 when absent. */
function dateParam(ctx: RequestContext, name: string, endOfDay: boolean): number {
  const value = ctx.url.searchParams.get(name);
  if (!value) return 0;
  const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(dayOnly ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(ms)) throw gatewayError(`${name} is not a date: ${value}`, Code.InvalidArgument, { type: "invalid_request_error", param: name });
  return dayOnly && endOfDay ? ms + 86_400_000 - 1 : ms;
}

/** The ledger row in LiteLLM's spend-log shape. */
export function spendLogRow(e: UsageEvent) {
  return {
    request_id: e.requestId,
    call_type: e.callType,
    api_key: e.keyHash,
    key_alias: e.keyAlias || null,
    spend: e.cost,
    total_tokens: e.totalTokens,
    prompt_tokens: e.promptTokens,
    completion_tokens: e.completionTokens,
    startTime: e.startTime ? timestampDate(e.startTime).toISOString() : null,
    endTime: e.endTime ? timestampDate(e.endTime).toISOString() : null,
    model: e.providerModel,
    model_group: e.modelGroup,
    model_id: e.deploymentId,
    custom_llm_provider: e.provider,
    user: e.userId,
    team_id: e.teamId || null,
    status: e.status === UsageStatus.SUCCESS ? "success" : "failure",
    error_type: e.errorType || null,
    latency_ms: e.latencyMs,
    stream: e.stream,
    usage_estimated: e.usageEstimated,
  };
}

/** GET /spend/logs (master key): ledger rows, newest first. */
export async function spendLogs(ctx: RequestContext): Promise<void> {
  const { keys, accounting } = ctx.options.peers;
  await keys.authorize({ apiKey: apiKeyOf(ctx.req), requestId: ctx.requestId, access: Access.MANAGEMENT });
  const q = ctx.url.searchParams;
  // LiteLLM's api_key filter takes the key itself or its hash.
  const apiKey = q.get("api_key") ?? "";
  const keyHash = /^[0-9a-f]{64}$/.test(apiKey) ? apiKey : apiKey ? hashKey(apiKey) : "";
  const { logs } = await accounting.listSpendLogs({
    keyHash,
    requestId: q.get("request_id") ?? "",
    userId: q.get("user_id") ?? "",
    startMs: BigInt(dateParam(ctx, "start_date", false)),
    endMs: BigInt(dateParam(ctx, "end_date", true)),
    limit: Number(q.get("limit") ?? 0) || 0,
    offset: Number(q.get("offset") ?? 0) || 0,
  });
  sendJson(ctx.res, 200, logs.map(spendLogRow));
}
