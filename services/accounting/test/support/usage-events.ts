import { randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UsageEventSchema, UsageStatus, type UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";

/** A usage event with every field set to a non-default value, so a dropped column shows. */
export function usageEvent(init: MessageInitShape<typeof UsageEventSchema> = {}): UsageEvent {
  return create(UsageEventSchema, {
    requestId: `chatcmpl-${randomUUID()}`,
    keyHash: "4f1c".padEnd(64, "0"),
    keyAlias: "ci-bot",
    userId: "user-1",
    teamId: "team-1",
    endUser: "customer-1",
    sessionId: "session-1",
    spendLogsMetadata: JSON.stringify({ project: "homelab" }),
    // Set so the round trips cover them; a real cache hit would also cost 0.
    cacheHit: true,
    cacheKey: "cache-key-1",
    requestTags: ["team:search", "env:prod"],
    modelGroup: "smart-model",
    // A fallback answered: the client asked for another group.
    originalModelGroup: "fast-model",
    attemptedFallbacks: 1,
    deploymentId: "deployment-a",
    provider: "openai",
    providerModel: "gpt-4o-mini",
    promptTokens: 12,
    completionTokens: 34,
    totalTokens: 46,
    // Of the 12 prompt tokens.
    cacheReadInputTokens: 5,
    cacheCreationInputTokens: 3,
    cost: 0.000123,
    startTime: timestampFromMs(1_760_000_000_123),
    endTime: timestampFromMs(1_760_000_001_456),
    latencyMs: 1333.5,
    status: UsageStatus.FAILURE,
    errorType: "rate_limit_error",
    httpStatus: 429,
    stream: true,
    usageEstimated: true,
    callType: "acompletion",
    ...init,
  });
}
