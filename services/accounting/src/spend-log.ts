import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
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

export function toSpendLogRow(event: UsageEvent): SpendLogRow {
  const { startTime } = event;
  if (event.requestId === "" || startTime === undefined) throw new RangeError(unrecordable(event));
  return {
    requestId: event.requestId,
    keyHash: event.keyHash,
    keyAlias: event.keyAlias,
    userId: event.userId,
    teamId: event.teamId,
    modelGroup: event.modelGroup,
    deploymentId: event.deploymentId,
    provider: event.provider,
    model: event.providerModel,
    promptTokens: event.promptTokens,
    completionTokens: event.completionTokens,
    totalTokens: event.totalTokens,
    spend: event.cost,
    startTime: timestampDate(startTime),
    endTime: event.endTime ? timestampDate(event.endTime) : null,
    latencyMs: event.latencyMs,
    // The router always says; an event that does not claim success is not booked as one.
    status: event.status === UsageStatus.SUCCESS ? "success" : "failure",
    errorType: event.errorType,
    httpStatus: event.httpStatus,
    stream: event.stream,
    usageEstimated: event.usageEstimated,
    callType: event.callType,
  };
}

export function toUsageEvent(row: SpendLogRow): UsageEvent {
  return create(UsageEventSchema, {
    requestId: row.requestId,
    keyHash: row.keyHash,
    keyAlias: row.keyAlias,
    userId: row.userId,
    teamId: row.teamId,
    modelGroup: row.modelGroup,
    deploymentId: row.deploymentId,
    provider: row.provider,
    providerModel: row.model,
    promptTokens: row.promptTokens,
    completionTokens: row.completionTokens,
    totalTokens: row.totalTokens,
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
  });
}
