import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { gatewayError, hashKey } from "@gateway/common";
import { UsageStatus, type UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";
import type { RequestContext } from "../context.js";
import { DAY_MS } from "../days.js";
import { asMasterKey, asViewer, intParam, queryOf, sendJson, spendReader } from "../http.js";
import { spendLogSummary } from "./spend-log-summary.js";

const MAX_PAGE_SIZE = 1000;
// The RPC's offset is a uint32.
const MAX_OFFSET = 2 ** 32 - 1000;
// The last page whose offset fits, whatever the page size.
const MAX_PAGE = Math.floor(MAX_OFFSET / MAX_PAGE_SIZE);

// The ledger is asked with ISO dates, whose years have four digits.
const LAST_DATE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A date filter: "2026-11-25" or any ISO timestamp, as unix ms; 0 when absent. */
function dateParam(ctx: RequestContext, name: string, endOfDay: boolean): number {
  const value = queryOf(ctx.req).get(name);
  if (!value) return 0;
  const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(dayOnly ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(ms) || ms < 0 || ms > LAST_DATE_MS) {
    throw gatewayError(`${name} must be a date from 1970-01-01 to 9999-12-31: ${value}`, Code.InvalidArgument, { type: "invalid_request_error", param: name });
  }
  return dayOnly && endOfDay ? ms + DAY_MS - 1 : ms;
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
    // As LiteLLM's spend logs attribute fallbacks. Rows booked before the name asked for was kept have
    // none, and their model_group was that name.
    metadata: {
      original_model_group: e.originalModelGroup || e.modelGroup,
      attempted_fallbacks: e.attemptedFallbacks,
      // The tokens as LiteLLM's spend logs keep them, prompt-cache reads and writes included.
      usage_object: {
        prompt_tokens: e.promptTokens,
        completion_tokens: e.completionTokens,
        total_tokens: e.totalTokens,
        prompt_tokens_details: { cached_tokens: e.cacheReadInputTokens },
        cache_read_input_tokens: e.cacheReadInputTokens,
        cache_creation_input_tokens: e.cacheCreationInputTokens,
      },
      // What the client asked to keep with the row (LiteLLM's spend_logs_metadata); null when nothing.
      spend_logs_metadata: e.spendLogsMetadata === "" ? null : (JSON.parse(e.spendLogsMetadata) as unknown),
    },
    custom_llm_provider: e.provider,
    user: e.userId,
    team_id: e.teamId || null,
    // The customer the request was made for; LiteLLM's end_user.
    end_user: e.endUser,
    // The session the client grouped it in (litellm_session_id, x-claude-code-session-id); '' when none.
    session_id: e.sessionId,
    // Answered from the response cache, as LiteLLM's string; the cache's key, '' when not looked at.
    cache_hit: e.cacheHit ? "True" : "False",
    cache_key: e.cacheKey,
    // The request's tags, as LiteLLM's spend logs list them; [] when none.
    request_tags: e.requestTags,
    status: e.status === UsageStatus.SUCCESS ? "success" : "failure",
    error_type: e.errorType || null,
    latency_ms: e.latencyMs,
    stream: e.stream,
    usage_estimated: e.usageEstimated,
    // Kept only with general_settings.store_prompts_in_spend_logs; {} otherwise, as LiteLLM shows them.
    messages: storedJson(e.messages),
    response: storedJson(e.response),
  };
}

function storedJson(text: string): unknown {
  if (text === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    // Cut to the spend log's limit, so no longer JSON.
    return text;
  }
}

/**
 * Which page of the logs: LiteLLM's page and page_size (page from 1), or
 * limit and offset; 0 leaves the limit to the accounting service.
 */
function pageOf(ctx: RequestContext): { limit: number; offset: number } {
  const q = queryOf(ctx.req);
  if (q.has("page") || q.has("page_size")) {
    const pageSize = intParam(ctx, "page_size", 50, MAX_PAGE_SIZE) || 50;
    const page = intParam(ctx, "page", 1, MAX_PAGE, 1);
    return { limit: pageSize, offset: (page - 1) * pageSize };
  }
  return { limit: intParam(ctx, "limit", 0, MAX_PAGE_SIZE), offset: intParam(ctx, "offset", 0, MAX_OFFSET) };
}

// FastAPI's false for a boolean query parameter.
const FALSE = /^(false|0|no|off|f|n)$/i;

/**
 * GET /spend/logs: ledger rows, newest first, a page at a time; given both
 * start_date and end_date, per-day totals as LiteLLM answers them, unless
 * summarize=false. Admins and proxy_admin_viewers read every row; an
 * internal user's key (internal_user, internal_user_viewer) only its user's,
 * whatever the filters.
 */
export async function spendLogs(ctx: RequestContext): Promise<void> {
  const { accounting } = ctx.options.peers;
  const q = queryOf(ctx.req);
  const ownUser = await spendReader(ctx);
  // LiteLLM's api_key filter takes the key itself or its hash.
  const apiKey = q.get("api_key") ?? "";
  const filters = {
    keyHash: /^[0-9a-f]{64}$/.test(apiKey) ? apiKey : apiKey ? hashKey(apiKey) : "",
    requestId: q.get("request_id") ?? "",
    userId: ownUser ?? q.get("user_id") ?? "",
    sessionId: q.get("session_id") ?? "",
    startMs: BigInt(dateParam(ctx, "start_date", false)),
    endMs: BigInt(dateParam(ctx, "end_date", true)),
  };
  if (filters.startMs !== 0n && filters.endMs !== 0n && !FALSE.test(q.get("summarize") ?? "")) {
    const { rows } = await accounting.summarizeSpendLogs(filters, asMasterKey(ctx));
    // Empty days after the last one with spend run to end_date, as LiteLLM's do, but not past today.
    sendJson(ctx.res, 200, spendLogSummary(rows, Math.min(Number(filters.endMs), Date.now())));
    return;
  }
  const { logs } = await accounting.listSpendLogs({ ...filters, ...pageOf(ctx) }, asMasterKey(ctx));
  sendJson(ctx.res, 200, logs.map(spendLogRow));
}

/**
 * GET /spend/tags (admins and proxy_admin_viewers): spend and requests per request tag, highest
 * spend first, from the spend logs (optionally between start_date and
 * end_date), in LiteLLM's shape.
 */
export async function spendTags(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const range = { startMs: BigInt(dateParam(ctx, "start_date", false)), endMs: BigInt(dateParam(ctx, "end_date", true)) };
  const { tags } = await ctx.options.peers.accounting.tagSpend(range, asMasterKey(ctx));
  sendJson(
    ctx.res,
    200,
    tags.map((t) => ({ individual_request_tag: t.tag, log_count: Number(t.requests), total_spend: t.spend })),
  );
}
