import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { callModel, type ModelApi } from "../model-call.js";

const RERANK: ModelApi = {
  callType: CallType.RERANK,
  // Scores come in one piece and generate no tokens.
  streams: () => false,
  maxTokens: () => 0,
  streamError: () => "",
  endStream: (res) => res.end(),
  providerHeaders: () => ({}),
};

/** POST /rerank (also /v1/rerank, /v2/rerank, as LiteLLM answers them): authorize, let the router run it, write the scores. */
export function rerank(ctx: RequestContext): Promise<void> {
  return callModel(ctx, RERANK);
}
