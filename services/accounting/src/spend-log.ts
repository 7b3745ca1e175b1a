import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import { UsageEventSchema, UsageStatus, type UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";
import type { SpendLogRow } from "./db/schema.js";

/** Why an event cannot become a ledger row, or undefined when it can. */
export function unrecordable(event: UsageEvent): string | undefined {
  // Without a request id the row could not be deduplicated, and without a
  // start time it would fall outside every spend query.
  if (event.requestId === "") return "usage event has no request id";
  if (event.startTime === undefined) return "usage event has no start time";
  return undefined;
}

/** One event as the ledger's insert statement reads it (ledger.ts lists its columns in order). */
export interface LedgerRecord {
  request_id: string;
  key_hash: string;
  key_alias: string;
  user_id: string;
  team_id: string;
  end_user: string;
  session_id: string;
  spend_logs_metadata: Record<string, unknown>;
  cache_hit: boolean;
  cache_key: string;
  request_tags: string[];
  model_group: string;
  original_model_group: string;
  attempted_fallbacks: number;
  deployment_id: string;
  provider: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  spend: number;
  /** Unix milliseconds: a number to sort by and send, where an ISO string would be written out and parsed again. */
  start_time: number;
  end_time: number | null;
  latency_ms: number;
  status: "success" | "failure";
  error_type: string;
  http_status: number;
  stream: boolean;
  usage_estimated: boolean;
  call_type: string;
  /** Null when prompts are not stored, or the event carries none. */
  messages: string | null;
  response: string | null;
}

const NO_METADATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** An event's spend_logs_metadata as the object the row keeps; {} for none, and for text that is not a JSON object (the edge sends only objects). */
function metadataObject(text: string): Record<string, unknown> {
  if (text === "") return NO_METADATA;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : NO_METADATA;
  } catch {
    return NO_METADATA;
  }
}

export function toLedgerRecord(event: UsageEvent, storePrompts: boolean): LedgerRecord {
  const { startTime } = event;
  if (event.requestId === "" || startTime === undefined) throw new RangeError(unrecordable(event));
  const payload = storePrompts && (event.messages !== "" || event.response !== "");
  return {
    request_id: event.requestId,
    key_hash: event.keyHash,
    key_alias: event.keyAlias,
    user_id: event.userId,
    team_id: event.teamId,
    end_user: event.endUser,
    session_id: event.sessionId,
    spend_logs_metadata: metadataObject(event.spendLogsMetadata),
    cache_hit: event.cacheHit,
    cache_key: event.cacheKey,
    request_tags: event.requestTags,
    model_group: event.modelGroup,
    original_model_group: event.originalModelGroup,
    attempted_fallbacks: event.attemptedFallbacks,
    deployment_id: event.deploymentId,
    provider: event.provider,
    model: event.providerModel,
    prompt_tokens: event.promptTokens,
    completion_tokens: event.completionTokens,
    total_tokens: event.totalTokens,
    cache_read_input_tokens: event.cacheReadInputTokens,
    cache_creation_input_tokens: event.cacheCreationInputTokens,
    spend: event.cost,
    start_time: timestampMs(startTime),
    end_time: event.endTime ? timestampMs(event.endTime) : null,
    latency_ms: event.latencyMs,
    // The router always says; an event that does not claim success is not booked as one.
    status: event.status === UsageStatus.SUCCESS ? "success" : "failure",
    error_type: event.errorType,
    http_status: event.httpStatus,
    stream: event.stream,
    usage_estimated: event.usageEstimated,
    call_type: event.callType,
    messages: payload ? event.messages : null,
    response: payload ? event.response : null,
  };
}

/** A ledger row (and its stored prompt and response, when kept) as the usage event it was booked from. */
export function toUsageEvent(row: SpendLogRow, payload?: { messages: string; response: string }): UsageEvent {
  return create(UsageEventSchema, {
    requestId: row.requestId,
    keyHash: row.keyHash,
    keyAlias: row.keyAlias,
    userId: row.userId,
    teamId: row.teamId,
    endUser: row.endUser,
    sessionId: row.sessionId,
    spendLogsMetadata: Object.keys(row.spendLogsMetadata).length > 0 ? JSON.stringify(row.spendLogsMetadata) : "",
    cacheHit: row.cacheHit,
    cacheKey: row.cacheKey,
    requestTags: row.requestTags,
    modelGroup: row.modelGroup,
    originalModelGroup: row.originalModelGroup,
    attemptedFallbacks: row.attemptedFallbacks,
    deploymentId: row.deploymentId,
    provider: row.provider,
    providerModel: row.model,
    promptTokens: row.promptTokens,
    completionTokens: row.completionTokens,
    totalTokens: row.totalTokens,
    cacheReadInputTokens: row.cacheReadInputTokens,
    cacheCreationInputTokens: row.cacheCreationInputTokens,
    cost: row.spend,
    startTime: timestampFromDate(row.startTime),
    ...(row.endTime ? { endTime: timestampFromDate(row.endTime) } : {}),
    latencyMs: row.latencyMs,
    status: row.status === "success" ? UsageStatus.SUCCESS : UsageStatus.FAILURE,
    errorType: row.errorType,
    httpStatus: row.httpStatus,
    stream: row.stream,
    usageEstimated: row.usageEstimated,
    callType: row.callType,
    ...payload,
  });
}
