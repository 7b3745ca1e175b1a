import { costOf, estimateTokens, tokensForChars, tokensOnWire } from "@gateway/common";
import type { CompleteResponse } from "@gateway/proto/router/v1/router_pb.js";
import type { Deployment } from "./config/deployment.js";
import type { ChatChunk, Usage } from "./providers/provider.js";

/**
 * One event of a call's answer, as a whole message: in one process it
 * reaches the edge as it is, with no copy made through protobuf's create().
 */
export type CallEvent = CompleteResponse;

/** What the request turned out to be, for its usage event; filled as it runs. */
export interface Outcome {
  deployment: Deployment | undefined;
  usage: Usage | undefined;
  usageEstimated: boolean;
  /** Fallback groups tried after the requested one, up to the deployment called last. */
  attemptedFallbacks: number;
  /**
   * The error code of an answer that reports its own failure inside a
   * successful HTTP answer (a Responses API `response.failed`): the call is
   * booked as failed, its usage still counted.
   */
  failure: string | undefined;
  /** Milliseconds the failed attempts so far spent calling providers (Started.provider_ms adds the answering one's). */
  providerMs?: number;
  /** The usage event's call_type, for calls that are not a call type's handler's (pass-through endpoints, the Files and Batch APIs). */
  callName?: string;
  /** Milliseconds the answering provider call took, to its answer's end (a stream's last chunk). */
  apiMs?: number;
  /** Milliseconds from the answering provider call's start to its stream's first chunk; streams only. */
  firstTokenMs?: number;
  /** The answering provider's rate-limit headers (x-ratelimit-*), when it sent some. */
  rateLimits?: Record<string, string>;
  /** Set once the call falls back to another model group. */
  fallbacks?: Fallbacks;
  /** The finished batches this call claimed to book (the Batch API's calls): confirmed once its usage event is written. */
  claimedBatches?: string[];
}

/** Why a call fell back from its model group, and the fallback groups that failed too, in order. */
export interface Fallbacks {
  /** The first group's failure: its status and the error type the client would have seen. */
  cause: { status: number; type: string };
  failed: string[];
}

export function costFor(d: Deployment, usage: Usage): number {
  return costOf(d.price, usage);
}

/** A local estimate of a call's usage from its prompt and the number of characters it produced. */
export function estimatedUsage(promptText: string, completionChars: number): Usage {
  return { promptTokens: estimateTokens(promptText), completionTokens: tokensForChars(completionChars), cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
}

export function json(value: unknown): Uint8Array {
  // Buffer.from is a few times faster than TextEncoder here.
  return Buffer.from(JSON.stringify(value));
}

function event(e: CompleteResponse["event"]): CallEvent {
  return { $typeName: "gateway.router.v1.CompleteResponse", event: e };
}

// Started's provider headers until routing sets the answer's own: one object for every call, never written to.
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export function started(d: Deployment): CallEvent {
  return event({
    case: "started",
    value: {
      $typeName: "gateway.router.v1.Started",
      modelGroup: d.modelGroup,
      deploymentId: d.id,
      providerModel: d.providerModel,
      attemptedRetries: 0,
      attemptedFallbacks: 0,
      providerHeaders: NO_HEADERS,
      cacheKey: "",
      providerMs: 0,
    },
  });
}

/** The whole answer: a JSON value, or the provider's own bytes of it. */
export function response(value: unknown): CallEvent {
  return event({ case: "response", value: value instanceof Uint8Array ? value : json(value) });
}

/** A stream chunk: the provider's own text of it when there is one. */
export function chunk({ json: value, data }: ChatChunk): CallEvent {
  return event({ case: "chunk", value: data === undefined ? json(value) : Buffer.from(data) });
}

/** An answer that is not JSON, or a part of one (a pass-through target's, whose first part carries its status). */
export function media(contentType: string, data: Uint8Array, status = 0): CallEvent {
  return event({ case: "media", value: { $typeName: "gateway.router.v1.Media", contentType, data, status } });
}

export function namedChunk(name: string, data: Uint8Array): CallEvent {
  return event({ case: "namedChunk", value: { $typeName: "gateway.router.v1.NamedChunk", name, data } });
}

/** The closing event, with the usage that is now final. */
export function finished(outcome: Outcome, d: Deployment, usage: Usage): CallEvent {
  outcome.usage = usage;
  return event({
    case: "finished",
    value: { $typeName: "gateway.router.v1.Finished", promptTokens: tokensOnWire(usage.promptTokens), completionTokens: tokensOnWire(usage.completionTokens), cost: costFor(d, usage) },
  });
}
